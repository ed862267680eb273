"""Translation between the Lead aggregate and the protobuf contract."""

from __future__ import annotations

from salesplane.leads.v1 import events_pb2, leads_pb2
from salesplane_leads.adapters.contract_mapping import (
    date_from_proto,
    date_to_proto,
    enum_from_proto,
    enum_mapping,
    inverted,
    money_input,
    money_to_proto,
)
from salesplane_leads.domain.duplicates import DuplicateCandidate, DuplicatePolicy, DuplicateReason
from salesplane_leads.domain.lead import ChangeKind, Lead, LeadChanged
from salesplane_leads.domain.lead_fields import Address, LeadFields
from salesplane_leads.domain.lead_status import LeadStatus
from salesplane_leads.domain.qualification import Authority, Need, Qualification, QualificationInput
from salesplane_platform.errors import Validator

STATUS_TO_PROTO = enum_mapping(LeadStatus, leads_pb2.LeadStatus, "LEAD_STATUS_")
STATUS_FROM_PROTO = inverted(STATUS_TO_PROTO)
AUTHORITY_TO_PROTO = enum_mapping(Authority, leads_pb2.Authority, "AUTHORITY_", UNKNOWN="UNSPECIFIED")
AUTHORITY_FROM_PROTO = inverted(AUTHORITY_TO_PROTO)
NEED_TO_PROTO = enum_mapping(Need, leads_pb2.Need, "NEED_", UNKNOWN="UNSPECIFIED")
NEED_FROM_PROTO = inverted(NEED_TO_PROTO)
KIND_TO_PROTO = enum_mapping(ChangeKind, events_pb2.LeadChangeKind, "LEAD_CHANGE_KIND_")
REASON_TO_PROTO = enum_mapping(DuplicateReason, leads_pb2.DuplicateReason, "DUPLICATE_REASON_")
POLICY_FROM_PROTO = {
    **inverted(enum_mapping(DuplicatePolicy, leads_pb2.DuplicatePolicy, "DUPLICATE_POLICY_")),
    leads_pb2.DUPLICATE_POLICY_UNSPECIFIED: DuplicatePolicy.REJECT,
}


def lead_to_proto(lead: Lead) -> leads_pb2.Lead:
    fields = lead.fields
    address = fields.address
    message = leads_pb2.Lead(
        id=lead.id,
        first_name=fields.first_name,
        last_name=fields.last_name,
        company=fields.company,
        email=fields.email,
        phone=fields.phone,
        status=STATUS_TO_PROTO[lead.status],
        assigned_user_id=lead.assigned_user_id,
        lead_source_id=fields.lead_source_id,
        version=lead.version,
        title=fields.title,
        website=fields.website,
        address=leads_pb2.Address(
            street=address.street,
            city=address.city,
            region=address.region,
            postal_code=address.postal_code,
            country_code=address.country_code,
        ),
        description=fields.description,
        campaign_id=fields.campaign_id,
        normalised_phone=lead.normalised_phone,
        score=lead.score.value,
        score_breakdown=[
            leads_pb2.ScoreComponent(
                rule_id=c.rule_id, description=c.description, points=c.points, matched=c.matched
            )
            for c in lead.score.breakdown
        ],
        status_reason=lead.status_reason,
        converted_opportunity_id=lead.converted_opportunity_id,
        merged_into_lead_id=lead.merged_into_lead_id,
        qualified=lead.qualified,
    )
    message.create_time.FromDatetime(lead.created_at)
    message.update_time.FromDatetime(lead.updated_at)
    if lead.qualification is not None:
        message.qualification.CopyFrom(qualification_to_proto(lead.qualification))
    if lead.converted_at is not None:
        message.convert_time.FromDatetime(lead.converted_at)
    return message


def qualification_to_proto(qualification: Qualification) -> leads_pb2.Qualification:
    message = leads_pb2.Qualification(
        authority=AUTHORITY_TO_PROTO[qualification.authority],
        need=NEED_TO_PROTO[qualification.need],
        notes=qualification.notes,
    )
    if qualification.budget is not None:
        message.budget.CopyFrom(money_to_proto(qualification.budget))
    if qualification.timeline is not None:
        message.timeline.CopyFrom(date_to_proto(qualification.timeline))
    return message


def fields_from_proto(message: leads_pb2.LeadFields) -> LeadFields:
    address = message.address
    return LeadFields(
        first_name=message.first_name,
        last_name=message.last_name,
        company=message.company,
        email=message.email,
        phone=message.phone,
        title=message.title,
        website=message.website,
        address=Address(
            street=address.street,
            city=address.city,
            region=address.region,
            postal_code=address.postal_code,
            country_code=address.country_code,
        ),
        description=message.description,
        lead_source_id=message.lead_source_id,
        campaign_id=message.campaign_id,
    )


def qualification_from_proto(check: Validator, message: leads_pb2.Qualification) -> QualificationInput:
    authority = enum_from_proto(check, "qualification.authority", AUTHORITY_FROM_PROTO, message.authority)
    need = enum_from_proto(check, "qualification.need", NEED_FROM_PROTO, message.need)
    return QualificationInput(
        budget=money_input(message.budget) if message.HasField("budget") else None,
        authority=authority or Authority.UNKNOWN,
        need=need or Need.UNKNOWN,
        timeline=date_from_proto(message.timeline) if message.HasField("timeline") else None,
        timeline_given=message.HasField("timeline"),
        notes=message.notes,
    )


def changed_event(event: LeadChanged) -> events_pb2.LeadChanged:
    message = events_pb2.LeadChanged(lead=lead_to_proto(event.lead), kind=KIND_TO_PROTO[event.kind])
    if event.previous_status is not None:
        message.previous_status = STATUS_TO_PROTO[event.previous_status]
    return message


def candidate_to_proto(candidate: DuplicateCandidate) -> leads_pb2.DuplicateCandidate:
    return leads_pb2.DuplicateCandidate(
        lead_id=candidate.lead.id,
        reasons=[REASON_TO_PROTO[reason] for reason in candidate.reasons],
        display_name=candidate.lead.display_name,
        company=candidate.lead.fields.company,
    )
