"""What a deal's history says, kept as a small state per deal that each new version folds into.

The consumer keeps one DealFacts per opportunity and folds every consumed version into it, in
version order: `facts = fold(facts, version)`. Versions at or below the one already folded change
nothing, so redelivered and replayed events are harmless.

Close-date changes and setbacks are recorded only between two OPEN versions: closing a deal moves
its close date to the day it closed and its probability to 0 or 100, which is no push, pull-in or
cut. Revaluations (a stage's default probability or an exchange rate changed by configuration)
are not the deal moving: they update the state but record no setback and leave the "last change"
clock alone.

The lists of changes keep only the most recent MAX_KEPT entries, which bounds the stored state;
the push count is kept apart, so "how often" stays exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import NamedTuple, TypeVar

from salesplane_forecasting.domain.contributions import DealStatus

# More than any rule looks at: the rules read the changes of the last few weeks.
MAX_KEPT = 32

_T = TypeVar("_T")


class DealVersion(NamedTuple):
    # Named tuples, not frozen dataclasses: the consumer makes several per consumed event, and a frozen
    # dataclass's __init__ (one object.__setattr__ per field) cost more than the work they carry.
    """The fields of one opportunity event that the inspection needs."""

    opportunity_id: str
    version: int
    sales_stage: str
    # The stage's position in the sales-stage catalogue (higher is further along).
    stage_order: int
    probability: int  # percent 0..100
    amount_minor: int  # base currency
    close_date: date
    status: DealStatus
    next_step: str
    updated_at: datetime
    # A configuration change revalued the deal (CHANGE_KIND_REVALUED), nobody worked on it.
    revaluation: bool = False


class CloseDateChange(NamedTuple):
    old: date
    new: date
    at: datetime

    @property
    def pushed(self) -> bool:
        return self.new > self.old


class SetbackKind(StrEnum):
    STAGE = "stage"
    AMOUNT = "amount"
    PROBABILITY = "probability"


class Setback(NamedTuple):
    """A step backwards: a stage of lower order, a smaller amount or a lower probability."""

    kind: SetbackKind
    # Stage orders, amounts (minor units) or percents.
    old: int
    new: int
    at: datetime
    # For a stage regression, the stages' names.
    old_stage: str = ""
    new_stage: str = ""


class StageStay(NamedTuple):
    """A finished stay in a stage: it gives the stalled rule its samples once the deal is won."""

    sales_stage: str
    seconds: int


class DealFacts(NamedTuple):
    opportunity_id: str
    version: int
    sales_stage: str
    stage_order: int
    probability: int
    amount_minor: int
    close_date: date
    status: DealStatus
    next_step_empty: bool
    stage_entered_at: datetime
    # The last version someone changed (revaluations excluded).
    last_changed_at: datetime
    # Every push (a close date moved later between open versions), however old.
    push_count: int = 0
    close_date_changes: tuple[CloseDateChange, ...] = ()
    setbacks: tuple[Setback, ...] = ()
    stays: tuple[StageStay, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.status is DealStatus.OPEN


def fold(facts: DealFacts | None, version: DealVersion) -> DealFacts:
    """The facts after version; unchanged when version is not newer than what they hold."""
    if facts is None:
        return _first(version)
    if version.version <= facts.version:
        return facts
    at = version.updated_at
    both_open = facts.is_open and version.status is DealStatus.OPEN
    close_date_changes = facts.close_date_changes
    push_count = facts.push_count
    if both_open and version.close_date != facts.close_date:
        change = CloseDateChange(facts.close_date, version.close_date, at)
        close_date_changes = _kept((*close_date_changes, change))
        push_count += change.pushed
    setbacks = facts.setbacks
    if both_open and not version.revaluation:
        setbacks = _kept((*setbacks, *_setbacks(facts, version)))
    stage_entered_at, stays = facts.stage_entered_at, facts.stays
    if version.sales_stage != facts.sales_stage:
        stay = StageStay(facts.sales_stage, max(0, int((at - facts.stage_entered_at).total_seconds())))
        stage_entered_at, stays = at, _kept((*stays, stay))
    return DealFacts(
        opportunity_id=facts.opportunity_id,
        version=version.version,
        sales_stage=version.sales_stage,
        stage_order=version.stage_order,
        probability=version.probability,
        amount_minor=version.amount_minor,
        close_date=version.close_date,
        status=version.status,
        next_step_empty=not version.next_step.strip(),
        stage_entered_at=stage_entered_at,
        last_changed_at=facts.last_changed_at if version.revaluation else max(at, facts.last_changed_at),
        push_count=push_count,
        close_date_changes=close_date_changes,
        setbacks=setbacks,
        stays=stays,
    )


def fold_all(versions: Sequence[DealVersion], facts: DealFacts | None = None) -> DealFacts | None:
    """Every version folded in turn (the rebuild's and the tests' path)."""
    for version in versions:
        facts = fold(facts, version)
    return facts


def newly_won_stays(before: DealFacts | None, after: DealFacts) -> tuple[StageStay, ...]:
    """The stays to add to the won deals' samples when this fold won the deal, else none.

    A won deal's stays are final: its last stage (the won one) is not a stay the stalled rule asks
    about, so only the finished stays count.
    """
    if after.status is not DealStatus.WON or (before is not None and before.status is DealStatus.WON):
        return ()
    return after.stays


def _first(version: DealVersion) -> DealFacts:
    at = version.updated_at
    return DealFacts(
        opportunity_id=version.opportunity_id,
        version=version.version,
        sales_stage=version.sales_stage,
        stage_order=version.stage_order,
        probability=version.probability,
        amount_minor=version.amount_minor,
        close_date=version.close_date,
        status=version.status,
        next_step_empty=not version.next_step.strip(),
        stage_entered_at=at,
        last_changed_at=at,
    )


def _setbacks(facts: DealFacts, version: DealVersion) -> list[Setback]:
    at = version.updated_at
    found: list[Setback] = []
    if version.stage_order < facts.stage_order:
        found.append(
            Setback(
                SetbackKind.STAGE,
                facts.stage_order,
                version.stage_order,
                at,
                facts.sales_stage,
                version.sales_stage,
            )
        )
    if version.amount_minor < facts.amount_minor:
        found.append(Setback(SetbackKind.AMOUNT, facts.amount_minor, version.amount_minor, at))
    if version.probability < facts.probability:
        found.append(Setback(SetbackKind.PROBABILITY, facts.probability, version.probability, at))
    return found


def _kept(items: tuple[_T, ...]) -> tuple[_T, ...]:
    return items[-MAX_KEPT:]
