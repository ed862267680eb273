"""What one opportunity contributes to the forecast, and how a change of it moves the rollups.

Rollups are maintained incrementally: each consumed state of a deal replaces its previous
contribution, so every rollup it touches moves by (new - old). A deal counts in its owner's "own"
totals and in the "team" totals of its owner and of every manager above, for the fiscal quarter and
the calendar month of its close date. Won deals count as closed won, lost and deleted ones not at
all; open deals count in the pipeline and, by their commit stage, as included or upside.

One rollup row per user and period carries both: the own measures, then the team measures
(ROLLUP_MEASURES), so a rep's change writes one row per period rather than two identical ones.
Measures are kept as flat lists of integers (in MEASURES order, own then team in a row delta)
because the consumer adds thousands of them per batch; amounts are base-currency minor units, and
the weighted pipeline is kept exact as amount x percent, rounded once when read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from operator import add, neg
from typing import NamedTuple

from salesplane_forecasting.domain.forecast_settings import CommitStage

MEASURES = (
    "won_count",
    "won_minor",
    "open_count",
    "pipeline_minor",
    "weighted_percent_minor",
    "included_count",
    "included_likely_minor",
    "included_best_minor",
    "included_worst_minor",
    "upside_count",
    "upside_likely_minor",
    "upside_best_minor",
    "upside_worst_minor",
)
ZERO = (0,) * len(MEASURES)

OWN = "own"
TEAM = "team"
# The measure columns of a rollup row: the user's own totals, then their team's (them included).
OWN_MEASURES = tuple(f"{OWN}_{name}" for name in MEASURES)
TEAM_MEASURES = tuple(f"{TEAM}_{name}" for name in MEASURES)
ROLLUP_MEASURES = OWN_MEASURES + TEAM_MEASURES
RollupKey = tuple[str, str]  # user id, period id


class DealStatus(StrEnum):
    """Where a deal stands; the values are what tracked_opportunities stores."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"
    # Deleted in the opportunities service: tracked so a late older event cannot bring it back.
    DELETED = "deleted"


# The members as module names: on Python 3.11 `DealStatus.OPEN` is a descriptor lookup costing several
# times a global's, and the consumer compares statuses for every deal of every batch.
STATUS_OPEN = DealStatus.OPEN
STATUS_WON = DealStatus.WON
STATUS_LOST = DealStatus.LOST
STATUS_DELETED = DealStatus.DELETED


class Contribution(NamedTuple):
    # Named tuples, not frozen dataclasses: the consumer makes several per consumed event, and a frozen
    # dataclass's __init__ (one object.__setattr__ per field) cost more than the work they carry.
    owner_user_id: str
    # The fiscal quarter and the calendar month the deal closes in.
    period_ids: tuple[str, ...]
    measures: tuple[int, ...]


def measures_of(
    *,
    status: DealStatus,
    commit_stage: CommitStage | None,
    probability: int,
    likely: int,
    best: int,
    worst: int,
) -> tuple[int, ...] | None:
    """A deal's measures, or None when it counts nowhere (lost, deleted)."""
    if status == STATUS_WON:
        return (1, likely, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    if status != STATUS_OPEN:
        return None
    included = commit_stage is CommitStage.INCLUDE
    upside = commit_stage is CommitStage.UPSIDE
    return (
        0,
        0,
        1,
        likely,
        likely * probability,
        int(included),
        likely if included else 0,
        best if included else 0,
        worst if included else 0,
        int(upside),
        likely if upside else 0,
        best if upside else 0,
        worst if upside else 0,
    )


@dataclass(frozen=True)
class Totals:
    """The measures of one rollup row, by name."""

    won_count: int = 0
    won_minor: int = 0
    open_count: int = 0
    pipeline_minor: int = 0
    weighted_percent_minor: int = 0
    included_count: int = 0
    included_likely_minor: int = 0
    included_best_minor: int = 0
    included_worst_minor: int = 0
    upside_count: int = 0
    upside_likely_minor: int = 0
    upside_best_minor: int = 0
    upside_worst_minor: int = 0

    @classmethod
    def of(cls, measures: Sequence[int]) -> Totals:
        return cls(*measures)

    @classmethod
    def summing(cls, many: Iterable[Sequence[int]]) -> Totals:
        total = [0] * len(MEASURES)
        for measures in many:
            for index, value in enumerate(measures):
                total[index] += value
        return cls(*total)

    @property
    def forecast_likely_minor(self) -> int:
        return self.won_minor + self.included_likely_minor

    @property
    def forecast_best_minor(self) -> int:
        return self.won_minor + self.included_best_minor

    @property
    def forecast_worst_minor(self) -> int:
        return self.won_minor + self.included_worst_minor


def merge_deltas(
    changes: Iterable[tuple[Contribution | None, Contribution | None]],
    chains: Mapping[str, Sequence[str]],
) -> dict[RollupKey, list[int]]:
    """Sum the (old -> new) contribution changes of a batch into one delta per rollup row: its own
    measures, then its team measures (ROLLUP_MEASURES order).

    `chains` gives, for every owner involved, the owner followed by each manager above them."""
    return carry_up(own_deltas(changes), chains)


def own_deltas(
    changes: Iterable[tuple[Contribution | None, Contribution | None]],
) -> dict[RollupKey, Sequence[int]]:
    """The (old -> new) contribution changes of a batch summed per owner and period: what each
    owner's own measures move by, before anything is carried up to their managers."""
    # Deltas are never changed in place (every sum is a new list), so one may be shared.
    own: dict[RollupKey, Sequence[int]] = {}
    held_own = own.get
    for old, new in changes:
        if old == new:
            continue
        if old is not None:
            negated = list(map(neg, old.measures))
            owner = old.owner_user_id
            for period_id in old.period_ids:
                key = (owner, period_id)
                held = held_own(key)
                own[key] = negated if held is None else list(map(add, held, negated))
        if new is not None:
            measures = new.measures
            owner = new.owner_user_id
            for period_id in new.period_ids:
                key = (owner, period_id)
                held = held_own(key)
                own[key] = measures if held is None else list(map(add, held, measures))
    return own


def carry_up(
    own: Mapping[RollupKey, Sequence[int]], chains: Mapping[str, Sequence[str]]
) -> dict[RollupKey, list[int]]:
    """The rollup rows that owners' own deltas move: each owner's row by their own delta (own
    measures) and the team measures of their row and of every manager's above them. Rows that do
    not move are left out.

    `chains` gives, for every owner, the owner followed by each manager above them. The deltas are
    carried up the tree one level at a time, so a batch costs one addition per node of the union
    of its chains rather than one per owner and level."""
    held_own = own.get
    parent: dict[str, str] = {}
    depth: dict[str, int] = {}
    for owner, chain in chains.items():
        path = chain or (owner,)
        top = len(path) - 1
        for index, user_id in enumerate(path):
            if user_id in depth:
                break  # the rest of this chain came with an owner before
            depth[user_id] = top - index
            if index < top:
                parent[user_id] = path[index + 1]
    levels: dict[int, dict[RollupKey, Sequence[int]]] = {}
    for key, delta in own.items():
        levels.setdefault(depth.get(key[0], 0), {})[key] = delta
    merged: dict[RollupKey, list[int]] = {}
    for level_depth in range(max(levels, default=-1), -1, -1):
        for key, delta in levels.get(level_depth, {}).items():
            # The row: the user's own delta (zero unless they own some of the changes), then
            # their team's (their own plus everything carried up from below).
            row = [*held_own(key, ZERO), *delta]
            if any(row):
                merged[key] = row
            manager = parent.get(key[0])
            if manager is None:
                continue
            above = levels.setdefault(depth.get(manager, level_depth - 1), {})
            up = (manager, key[1])
            held = above.get(up)
            above[up] = delta if held is None else list(map(add, held, delta))
    return merged


def move_team(
    team_totals: Mapping[str, Sequence[int]], old_chain: Sequence[str], new_chain: Sequence[str]
) -> dict[RollupKey, list[int]]:
    """The deltas of a reorganisation: a user's team totals (per period) leave the managers above
    them before and join the managers above them after; managers on both chains do not move. Only
    the team half of each row moves: nobody's own deals change hands."""
    leaving = [u for u in old_chain if u not in new_chain]
    joining = [u for u in new_chain if u not in old_chain]
    deltas: dict[RollupKey, list[int]] = {}
    for period_id, measures in team_totals.items():
        if not any(measures):
            continue
        gone = _ZEROS + [-value for value in measures]
        come = _ZEROS + list(measures)
        for user_id in leaving:
            _add(deltas, (user_id, period_id), gone)
        for user_id in joining:
            _add(deltas, (user_id, period_id), come)
    return {key: delta for key, delta in deltas.items() if any(delta)}


_ZEROS = [0] * len(MEASURES)


def _add(deltas: dict[RollupKey, list[int]], key: RollupKey, row: list[int]) -> None:
    held = deltas.get(key)
    deltas[key] = list(row) if held is None else list(map(add, held, row))
