"""Who may read whose forecast figures."""

from __future__ import annotations

from salesplane_platform.errors import PermissionDenied
from salesplane_platform.identity import ROLE_MANAGER, Identity


def ensure_can_read_user(caller: Identity, user_id: str) -> None:
    """A rep reads their own figures; managers and admins anyone's (subtree limits come with the
    org hierarchy)."""
    if caller.subject == user_id or caller.has_any(ROLE_MANAGER):
        return
    raise PermissionDenied(f"{caller.subject} may not read the forecast of {user_id}")
