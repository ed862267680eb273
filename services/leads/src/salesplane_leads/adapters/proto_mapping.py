"""Translation between the domain and the protobuf contract."""

from __future__ import annotations

from salesplane.leads.v1 import events_pb2, leads_pb2
from salesplane_leads.domain.lead import Lead, LeadDraft, LeadStatus

_STATUSES = {
    LeadStatus.NEW: leads_pb2.LEAD_STATUS_NEW,
    LeadStatus.ASSIGNED: leads_pb2.LEAD_STATUS_ASSIGNED,
}


def draft_from_request(request: leads_pb2.CreateLeadRequest) -> LeadDraft:
    return LeadDraft(
        first_name=request.first_name,
        last_name=request.last_name,
        company=request.company,
        email=request.email,
        phone=request.phone,
        assigned_user_id=request.assigned_user_id,
        lead_source=request.lead_source,
    )


def lead_to_proto(lead: Lead) -> leads_pb2.Lead:
    message = leads_pb2.Lead(
        id=lead.id,
        first_name=lead.first_name,
        last_name=lead.last_name,
        company=lead.company,
        email=lead.email,
        phone=lead.phone,
        status=_STATUSES[lead.status],
        assigned_user_id=lead.assigned_user_id,
        lead_source=lead.lead_source,
        version=lead.version,
    )
    message.create_time.FromDatetime(lead.created_at)
    message.update_time.FromDatetime(lead.updated_at)
    return message


def changed_event(lead: Lead) -> events_pb2.LeadChanged:
    return events_pb2.LeadChanged(lead=lead_to_proto(lead))
