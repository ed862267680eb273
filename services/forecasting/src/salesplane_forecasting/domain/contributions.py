"""What one opportunity contributes to its owner's rollup, and the change between two states.

Rollups are maintained incrementally: each consumed state of a deal replaces its previous
contribution, so the rollup moves by (new - old). A lost or deleted deal contributes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

RollupKey = tuple[str, str, str]  # user id, period id, currency


@dataclass(frozen=True)
class Contribution:
    owner_user_id: str
    period_id: str
    currency: str
    amount_minor: int
    probability: int

    @property
    def key(self) -> RollupKey:
        return (self.owner_user_id, self.period_id, self.currency)

    @property
    def weighted_percent_minor(self) -> int:
        # amount x probability is kept exact (minor units x percent); rounded once, at read time.
        return self.amount_minor * self.probability


@dataclass
class RollupDelta:
    opportunity_count: int = 0
    amount_minor: int = 0
    weighted_percent_minor: int = 0

    def add(self, contribution: Contribution, sign: int) -> None:
        self.opportunity_count += sign
        self.amount_minor += sign * contribution.amount_minor
        self.weighted_percent_minor += sign * contribution.weighted_percent_minor

    @property
    def is_zero(self) -> bool:
        return not (self.opportunity_count or self.amount_minor or self.weighted_percent_minor)


def merge_deltas(
    changes: Iterable[tuple[Contribution | None, Contribution | None]],
) -> dict[RollupKey, RollupDelta]:
    """Sum the (old -> new) contribution changes of a batch into one delta per rollup row."""
    deltas: dict[RollupKey, RollupDelta] = defaultdict(RollupDelta)
    for old, new in changes:
        if old == new:
            continue
        if old is not None:
            deltas[old.key].add(old, -1)
        if new is not None:
            deltas[new.key].add(new, +1)
    return {key: delta for key, delta in deltas.items() if not delta.is_zero}
