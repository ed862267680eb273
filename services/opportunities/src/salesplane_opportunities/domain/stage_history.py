"""Each deal's path through the sales stages, for time-in-stage analysis."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class StageVisit:
    sales_stage: str
    entered_at: datetime
    # None while the deal is still in the stage.
    left_at: datetime | None
    actor: str

    def duration_seconds(self, now: datetime) -> int:
        """Whole seconds spent in the stage; until `now` for the current one."""
        end = self.left_at or now
        return max(0, int((end - self.entered_at).total_seconds()))
