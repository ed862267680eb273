"""Who may read whose forecast figures: themselves, their managers up the tree, administrators."""

from __future__ import annotations

from salesplane_forecasting.service_layer.unit_of_work import UserStore
from salesplane_platform.errors import PermissionDenied
from salesplane_platform.identity import Identity


def ensure_can_read_user(users: UserStore, caller: Identity, user_id: str) -> None:
    if users.can_reach(caller, user_id):
        return
    raise PermissionDenied(f"{caller.subject} may not read the forecast of {user_id}")
