"""Read-side use cases of forecasting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from salesplane_forecasting.adapters import rollup_store
from salesplane_forecasting.domain.periods import is_period_id
from salesplane_forecasting.service_layer.access import ensure_can_read_user
from salesplane_platform.errors import Validator
from salesplane_platform.identity import Identity

_USER_ID_MAX = 64


@dataclass(frozen=True)
class Rollup:
    user_id: str
    period_id: str
    lines: list[rollup_store.RollupRow]

    @property
    def updated_at(self) -> datetime | None:
        return max((line.updated_at for line in self.lines), default=None)


def get_rollup(*, user_id: str, period_id: str, caller: Identity, sessions: sessionmaker[Session]) -> Rollup:
    """The live rollup of one user and period; O(1) reads of maintained rows."""
    check = Validator()
    check.require(0 < len(user_id) <= _USER_ID_MAX, "user_id", "must be a user id of 1-64 characters")
    check.require(is_period_id(period_id), "period_id", "must be a period id like 2026-Q4")
    check.raise_if_invalid()
    with sessions() as session:
        ensure_can_read_user(session, caller, user_id)
        return Rollup(user_id, period_id, rollup_store.read_rollup(session, user_id, period_id))
