"""A subject's figures as the risk-alert job recorded them, once a UTC day: what an inspection
compares with to say how the figures moved since "a week ago" (movement_lookback_days).

Forecasting keeps live figures, not their history, and rebuilding a past day's figures would need
every deal's, quota's and commit's state on that day. A daily record of what the inspection
computed costs one small row per subject and day and is exactly what the manager saw then. The
first record of a day stands (later runs that day add nothing), so a record's time says when its
figures were true, and a day the job did not run has no record: the comparison then uses the newest
earlier one and says when it was made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from salesplane_forecasting.domain.inspection.rep_figures import RepFigures


@dataclass(frozen=True, order=True)
class FiguresKey:
    """Whose figures: a user's own deals (team False) or a manager's whole team (team True)."""

    user_id: str
    team: bool
    period_id: str


@dataclass(frozen=True)
class RecordedFigures:
    key: FiguresKey
    recorded_at: datetime
    # Without history (past periods) and slipped pipeline: movement compares the period's figures.
    figures: RepFigures

    @property
    def day(self) -> date:
        return self.recorded_at.date()


def lookback_day(now: datetime, lookback_days: int) -> date:
    """The newest day whose record an inspection at `now` compares with."""
    return (now - timedelta(days=lookback_days)).date()


def keep_from(now: datetime, lookback_days: int) -> date:
    """Records older than this day are no longer read (a week of slack over the lookback keeps a
    comparison possible across days the job did not run)."""
    return lookback_day(now, lookback_days) - timedelta(days=7)
