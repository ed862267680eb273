"""The stored risk state of a rep or a team in a period, and the alerts its changes raise.

A state holds the flag kinds in force with their reasons and money at risk as of its last change.
It changes only on a transition (risk_transitions.transition): a kind entered or left. The same
kinds with new numbers leave it as it is (no write, no alert), so a kind that is later left is
reported with the reason it had at the last change, not the one of the moment before it cleared.

Each change is a new version of the state and one RiskAlert whose sequence is that version; the
store refuses a version that is not the next one, so of two evaluators that raced only one alerts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from salesplane_forecasting.domain.inspection.rep_flags import RepFlag, RepFlagKind
from salesplane_forecasting.domain.inspection.risk_transitions import transition


class SubjectKind(StrEnum):
    # A user's own deals against their quota.
    REP = "rep"
    # A manager's whole team against the manager's assigned quota.
    TEAM = "team"


@dataclass(frozen=True)
class Subject:
    kind: SubjectKind
    user_id: str
    period_id: str


@dataclass(frozen=True)
class FlagState:
    kind: RepFlagKind
    reason: str
    money_at_risk_minor: int


@dataclass(frozen=True)
class RiskAlert:
    subject: Subject
    sequence: int
    entered: tuple[FlagState, ...]
    left: tuple[FlagState, ...]
    # Every flag in force after the change.
    current: tuple[FlagState, ...]
    occurred_at: datetime


@dataclass(frozen=True)
class RiskStateChanged:
    alert: RiskAlert
    # Of the money at risk (the base currency).
    currency_code: str


@dataclass
class RiskState:
    """Version 0 is the state never stored: no flag in force."""

    subject: Subject
    flags: tuple[FlagState, ...] = ()
    version: int = 0
    updated_at: datetime | None = None
    events: list[RiskStateChanged] = field(default_factory=list)

    def evaluate(self, flags: Iterable[RepFlag], *, now: datetime, currency_code: str) -> RiskAlert | None:
        """Apply the flags found now; the alert (also raised as an event) when a kind was entered
        or left, None when the kinds are the same as before."""
        found = {flag.kind: FlagState(flag.kind, flag.reason, flag.money_at_risk_minor) for flag in flags}
        before = {state.kind: state for state in self.flags}
        change = transition(before, found)
        if not change.changed:
            return None
        current = tuple(found[kind] for kind in _ordered(found))
        self.flags = current
        self.version += 1
        self.updated_at = now
        alert = RiskAlert(
            subject=self.subject,
            sequence=self.version,
            entered=tuple(found[kind] for kind in _ordered(change.entered)),
            left=tuple(before[kind] for kind in _ordered(change.left)),
            current=current,
            occurred_at=now,
        )
        self.events.append(RiskStateChanged(alert, currency_code))
        return alert


def _ordered(kinds: Iterable[RepFlagKind]) -> list[RepFlagKind]:
    """In the order RepFlagKind declares, so records and events read the same every time."""
    wanted = set(kinds)
    return [kind for kind in RepFlagKind if kind in wanted]
