"""gRPC entry point: protobuf in, use case, protobuf out. Domain errors are mapped to statuses by the
shared interceptor; the one status it cannot express (UNAVAILABLE, when the opportunities service
does not answer) is set here."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from salesplane.leads.v1 import leads_pb2, leads_pb2_grpc
from salesplane_leads.adapters.contract_mapping import date_from_proto, enum_from_proto, money_input
from salesplane_leads.adapters.lead_mapping import (
    POLICY_FROM_PROTO,
    STATUS_FROM_PROTO,
    candidate_to_proto,
    fields_from_proto,
    lead_to_proto,
    qualification_from_proto,
)
from salesplane_leads.adapters.marketing_mapping import (
    campaign_to_proto,
    channel_from_proto,
    lead_source_to_proto,
    plan_from_create,
    plan_from_update,
    rule_inputs_from_proto,
    scoring_rules_to_proto,
)
from salesplane_leads.adapters.touch_mapping import (
    touch_history_to_proto,
    touch_input_from_proto,
    touch_inputs_from_proto,
    touch_to_proto,
)
from salesplane_leads.domain.conversion import ConversionRequest
from salesplane_leads.domain.duplicates import DuplicatePolicy
from salesplane_leads.domain.lead_fields import ADDRESS_PATHS, EDITABLE_PATHS
from salesplane_leads.domain.lead_status import LeadStatus
from salesplane_leads.service_layer import conversion, imports, leads, marketing, open_leads, scoring, touches
from salesplane_leads.service_layer.conversion import OpportunityService
from salesplane_leads.service_layer.imports import RowOutcome
from salesplane_leads.service_layer.request_checks import expected
from salesplane_leads.service_layer.unit_of_work import LeadFilter, LeadsUnitOfWork
from salesplane_platform.errors import FieldViolation, InvalidArgument, Validator
from salesplane_platform.grpc_interceptor import current_caller
from salesplane_platform.service_principals import on_behalf_of

_CREATE_OUTCOMES = {
    leads.CreateOutcome.CREATED: leads_pb2.CREATE_LEAD_OUTCOME_CREATED,
    leads.CreateOutcome.DUPLICATES_FOUND: leads_pb2.CREATE_LEAD_OUTCOME_DUPLICATES_FOUND,
    leads.CreateOutcome.MERGED: leads_pb2.CREATE_LEAD_OUTCOME_MERGED,
}
_ROW_OUTCOMES = {
    RowOutcome.IMPORTED: leads_pb2.IMPORT_ROW_OUTCOME_IMPORTED,
    RowOutcome.INVALID: leads_pb2.IMPORT_ROW_OUTCOME_INVALID,
    RowOutcome.DUPLICATE: leads_pb2.IMPORT_ROW_OUTCOME_DUPLICATE,
    RowOutcome.ALREADY_IMPORTED: leads_pb2.IMPORT_ROW_OUTCOME_ALREADY_IMPORTED,
    RowOutcome.MERGED: leads_pb2.IMPORT_ROW_OUTCOME_MERGED,
}


class LeadServicer(leads_pb2_grpc.LeadServiceServicer):
    def __init__(
        self, unit_of_work: Callable[[], LeadsUnitOfWork], opportunities: OpportunityService
    ) -> None:
        self._uow = unit_of_work
        self._opportunities = opportunities

    # Leads

    def CreateLead(
        self, request: leads_pb2.CreateLeadRequest, context: grpc.ServicerContext
    ) -> leads_pb2.CreateLeadResponse:
        result = leads.create_lead(
            fields=fields_from_proto(request.lead),
            assigned_user_id=request.assigned_user_id,
            policy=_policy(request.on_duplicate),
            request_id=request.request_id,
            caller=current_caller(),
            uow=self._uow(),
            touches=touch_inputs_from_proto("touches", request.touches),
        )
        response = leads_pb2.CreateLeadResponse(
            outcome=_CREATE_OUTCOMES[result.outcome],
            duplicates=[candidate_to_proto(candidate) for candidate in result.duplicates],
        )
        if result.lead is not None:
            response.lead.CopyFrom(lead_to_proto(result.lead))
        return response

    def GetLead(self, request: leads_pb2.GetLeadRequest, context: grpc.ServicerContext) -> leads_pb2.Lead:
        return lead_to_proto(
            leads.get_lead(lead_id=request.lead_id, caller=current_caller(), uow=self._uow())
        )

    def UpdateLead(
        self, request: leads_pb2.UpdateLeadRequest, context: grpc.ServicerContext
    ) -> leads_pb2.Lead:
        lead = leads.update_lead(
            lead_id=request.lead_id,
            changes=changes_from_request(request),
            expected_version=expected(request.expected_version),
            caller=current_caller(),
            uow=self._uow(),
        )
        return lead_to_proto(lead)

    def ListLeads(
        self, request: leads_pb2.ListLeadsRequest, context: grpc.ServicerContext
    ) -> leads_pb2.ListLeadsResponse:
        page = leads.list_leads(
            lead_filter=filter_from_request(request),
            page_size=request.page_size,
            page_token=request.page_token,
            caller=current_caller(),
            uow=self._uow(),
        )
        return leads_pb2.ListLeadsResponse(
            leads=[lead_to_proto(lead) for lead in page.leads], next_page_token=page.next_page_token
        )

    def AssignLead(
        self, request: leads_pb2.AssignLeadRequest, context: grpc.ServicerContext
    ) -> leads_pb2.Lead:
        lead = leads.assign_lead(
            lead_id=request.lead_id,
            assigned_user_id=request.assigned_user_id,
            expected_version=expected(request.expected_version),
            caller=current_caller(),
            uow=self._uow(),
        )
        return lead_to_proto(lead)

    def ChangeLeadStatus(
        self, request: leads_pb2.ChangeLeadStatusRequest, context: grpc.ServicerContext
    ) -> leads_pb2.Lead:
        lead = leads.change_lead_status(
            lead_id=request.lead_id,
            status=STATUS_FROM_PROTO.get(request.status),
            reason=request.reason,
            expected_version=expected(request.expected_version),
            caller=current_caller(),
            uow=self._uow(),
        )
        return lead_to_proto(lead)

    def QualifyLead(
        self, request: leads_pb2.QualifyLeadRequest, context: grpc.ServicerContext
    ) -> leads_pb2.Lead:
        if not request.HasField("qualification"):
            raise InvalidArgument(FieldViolation("qualification", "must be set"))
        check = Validator()
        qualification = qualification_from_proto(check, request.qualification)
        check.raise_if_invalid()
        lead = leads.qualify_lead(
            lead_id=request.lead_id,
            qualification=qualification,
            expected_version=expected(request.expected_version),
            caller=current_caller(),
            uow=self._uow(),
        )
        return lead_to_proto(lead)

    def ConvertLead(
        self, request: leads_pb2.ConvertLeadRequest, context: grpc.ServicerContext
    ) -> leads_pb2.ConvertLeadResponse:
        conversion_request = ConversionRequest(
            opportunity_name=request.opportunity_name,
            owner_user_id=request.owner_user_id,
            amount=money_input(request.amount) if request.HasField("amount") else None,
            expected_close_date=(
                date_from_proto(request.expected_close_date)
                if request.HasField("expected_close_date")
                else None
            ),
            expected_close_date_given=request.HasField("expected_close_date"),
            sales_stage=request.sales_stage,
            next_step=request.next_step,
        )
        converted = conversion.convert_lead(
            lead_id=request.lead_id,
            request=conversion_request,
            caller=current_caller(),
            uow=self._uow(),
            opportunities=self._opportunities,
        )
        return leads_pb2.ConvertLeadResponse(
            lead=lead_to_proto(converted.lead), opportunity_id=converted.opportunity_id
        )

    def MergeLeads(
        self, request: leads_pb2.MergeLeadsRequest, context: grpc.ServicerContext
    ) -> leads_pb2.Lead:
        lead = leads.merge_leads(
            primary_lead_id=request.primary_lead_id,
            duplicate_lead_ids=list(request.duplicate_lead_ids),
            caller=current_caller(),
            uow=self._uow(),
        )
        return lead_to_proto(lead)

    def ImportLeads(
        self, request: leads_pb2.ImportLeadsRequest, context: grpc.ServicerContext
    ) -> leads_pb2.ImportLeadsResponse:
        report = imports.import_leads(
            csv_text=request.csv_text,
            first_line_number=request.first_line_number,
            policy=_policy(request.on_duplicate),
            file_name=request.file_name,
            caller=current_caller(),
            uow=self._uow(),
        )
        return leads_pb2.ImportLeadsResponse(
            imported=report.count(RowOutcome.IMPORTED),
            invalid=report.count(RowOutcome.INVALID),
            duplicates=report.count(RowOutcome.DUPLICATE),
            already_imported=report.count(RowOutcome.ALREADY_IMPORTED),
            merged=report.count(RowOutcome.MERGED),
            rows=[
                leads_pb2.ImportRowResult(
                    line_number=row.line_number,
                    outcome=_ROW_OUTCOMES[row.outcome],
                    lead_id=row.lead_id,
                    reasons=list(row.reasons),
                )
                for row in report.rows
            ],
        )

    # A user's open leads as a whole (a user leaving)

    def CountOpenLeads(
        self, request: leads_pb2.CountOpenLeadsRequest, context: grpc.ServicerContext
    ) -> leads_pb2.CountOpenLeadsResponse:
        count = open_leads.count_open_leads(user_id=request.user_id, caller=current_caller(), uow=self._uow())
        return leads_pb2.CountOpenLeadsResponse(open_leads=count)

    def ReassignOpenLeads(
        self, request: leads_pb2.ReassignOpenLeadsRequest, context: grpc.ServicerContext
    ) -> leads_pb2.ReassignOpenLeadsResponse:
        caller = current_caller()
        moved = open_leads.reassign_open_leads(
            from_user_id=request.from_user_id,
            to_user_id=request.to_user_id,
            caller=caller,
            acting_for=on_behalf_of(caller, context.invocation_metadata()),
            uow=self._uow(),
        )
        return leads_pb2.ReassignOpenLeadsResponse(reassigned=moved)

    # Touches

    def RecordLeadTouch(
        self, request: leads_pb2.RecordLeadTouchRequest, context: grpc.ServicerContext
    ) -> leads_pb2.RecordLeadTouchResponse:
        check = Validator()
        touch = touch_input_from_proto(check, "touch", request.touch)
        check.raise_if_invalid()
        recorded = touches.record_touch(
            lead_id=request.lead_id, touch=touch, caller=current_caller(), uow=self._uow()
        )
        return leads_pb2.RecordLeadTouchResponse(
            touch=touch_to_proto(recorded.touch), created=recorded.created
        )

    def ListLeadTouches(
        self, request: leads_pb2.ListLeadTouchesRequest, context: grpc.ServicerContext
    ) -> leads_pb2.ListLeadTouchesResponse:
        history = touches.list_touches(lead_id=request.lead_id, caller=current_caller(), uow=self._uow())
        return touch_history_to_proto(history)

    # Scoring rules

    def GetScoringRules(
        self, request: leads_pb2.GetScoringRulesRequest, context: grpc.ServicerContext
    ) -> leads_pb2.ScoringRules:
        current_caller()
        return scoring_rules_to_proto(scoring.get_scoring_rules(uow=self._uow()))

    def ReplaceScoringRules(
        self, request: leads_pb2.ReplaceScoringRulesRequest, context: grpc.ServicerContext
    ) -> leads_pb2.ScoringRules:
        rules = scoring.replace_scoring_rules(
            rules=rule_inputs_from_proto(request.rules),
            expected_revision=request.expected_revision,
            caller=current_caller(),
            uow=self._uow(),
        )
        return scoring_rules_to_proto(rules)

    # Lead sources and campaigns

    def CreateLeadSource(
        self, request: leads_pb2.CreateLeadSourceRequest, context: grpc.ServicerContext
    ) -> leads_pb2.LeadSource:
        check = Validator()
        channel = channel_from_proto(check, "channel", request.channel)
        check.raise_if_invalid()
        source = marketing.create_lead_source(
            name=request.name, channel=channel, caller=current_caller(), uow=self._uow()
        )
        return lead_source_to_proto(source)

    def ListLeadSources(
        self, request: leads_pb2.ListLeadSourcesRequest, context: grpc.ServicerContext
    ) -> leads_pb2.ListLeadSourcesResponse:
        current_caller()
        sources = marketing.list_lead_sources(uow=self._uow())
        return leads_pb2.ListLeadSourcesResponse(lead_sources=[lead_source_to_proto(s) for s in sources])

    def CreateCampaign(
        self, request: leads_pb2.CreateCampaignRequest, context: grpc.ServicerContext
    ) -> leads_pb2.Campaign:
        check = Validator()
        channel = channel_from_proto(check, "channel", request.channel)
        check.raise_if_invalid()
        campaign = marketing.create_campaign(
            plan=plan_from_create(request),
            lead_source_id=request.lead_source_id,
            channel=channel,
            caller=current_caller(),
            uow=self._uow(),
        )
        return campaign_to_proto(campaign)

    def UpdateCampaign(
        self, request: leads_pb2.UpdateCampaignRequest, context: grpc.ServicerContext
    ) -> leads_pb2.Campaign:
        campaign = marketing.update_campaign(
            campaign_id=request.campaign.id,
            plan=plan_from_update(request),
            expected_version=expected(request.expected_version),
            caller=current_caller(),
            uow=self._uow(),
        )
        return campaign_to_proto(campaign)

    def GetCampaign(
        self, request: leads_pb2.GetCampaignRequest, context: grpc.ServicerContext
    ) -> leads_pb2.Campaign:
        current_caller()
        return campaign_to_proto(marketing.get_campaign(campaign_id=request.campaign_id, uow=self._uow()))

    def ListCampaigns(
        self, request: leads_pb2.ListCampaignsRequest, context: grpc.ServicerContext
    ) -> leads_pb2.ListCampaignsResponse:
        current_caller()
        campaigns = marketing.list_campaigns(lead_source_id=request.lead_source_id, uow=self._uow())
        return leads_pb2.ListCampaignsResponse(campaigns=[campaign_to_proto(c) for c in campaigns])

    def RecordCampaignCost(
        self, request: leads_pb2.RecordCampaignCostRequest, context: grpc.ServicerContext
    ) -> leads_pb2.Campaign:
        campaign = marketing.record_campaign_cost(
            campaign_id=request.campaign_id,
            incurred_on=date_from_proto(request.incurred_on) if request.HasField("incurred_on") else None,
            amount=money_input(request.amount) if request.HasField("amount") else None,
            note=request.note,
            request_id=request.request_id,
            caller=current_caller(),
            uow=self._uow(),
        )
        return campaign_to_proto(campaign)


def _policy(number: leads_pb2.DuplicatePolicy.ValueType) -> DuplicatePolicy:
    check = Validator()
    policy = enum_from_proto(check, "on_duplicate", POLICY_FROM_PROTO, number)
    check.raise_if_invalid()
    assert policy is not None
    return policy


def changes_from_request(request: leads_pb2.UpdateLeadRequest) -> dict[str, str]:
    """{field path: new value} for the masked paths; "address" stands for each address field."""
    paths = list(request.update_mask.paths)
    if not paths:
        raise InvalidArgument(FieldViolation("update_mask", "must name at least one field to change"))
    if unknown := sorted(set(paths) - EDITABLE_PATHS):
        raise InvalidArgument(
            FieldViolation(
                "update_mask", f"unknown or read-only paths {unknown}; use {sorted(EDITABLE_PATHS)}"
            )
        )
    new = request.lead
    changes: dict[str, str] = {}
    for path in paths:
        for leaf in ADDRESS_PATHS if path == "address" else (path,):
            holder = new.address if leaf.startswith("address.") else new
            changes[leaf] = getattr(holder, leaf.removeprefix("address."))
    return changes


def filter_from_request(request: leads_pb2.ListLeadsRequest) -> LeadFilter:
    check = Validator()
    statuses: set[LeadStatus] = set()
    for number in request.statuses:
        status = STATUS_FROM_PROTO.get(number)
        if status is None:
            check.fail("statuses", f"unknown or unspecified status {number}")
        else:
            statuses.add(status)
    check.raise_if_invalid()
    return LeadFilter(
        statuses=frozenset(statuses),
        assigned_user_ids=frozenset(user_id.strip() for user_id in request.assigned_user_ids),
        lead_source_id=request.lead_source_id.strip(),
        campaign_id=request.campaign_id.strip(),
        text=request.text.strip(),
        min_score=request.min_score if request.HasField("min_score") else None,
    )
