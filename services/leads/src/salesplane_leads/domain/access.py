"""Who may create and read which leads."""

from __future__ import annotations

from salesplane_leads.domain.lead import Lead
from salesplane_platform.errors import PermissionDenied
from salesplane_platform.identity import ROLE_MANAGER, ROLE_MARKETING, ROLE_REP, Identity


def ensure_can_create(caller: Identity) -> None:
    """Any rep, manager, marketing user or admin may capture a lead."""
    if caller.has_any(ROLE_REP, ROLE_MANAGER, ROLE_MARKETING):
        return
    raise PermissionDenied(f"{caller.subject} may not create leads")


def ensure_can_read(caller: Identity, lead: Lead) -> None:
    """The assigned user and the creator see a lead; managers, marketing and admins see all."""
    if caller.subject in (lead.assigned_user_id, lead.created_by):
        return
    if caller.has_any(ROLE_MANAGER, ROLE_MARKETING):
        return
    raise PermissionDenied(f"{caller.subject} may not read lead {lead.id}")
