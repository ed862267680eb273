"""Who may read whose forecast figures: themselves, their managers up the tree, administrators."""

from __future__ import annotations

from sqlalchemy.orm import Session

from salesplane_forecasting.adapters import user_store
from salesplane_platform.errors import PermissionDenied
from salesplane_platform.identity import Identity
from salesplane_platform.org_replica import Reach

_reach = Reach(user_store.reporting_lines)


def ensure_can_read_user(session: Session, caller: Identity, user_id: str) -> None:
    if _reach.can_reach(session, caller, user_id):
        return
    raise PermissionDenied(f"{caller.subject} may not read the forecast of {user_id}")
