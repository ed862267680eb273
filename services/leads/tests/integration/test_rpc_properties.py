"""Random and malformed requests to every leads RPC, on the embedded SQLite and on PostgreSQL (which
is stricter: value lengths, NUL characters): never a crash status, never a write by a call that
fails. The opportunities service is a stand-in that always answers, so a conversion either
completes or is refused before anything is stored."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.leads.v1 import leads_pb2, leads_pb2_grpc
from salesplane_leads.domain.conversion import OpportunityOrder
from salesplane_leads.entrypoints.main import make_definition
from salesplane_platform.identity import issue_token
from salesplane_platform.service_process import ServiceProcess
from salesplane_platform.settings import ServiceSettings
from salesplane_testing.organisation import seed_members
from salesplane_testing.rpc_fuzz import Pools, database_fingerprint, fuzz_every_rpc

USERS = ["mia", "bob", "carol"]


class AlwaysAnswering:
    def first_open_stage(self, *, on_behalf_of: str) -> str:
        return "Prospecting"

    def create_opportunity(self, order: OpportunityOrder, *, on_behalf_of: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, order.request_id))


pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def leads(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[ServiceProcess, grpc.Channel, ServiceSettings]]:
    # API only: no relay or consumer writing in the background while fingerprints are taken.
    environ = {
        "SALESPLANE_ENV": "development",
        "SALESPLANE_DATA_DIR": str(tmp_path),
        "SALESPLANE_ROLES": "api",
    }
    if request.param == "postgresql":
        environ["SALESPLANE_DATABASE_URL"] = request.getfixturevalue("postgres_database_url")
    settings = ServiceSettings.from_env("leads", default_grpc_port=0, default_metrics_port=0, environ=environ)
    process = ServiceProcess(make_definition(opportunities=lambda _: AlwaysAnswering()), settings)
    process.start()
    seed_members(settings.database_url)
    channel = grpc.insecure_channel(f"127.0.0.1:{process.grpc_port}")
    yield process, channel, settings
    channel.close()
    process.stop()


def test_no_rpc_crashes_or_half_writes(leads: Any) -> None:
    process, channel, settings = leads

    def token(subject: str, *roles: str) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {issue_token(settings.auth_secret, subject, list(roles))}")]

    stub = leads_pb2_grpc.LeadServiceStub(channel)
    admin = token("root", "admin")
    source = stub.CreateLeadSource(
        leads_pb2.CreateLeadSourceRequest(name="Web", channel=leads_pb2.CHANNEL_WEB), metadata=admin
    )
    campaign_request = leads_pb2.CreateCampaignRequest(
        name="Spring",
        lead_source_id=source.id,
        budget=Money(currency_code="EUR", amount_minor=1_000_00),
        start_date=Date(year=2031, month=3, day=1),
        end_date=Date(year=2031, month=3, day=31),
    )
    campaign = stub.CreateCampaign(campaign_request, metadata=admin)
    fields = leads_pb2.LeadFields(
        first_name="Ada", last_name="Lovelace", company="Engines", email="ada@example.com"
    )
    create = leads_pb2.CreateLeadRequest(lead=fields, assigned_user_id="bob")
    lead = stub.CreateLead(create, metadata=admin).lead
    other = stub.CreateLead(
        leads_pb2.CreateLeadRequest(lead=leads_pb2.LeadFields(last_name="Hopper")), metadata=admin
    ).lead
    qualification = leads_pb2.Qualification(
        budget=Money(currency_code="USD", amount_minor=5_000_00),
        authority=leads_pb2.AUTHORITY_INFLUENCER,
        timeline=Date(year=2031, month=9, day=1),
    )
    pools = Pools(
        ids=[lead.id, other.id, source.id, campaign.id],
        user_ids=USERS,
        by_field={
            "csv_text": [
                "last_name,email\nTuring,alan@example.com\n",
                "first_name,last_name,lead_source,campaign\nA,B,Web,Spring\n",
                "nope\n",
                'last_name\n"unterminated\n',
            ],
            "name": ["Web", "Spring", "Autumn"],
            "country_code": ["GB", "gb", "XX"],
            "website": ["example.com", "ftp://x"],
        },
    )
    for template in [
        create,
        fields,
        qualification,
        campaign_request,
        leads_pb2.UpdateLeadRequest(lead_id=lead.id, lead=fields, update_mask=FieldMask(paths=["company"])),
        leads_pb2.AssignLeadRequest(lead_id=other.id, assigned_user_id="carol"),
        leads_pb2.ChangeLeadStatusRequest(lead_id=lead.id, status=leads_pb2.LEAD_STATUS_IN_PROCESS),
        leads_pb2.QualifyLeadRequest(lead_id=lead.id, qualification=qualification),
        leads_pb2.ConvertLeadRequest(
            lead_id=lead.id,
            amount=Money(currency_code="USD", amount_minor=1),
            expected_close_date=Date(year=2031, month=1, day=1),
        ),
        leads_pb2.MergeLeadsRequest(primary_lead_id=lead.id, duplicate_lead_ids=[other.id]),
        leads_pb2.ImportLeadsRequest(
            csv_text="last_name,email\nTuring,alan@example.com\n", file_name="f.csv"
        ),
        leads_pb2.RecordCampaignCostRequest(
            campaign_id=campaign.id,
            incurred_on=Date(year=2031, month=3, day=2),
            amount=Money(currency_code="EUR", amount_minor=100),
            request_id="c1",
        ),
        leads_pb2.UpdateCampaignRequest(campaign=campaign, update_mask=FieldMask(paths=["name"])),
        leads_pb2.ReplaceScoringRulesRequest(
            rules=stub.GetScoringRules(leads_pb2.GetScoringRulesRequest(), metadata=admin).rules
        ),
        leads_pb2.ListLeadsRequest(page_size=1),
        leads_pb2.RecordLeadTouchRequest(
            lead_id=lead.id,
            touch=leads_pb2.TouchInput(
                campaign_id=campaign.id,
                kind=leads_pb2.TOUCH_KIND_FORM,
                touch_time=Timestamp(seconds=1_700_000_000),
                touch_key="t1",
            ),
        ),
        leads_pb2.ListLeadTouchesRequest(lead_id=lead.id),
    ]:
        pools.add_template(template)
    callers = [
        admin,
        admin,
        token("mo", "marketing"),
        token("mia", "manager"),
        token("bob", "rep"),
        token("b" * 300, "rep"),
        token("nobody"),
        [("authorization", "Bearer not-a-token")],
    ]

    stats = fuzz_every_rpc(
        channel,
        [leads_pb2.DESCRIPTOR.services_by_name["LeadService"]],
        pools=pools,
        callers=callers,
        fingerprint=lambda: database_fingerprint(process.context.engine),
        examples_per_rpc=20,
    )

    print(stats)
    # The fuzzer must get past validation sometimes, or it proves little.
    for rpc in (
        "CreateLead",
        "UpdateLead",
        "ImportLeads",
        "QualifyLead",
        "RecordCampaignCost",
        "ListLeads",
        "RecordLeadTouch",
    ):
        assert stats[f"LeadService.{rpc}"].get("OK", 0) > 0, (rpc, stats[f"LeadService.{rpc}"])
