"""An opportunity's history: every version it had, and what follows from their order.

Reporting keeps each version with the interval it held (SCD type 2). What depends on the versions
before or after one (when it stopped holding, when the deal entered its stage, how often the close
date was pushed, the furthest stage reached, how long each stay in a stage lasted) is derived here
from the whole ordered history, so a version arriving late or twice changes nothing but the rows
it should: the derivation is a pure function of the set of versions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime

UNKNOWN_STAGE_ORDER = 99


@dataclass(frozen=True)
class OpportunityState:
    """An opportunity as one version left it, in the shape reports read."""

    owner_user_id: str
    name: str
    account_name: str
    sales_stage: str
    stage_order: int
    probability: int
    # open, won or lost.
    status: str
    amount_minor: int
    currency: str
    amount_base_minor: int
    weighted_base_minor: int
    best_base_minor: int
    worst_base_minor: int
    base_currency: str
    expected_close_date: date | None
    lead_source_id: str
    campaign_id: str
    lead_id: str
    close_reason: str
    next_step: str
    create_time: datetime
    update_time: datetime
    close_time: datetime | None


@dataclass(frozen=True)
class OpportunityVersion:
    opportunity_id: str
    version: int
    valid_from: datetime
    deleted: bool
    change_kind: str
    state: OpportunityState


@dataclass(frozen=True)
class Derived:
    """What a version's place in the history says about it."""

    valid_to: datetime | None
    stage_entry: bool
    stage_entered_at: datetime
    # On a stage entry: seconds until the deal left the stage (None while it is still there).
    stage_seconds: int | None
    push_count: int
    max_stage_order: int
    cycle_seconds: int | None


@dataclass(frozen=True)
class HistoryRow:
    version: OpportunityVersion
    derived: Derived


def weighted_minor(amount_minor: int, probability: int) -> int:
    """amount x probability / 100, rounded half-even once (exact integers, no float)."""
    quotient, remainder = divmod(amount_minor * probability, 100)
    if remainder * 2 > 100 or (remainder * 2 == 100 and quotient % 2 == 1):
        quotient += 1
    return quotient


def derive_history(versions: Iterable[OpportunityVersion]) -> list[HistoryRow]:
    """Every version of one opportunity in version order, with what follows from its neighbours.
    Duplicates of a version are dropped (the first seen is kept: versions are immutable)."""
    unique: dict[int, OpportunityVersion] = {}
    for version in versions:
        unique.setdefault(version.version, version)
    ordered = [unique[v] for v in sorted(unique)]
    rows: list[HistoryRow] = []
    previous: OpportunityVersion | None = None
    previous_derived: Derived | None = None
    for index, current in enumerate(ordered):
        following = ordered[index + 1] if index + 1 < len(ordered) else None
        rows.append(HistoryRow(current, _derive(current, previous, previous_derived, following)))
        previous, previous_derived = current, rows[-1].derived
    return _with_stage_durations(rows)


def _derive(
    current: OpportunityVersion,
    previous: OpportunityVersion | None,
    previous_derived: Derived | None,
    following: OpportunityVersion | None,
) -> Derived:
    state = current.state
    entry = (
        previous is None
        or previous_derived is None
        or previous.deleted
        or previous.state.sales_stage != state.sales_stage
    )
    pushed = (
        previous is not None
        and not previous.deleted
        and previous.state.expected_close_date is not None
        and state.expected_close_date is not None
        and state.expected_close_date > previous.state.expected_close_date
    )
    reached = state.stage_order if state.status != "lost" else -1
    earlier_reach = previous_derived.max_stage_order if previous_derived else -1
    cycle = None
    if state.status != "open" and state.close_time is not None:
        cycle = max(0, int((state.close_time - state.create_time).total_seconds()))
    return Derived(
        valid_to=following.valid_from if following is not None else None,
        stage_entry=entry,
        stage_entered_at=(
            current.valid_from if entry or previous_derived is None else previous_derived.stage_entered_at
        ),
        stage_seconds=None,
        push_count=(previous_derived.push_count if previous_derived else 0) + (1 if pushed else 0),
        max_stage_order=max(reached, earlier_reach),
        cycle_seconds=cycle,
    )


def _with_stage_durations(rows: list[HistoryRow]) -> list[HistoryRow]:
    """On each stage entry, how long the stay lasted: until the next entry (or deletion)."""
    result = list(rows)
    entry_index: int | None = None
    for index, row in enumerate(rows):
        ends_stay = row.derived.stage_entry or row.version.deleted
        if ends_stay and entry_index is not None and index != entry_index:
            entered = result[entry_index]
            seconds = int((row.version.valid_from - entered.derived.stage_entered_at).total_seconds())
            result[entry_index] = replace(
                entered, derived=replace(entered.derived, stage_seconds=max(0, seconds))
            )
            entry_index = None
        if row.derived.stage_entry and not row.version.deleted:
            entry_index = index
    return result


def as_of(rows: Iterable[HistoryRow], instant: datetime) -> HistoryRow | None:
    """The version that held at `instant` (valid_from <= instant < valid_to), unless deleted."""
    for row in rows:
        if row.version.valid_from <= instant and (
            row.derived.valid_to is None or instant < row.derived.valid_to
        ):
            return None if row.version.deleted else row
    return None
