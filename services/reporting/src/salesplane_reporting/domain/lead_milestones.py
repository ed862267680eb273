"""The milestones of a lead's way through the funnel, read off the versions of the lead in order.

A lead event carries the lead's state, not what changed, so a milestone is the time of the first
version that shows it: first qualified, first recycled, and the start of its current stay in Dead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

DEAD = "dead"
RECYCLED = "recycled"


@dataclass(frozen=True)
class LeadMilestones:
    qualified_time: datetime | None = None
    recycled_time: datetime | None = None
    # Cleared when the lead leaves Dead, so a revived lead is not counted as dead.
    dead_time: datetime | None = None

    def after(
        self, *, previous_status: str | None, status: str, qualified: bool, at: datetime
    ) -> LeadMilestones:
        """The milestones once the next version of the lead (its status and qualification at
        `at`) is applied after a version whose status was `previous_status` (None: the first)."""
        qualified_time = self.qualified_time
        if qualified and (qualified_time is None or at < qualified_time):
            qualified_time = at
        recycled_time = self.recycled_time
        if status == RECYCLED and (recycled_time is None or at < recycled_time):
            recycled_time = at
        dead_time: datetime | None = None
        if status == DEAD:
            stays_dead = previous_status == DEAD and self.dead_time is not None
            dead_time = self.dead_time if stays_dead else at
        return LeadMilestones(qualified_time, recycled_time, dead_time)
