"""Real records in every service before the malformed requests, and valid requests naming them.

The fuzzer starts each request from a valid one (rpc_fuzz.Pools templates) and breaks it, so its
flaws reach the validation and the stored data behind it instead of stopping at "no such id".
Everything here is created through the services' own APIs, as an administrator.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc
from google.protobuf import struct_pb2
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import create_engine, text

from salesplane.audit.v1 import audit_pb2
from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.forecasting.v1 import (
    forecasting_pb2,
    inspection_pb2,
    org_pb2,
    org_pb2_grpc,
    quotas_pb2,
    settings_pb2,
    settings_pb2_grpc,
    worksheets_pb2,
)
from salesplane.leads.v1 import leads_pb2, leads_pb2_grpc
from salesplane.operations.v1 import dead_letters_pb2
from salesplane.opportunities.v1 import opportunities_pb2, opportunities_pb2_grpc
from salesplane.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from salesplane_testing.organisation import TEST_USERS, seed_members
from salesplane_testing.rpc_fuzz import Pools

Metadata = list[tuple[str, str]]
Bearer = Callable[..., Metadata]
# forecasting's organisation: vp <- mgr <- (rep-a, rep-b); every service's replica has them too.
ORG = {"vp": "", "mgr": "vp", "rep-a": "mgr", "rep-b": "mgr"}
USERS = [*ORG, "bob", "mia", "carol"]
QUARTER = "2026-Q4"
STAGES = ["Prospecting", "Qualification", "Negotiation/Review", "Closed Won", "Closed Lost", "Nope"]


def replicate_organisation(service: str, database_url: str) -> None:
    """The organisation in a service's replica, as forecasting's UserChanged events would put it
    (no broker runs here: the fuzzed services run their APIs only)."""
    users = [*TEST_USERS, *ORG]
    if service in ("leads", "opportunities"):
        seed_members(database_url, users)
        return
    if service != "reporting":
        return
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            for user_id in users:
                connection.execute(
                    text(
                        "INSERT INTO org_users (user_id, display_name, manager_user_id, roles, active,"
                        " version, update_time, email) VALUES (:u, :u, :m, :r, TRUE, 0, now(), '')"
                    ),
                    {
                        "u": user_id,
                        "m": ORG.get(user_id) or None,
                        "r": "manager" if user_id in ("vp", "mgr") else "rep",
                    },
                )
    finally:
        engine.dispose()


def common_pools(ids: list[str]) -> Pools:
    return Pools(
        ids=ids,
        user_ids=USERS,
        by_field={
            "period_id": [QUARTER, "2026-11", "2026-Q1"],
            "sales_stage": STAGES,
            "currency_code": ["USD", "EUR"],
            "roles": ["rep", "manager", "admin"],
        },
    )


def shared_templates(pools: Pools) -> None:
    """The audit log and dead letters every service serves."""
    pools.add_template(audit_pb2.ListAuditEntriesRequest(page_size=5, subject_type="opportunity"))
    pools.add_template(
        audit_pb2.ListAuditEntriesRequest(
            before_time=Timestamp(seconds=1_900_000_000), before_entry_id=pools.ids[0] if pools.ids else "x"
        )
    )
    pools.add_template(dead_letters_pb2.ListDeadLettersRequest())
    pools.add_template(dead_letters_pb2.GetDeadLetterRequest())


def seed_opportunities(channel: grpc.Channel, bearer: Bearer) -> Pools:
    stub = opportunities_pb2_grpc.OpportunityServiceStub(channel)
    admin = bearer("root", "admin")
    pb = opportunities_pb2
    rate = pb.SetExchangeRateRequest(
        currency_code="EUR", rate="1.0850", effective_from=Date(year=2026, month=1, day=1)
    )
    stub.SetExchangeRate(rate, metadata=admin)
    create = pb.CreateOpportunityRequest(
        name="Acme",
        account_name="Acme Ltd",
        owner_user_id="rep-a",
        amount=Money(currency_code="EUR", amount_minor=5_000_00),
        expected_close_date=Date(year=2026, month=11, day=30),
        sales_stage="Prospecting",
    )
    deal = stub.CreateOpportunity(create, metadata=admin)
    other = stub.CreateOpportunity(
        pb.CreateOpportunityRequest(
            name="Globex",
            owner_user_id="rep-b",
            amount=Money(currency_code="USD", amount_minor=7_000_00),
            expected_close_date=Date(year=2027, month=1, day=15),
            sales_stage="Qualification",
        ),
        metadata=admin,
    )
    stages = stub.ListSalesStages(pb.ListSalesStagesRequest(), metadata=admin)
    pools = common_pools([deal.id, other.id])
    pools.by_field["rate"] = ["1.0850", "0.5", "2"]
    for template in [
        create,
        rate,
        pb.UpdateOpportunityRequest(
            opportunity=pb.Opportunity(id=deal.id, sales_stage="Qualification", next_step="Call"),
            update_mask=FieldMask(paths=["sales_stage", "next_step"]),
        ),
        pb.UpdateOpportunityRequest(
            opportunity=pb.Opportunity(id=other.id, amount=Money(currency_code="EUR", amount_minor=1)),
            update_mask=FieldMask(paths=["amount"]),
        ),
        pb.GetOpportunityRequest(opportunity_id=deal.id),
        pb.ListOpportunitiesRequest(page_size=1, owner_user_ids=["rep-a"], text="ac"),
        pb.CloseOpportunityRequest(opportunity_id=deal.id, outcome=pb.CLOSE_OUTCOME_LOST, reason="price"),
        pb.ReopenOpportunityRequest(opportunity_id=deal.id, sales_stage="Prospecting"),
        pb.ReassignOpportunityRequest(opportunity_id=other.id, new_owner_user_id="rep-a"),
        pb.GetStageHistoryRequest(opportunity_id=deal.id),
        pb.ReplaceSalesStagesRequest(sales_stages=stages.sales_stages, expected_revision=stages.revision),
        pb.ListExchangeRatesRequest(currency_code="EUR"),
        pb.DeleteOpportunityRequest(opportunity_id=other.id),
    ]:
        pools.add_template(template)
    shared_templates(pools)
    return pools


def seed_leads(channel: grpc.Channel, bearer: Bearer) -> Pools:
    stub = leads_pb2_grpc.LeadServiceStub(channel)
    admin = bearer("root", "admin")
    pb = leads_pb2
    source = stub.CreateLeadSource(
        pb.CreateLeadSourceRequest(name="Web", channel=pb.CHANNEL_WEB), metadata=admin
    )
    campaign_request = pb.CreateCampaignRequest(
        name="Spring",
        lead_source_id=source.id,
        budget=Money(currency_code="EUR", amount_minor=1_000_00),
        start_date=Date(year=2031, month=3, day=1),
        end_date=Date(year=2031, month=3, day=31),
    )
    campaign = stub.CreateCampaign(campaign_request, metadata=admin)
    fields = pb.LeadFields(first_name="Ada", last_name="Lovelace", company="Engines", email="ada@example.com")
    create = pb.CreateLeadRequest(lead=fields, assigned_user_id="rep-a")
    lead = stub.CreateLead(create, metadata=admin).lead
    other = stub.CreateLead(pb.CreateLeadRequest(lead=pb.LeadFields(last_name="Hopper")), metadata=admin).lead
    qualification = pb.Qualification(
        budget=Money(currency_code="USD", amount_minor=5_000_00),
        authority=pb.AUTHORITY_INFLUENCER,
        timeline=Date(year=2031, month=9, day=1),
    )
    pools = common_pools([lead.id, other.id, source.id, campaign.id])
    pools.by_field.update(
        {
            "csv_text": [
                "last_name,email\nTuring,alan@example.com\n",
                "first_name,last_name,campaign\nA,B,Spring\n",
            ],
            "name": ["Web", "Spring"],
            "country_code": ["GB", "PL"],
        }
    )
    for template in [
        create,
        fields,
        qualification,
        campaign_request,
        pb.UpdateLeadRequest(lead_id=lead.id, lead=fields, update_mask=FieldMask(paths=["company"])),
        pb.AssignLeadRequest(lead_id=other.id, assigned_user_id="rep-b"),
        pb.ChangeLeadStatusRequest(lead_id=lead.id, status=pb.LEAD_STATUS_IN_PROCESS),
        pb.QualifyLeadRequest(lead_id=lead.id, qualification=qualification),
        pb.ConvertLeadRequest(
            lead_id=lead.id,
            amount=Money(currency_code="USD", amount_minor=1),
            expected_close_date=Date(year=2031, month=1, day=1),
        ),
        pb.MergeLeadsRequest(primary_lead_id=lead.id, duplicate_lead_ids=[other.id]),
        pb.ImportLeadsRequest(csv_text="last_name,email\nTuring,alan@example.com\n", file_name="f.csv"),
        pb.RecordCampaignCostRequest(
            campaign_id=campaign.id,
            incurred_on=Date(year=2031, month=3, day=2),
            amount=Money(currency_code="EUR", amount_minor=100),
            request_id="c1",
        ),
        pb.UpdateCampaignRequest(campaign=campaign, update_mask=FieldMask(paths=["name"])),
        pb.ReplaceScoringRulesRequest(
            rules=stub.GetScoringRules(pb.GetScoringRulesRequest(), metadata=admin).rules
        ),
        pb.ListLeadsRequest(page_size=1),
        pb.RecordLeadTouchRequest(
            lead_id=lead.id,
            touch=pb.TouchInput(
                campaign_id=campaign.id,
                kind=pb.TOUCH_KIND_FORM,
                touch_time=Timestamp(seconds=1_700_000_000),
                touch_key="t1",
            ),
        ),
        pb.ListLeadTouchesRequest(lead_id=lead.id),
    ]:
        pools.add_template(template)
    shared_templates(pools)
    return pools


def seed_forecasting(channel: grpc.Channel, bearer: Bearer) -> Pools:
    admin = bearer("root", "admin")
    org = org_pb2_grpc.OrgServiceStub(channel)
    pools = common_pools([])
    for user_id, manager in ORG.items():
        request = org_pb2.UpsertUserRequest(
            user=org_pb2.User(
                user_id=user_id,
                display_name=user_id,
                roles=["manager"] if user_id in ("vp", "mgr") else ["rep"],
                manager_user_id=manager,
                active=True,
            )
        )
        org.UpsertUser(request, metadata=admin)
        pools.add_template(request)
    usd = Money(currency_code="USD", amount_minor=1_000_000)
    defaults = settings_pb2_grpc.ForecastSettingsServiceStub(channel).GetForecastSettings(
        settings_pb2.GetForecastSettingsRequest(), metadata=admin
    )
    allocations = [
        quotas_pb2.DraftAllocation(user_id="mgr", kind=quotas_pb2.QUOTA_KIND_ASSIGNED, amount=usd),
        quotas_pb2.DraftAllocation(user_id="vp", kind=quotas_pb2.QUOTA_KIND_DIRECT, amount=usd),
    ]
    for template in [
        forecasting_pb2.GetRollupRequest(user_id="rep-a", period_id=QUARTER),
        forecasting_pb2.GetProbabilisticForecastRequest(
            user_id="mgr", period_id=QUARTER, scope=forecasting_pb2.FORECAST_SCOPE_TEAM
        ),
        settings_pb2.UpdateForecastSettingsRequest(settings=defaults),
        quotas_pb2.SetQuotaRequest(user_id="vp", period_id=QUARTER, amount=usd),
        quotas_pb2.SaveQuotaDraftRequest(manager_user_id="vp", period_id=QUARTER, allocations=allocations),
        quotas_pb2.CommitQuotaPlanRequest(manager_user_id="vp", period_id=QUARTER),
        quotas_pb2.GetQuotaPlanRequest(manager_user_id="mgr", period_id=QUARTER),
        worksheets_pb2.GetWorksheetRequest(user_id="mgr", period_id=QUARTER),
        worksheets_pb2.CommitForecastRequest(
            user_id="rep-a", period_id=QUARTER, kind=worksheets_pb2.SNAPSHOT_KIND_REP, note="call"
        ),
        worksheets_pb2.SaveWorksheetDraftRequest(
            user_id="mgr", period_id=QUARTER, kind=worksheets_pb2.SNAPSHOT_KIND_MANAGER
        ),
        worksheets_pb2.AdjustManagerRowRequest(
            manager_user_id="mgr", period_id=QUARTER, user_id="rep-a", likely_minor=500_000
        ),
        inspection_pb2.InspectTeamRequest(manager_user_id="mgr", period_id=QUARTER),
        inspection_pb2.InspectRepRequest(user_id="rep-a", period_id=QUARTER),
    ]:
        pools.add_template(template)
    shared_templates(pools)
    return pools


def seed_reporting(channel: grpc.Channel, bearer: Bearer) -> Pools:
    stub = reporting_pb2_grpc.ReportingServiceStub(channel)
    admin = bearer("root", "admin")
    pb = reporting_pb2
    definition = struct_pb2.Struct()
    definition.update(
        {
            "source": "opportunities",
            "dimensions": [{"field": "owner"}],
            "measures": [
                {"name": "deals", "aggregate": "count"},
                {"name": "amount", "aggregate": "sum", "field": "amount_base"},
            ],
            "filters": {"field": "status", "op": "eq", "values": ["open"]},
        }
    )
    save = pb.SaveReportRequest(title="Deals per owner", sharing="everyone", definition=definition)
    saved = stub.CreateReport(save, metadata=admin)
    builtin = [
        report.id
        for report in stub.ListReports(pb.ListReportsRequest(), metadata=admin).reports
        if report.builtin
    ]
    schedule = pb.ReportSchedule(
        report_id=saved.id,
        frequency=pb.FREQUENCY_WEEKLY,
        time_of_day="08:15",
        time_zone="Europe/Warsaw",
        weekday=1,
        recipients=["ana@example.com"],
    )
    created = stub.CreateSchedule(pb.CreateScheduleRequest(schedule=schedule), metadata=admin)
    pools = common_pools([saved.id, created.schedule_id, *builtin[:3]])
    pools.by_field["report_id"] = [saved.id, *builtin]
    run = pb.RunReportRequest(report_id=builtin[0] if builtin else saved.id)
    for template in [
        save,
        pb.SaveReportRequest(
            report_id=saved.id, title="Renamed", definition=definition, expected_version=saved.version
        ),
        pb.GetReportRequest(report_id=saved.id),
        run,
        pb.RunReportRequest(definition=definition, viewpoint_user_id="mgr"),
        pb.RunReportRequest(
            report_id="pipeline_movement" if "pipeline_movement" in builtin else run.report_id,
            parameters={"from": "2026-10-01", "to": "2026-12-31", "window": QUARTER},
        ),
        pb.ExportReportRequest(run=run, format=pb.EXPORT_FORMAT_CSV),
        pb.CreateScheduleRequest(schedule=schedule),
        pb.ListSchedulesRequest(report_id=saved.id),
        pb.DeleteScheduleRequest(schedule_id=created.schedule_id),
        pb.ListReportRunsRequest(schedule_id=created.schedule_id, limit=5),
        pb.DeleteReportRequest(report_id=saved.id),
    ]:
        pools.add_template(template)
    shared_templates(pools)
    return pools


SEEDERS: dict[str, Callable[[grpc.Channel, Bearer], Pools]] = {
    "leads": seed_leads,
    "opportunities": seed_opportunities,
    "forecasting": seed_forecasting,
    "reporting": seed_reporting,
}
