"""The lead status workflow: which status may follow which.

    New         -> Assigned, Dead
    Assigned    -> In Process, Recycled, Dead, New (unassigned), Converted*
    In Process  -> Recycled, Dead, Converted*
    Recycled    -> Assigned, New, Dead
    Dead        -> Recycled
    Converted   -> (terminal)

* only through ConvertLead, which also creates the opportunity. A lead that nobody has worked on
(New) or that was put aside (Recycled, Dead) is assigned first, so a conversion always has an owner.
Dead and Recycled need a reason. Reassigning a lead that is Assigned or In Process to someone else
keeps its status; that is not a transition.
"""

from __future__ import annotations

from enum import Enum

from salesplane_platform.errors import FailedPrecondition


class LeadStatus(Enum):
    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROCESS = "in_process"
    CONVERTED = "converted"
    RECYCLED = "recycled"
    DEAD = "dead"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").title()


ALLOWED_TRANSITIONS: dict[LeadStatus, frozenset[LeadStatus]] = {
    LeadStatus.NEW: frozenset({LeadStatus.ASSIGNED, LeadStatus.DEAD}),
    LeadStatus.ASSIGNED: frozenset(
        {LeadStatus.IN_PROCESS, LeadStatus.RECYCLED, LeadStatus.DEAD, LeadStatus.NEW, LeadStatus.CONVERTED}
    ),
    LeadStatus.IN_PROCESS: frozenset({LeadStatus.RECYCLED, LeadStatus.DEAD, LeadStatus.CONVERTED}),
    LeadStatus.RECYCLED: frozenset({LeadStatus.ASSIGNED, LeadStatus.NEW, LeadStatus.DEAD}),
    LeadStatus.DEAD: frozenset({LeadStatus.RECYCLED}),
    LeadStatus.CONVERTED: frozenset(),
}
REASON_REQUIRED = frozenset({LeadStatus.DEAD, LeadStatus.RECYCLED})
# Statuses in which somebody must be assigned; New means nobody is.
NEEDS_ASSIGNEE = frozenset({LeadStatus.ASSIGNED, LeadStatus.IN_PROCESS})
# Open work: a lead its assignee is working on. New ones are nobody's; Converted ones became
# deals; Recycled and Dead ones were put aside (and are assigned again before anyone works them).
OPEN_STATUSES = NEEDS_ASSIGNEE


def allowed_targets(current: LeadStatus) -> list[LeadStatus]:
    """In the order the workflow is read in (the order LeadStatus declares them)."""
    return [status for status in LeadStatus if status in ALLOWED_TRANSITIONS[current]]


def ensure_transition(current: LeadStatus, target: LeadStatus) -> None:
    """Raise FAILED_PRECONDITION naming both statuses and what is allowed instead."""
    if target in ALLOWED_TRANSITIONS[current]:
        return
    raise FailedPrecondition(describe_illegal_transition(current, target), reason="ILLEGAL_STATUS_TRANSITION")


def describe_illegal_transition(current: LeadStatus, target: LeadStatus) -> str:
    if current is target:
        return f"the lead is already {current.label}"
    targets = allowed_targets(current)
    if not targets:
        return f"a {current.label} lead cannot change status (to {target.label}): {current.label} is final"
    names = ", ".join(
        status.label + (" (through ConvertLead)" if status is LeadStatus.CONVERTED else "")
        for status in targets
    )
    return (
        f"a lead cannot go from {current.label} to {target.label}; from {current.label} it can go to {names}"
    )
