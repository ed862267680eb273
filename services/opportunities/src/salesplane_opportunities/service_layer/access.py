"""Authorisation checks the use cases share."""

from __future__ import annotations

from salesplane_opportunities.service_layer.unit_of_work import OpportunitiesUnitOfWork
from salesplane_platform.errors import PermissionDenied
from salesplane_platform.identity import Identity
from salesplane_platform.org_membership import ensure_active_member


def ensure_owner_is_active(uow: OpportunitiesUnitOfWork, owner_user_id: str, *, field: str) -> None:
    """Only an active user of the organisation owns deals (FAILED_PRECONDITION otherwise)."""
    ensure_active_member(owner_user_id, uow.member_active(owner_user_id), field=field)


def ensure_can_reach(uow: OpportunitiesUnitOfWork, caller: Identity, owner_user_id: str) -> None:
    if not uow.can_reach(caller, owner_user_id):
        raise PermissionDenied(f"{caller.subject} may not access opportunities owned by {owner_user_id}")
