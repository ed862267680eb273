"""Rules on who may administer the opportunities configuration.

Who reaches which deals (their own, their subtree's, everybody's) depends on the replicated
reporting lines and is decided by the unit of work; see service_layer.access."""

from __future__ import annotations

from salesplane_platform.errors import PermissionDenied
from salesplane_platform.identity import Identity


def ensure_admin(caller: Identity, action: str) -> None:
    if not caller.is_admin:
        raise PermissionDenied(f"only admins may {action}; {caller.subject} is not one")


def ensure_admin_or_service(caller: Identity, action: str) -> None:
    """What only admins and the services allowed to (by the service's allow-list) may do."""
    if not (caller.is_admin or caller.is_service):
        raise PermissionDenied(
            f"only admins and Salesplane's services may {action}; {caller.subject} may not"
        )


def ensure_service_creates_for_a_conversion(caller: Identity, *, lead_id: str, request_id: str) -> None:
    """A service creates deals only to convert a lead (the leads service, which checked the user
    it acts for), and idempotently: with the lead and a request id."""
    if caller.is_service and not (lead_id and request_id):
        raise PermissionDenied(
            f"{caller.subject} may create opportunities only for a lead conversion "
            "(lead_id and request_id set)"
        )
