"""Use cases of the leads service."""

from __future__ import annotations

from salesplane_leads.domain.access import ensure_can_create, ensure_can_read
from salesplane_leads.domain.lead import Lead, LeadDraft
from salesplane_leads.service_layer.unit_of_work import LeadsUnitOfWork
from salesplane_platform.errors import FieldViolation, InvalidArgument, NotFound
from salesplane_platform.identifiers import is_uuid
from salesplane_platform.identity import Identity


def create_lead(*, draft: LeadDraft, caller: Identity, uow: LeadsUnitOfWork) -> Lead:
    """Capture a new lead and publish it."""
    lead = Lead.create(draft, created_by=caller.subject)
    ensure_can_create(caller)
    with uow:
        uow.leads.add(lead)
        uow.publish_events(lead, actor=caller.subject)
        uow.commit()
    return lead


def get_lead(*, lead_id: str, caller: Identity, uow: LeadsUnitOfWork) -> Lead:
    """Read one lead the caller may see."""
    if not is_uuid(lead_id):
        raise InvalidArgument(FieldViolation("lead_id", "must be a UUID"))
    with uow:
        lead = uow.leads.get(lead_id)
    if lead is None:
        raise NotFound("lead", lead_id)
    ensure_can_read(caller, lead)
    return lead
