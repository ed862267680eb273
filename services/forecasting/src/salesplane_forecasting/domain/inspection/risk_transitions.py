"""When a subject (a rep, a team, a deal) enters or leaves a risk state: what an alert reports.

The inspection is recomputed, not stored as a stream of changes, so alerts come from comparing the
kinds flagged last time with the kinds flagged now. Only the kinds count: the same flag with new
numbers (a deal pushed once more) is no transition, so nobody is alerted twice for one risk.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

Kind = TypeVar("Kind", bound=StrEnum)


@dataclass(frozen=True)
class RiskTransition(Generic[Kind]):
    entered: frozenset[Kind]
    left: frozenset[Kind]

    @property
    def changed(self) -> bool:
        return bool(self.entered or self.left)


def transition(previous: Iterable[Kind], current: Iterable[Kind]) -> RiskTransition[Kind]:
    """The kinds flagged now and not before (entered) and before and not now (left)."""
    before, now = frozenset(previous), frozenset(current)
    return RiskTransition(entered=now - before, left=before - now)
