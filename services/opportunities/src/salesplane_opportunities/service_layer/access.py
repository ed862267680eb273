"""Authorisation checks the use cases share."""

from __future__ import annotations

from salesplane_opportunities.service_layer.unit_of_work import OpportunitiesUnitOfWork
from salesplane_platform.errors import PermissionDenied
from salesplane_platform.identity import Identity


def ensure_can_reach(uow: OpportunitiesUnitOfWork, caller: Identity, owner_user_id: str) -> None:
    if not uow.can_reach(caller, owner_user_id):
        raise PermissionDenied(f"{caller.subject} may not access opportunities owned by {owner_user_id}")
