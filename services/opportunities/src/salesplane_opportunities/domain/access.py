"""Rules on who may administer the opportunities configuration.

Who reaches which deals (their own, their subtree's, everybody's) depends on the replicated
reporting lines and is decided by the unit of work; see service_layer.access."""

from __future__ import annotations

from salesplane_platform.errors import PermissionDenied
from salesplane_platform.identity import Identity


def ensure_admin(caller: Identity, action: str) -> None:
    if not caller.is_admin:
        raise PermissionDenied(f"only admins may {action}; {caller.subject} is not one")
