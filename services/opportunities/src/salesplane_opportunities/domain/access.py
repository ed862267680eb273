"""Who may read and change which opportunities."""

from __future__ import annotations

from salesplane_platform.errors import PermissionDenied
from salesplane_platform.identity import ROLE_MANAGER, Identity


def ensure_can_access(caller: Identity, owner_user_id: str) -> None:
    """A rep reaches their own deals; managers and admins reach all.

    Managers are not yet limited to their subtree: the org hierarchy lives in forecasting and is not
    yet replicated here (see the design notes)."""
    if caller.subject == owner_user_id or caller.has_any(ROLE_MANAGER):
        return
    raise PermissionDenied(f"{caller.subject} may not access opportunities owned by {owner_user_id}")
