"""Forecast worksheets and commits: what a snapshot holds, how a manager's rows count, and what
changed between two versions of a worksheet.

A rep's worksheet is their deals closing in a period; its forecast is closed won plus the included
deals (likely, best and worst case). A manager's worksheet has a row per direct report (their
latest commit, or the manager's adjustment of it) and one for the manager's own deals; its forecast
is the sum of the rows. Saving a worksheet stores a draft (replaced by the next save); committing it
stores an immutable snapshot, numbered per user, period and kind, that says what changed since the
commit before. Everything here is pure; amounts are base-currency minor units.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from salesplane_forecasting.domain.amounts import basis_points
from salesplane_forecasting.domain.contributions import DealStatus, Totals
from salesplane_forecasting.domain.deals import Deal
from salesplane_forecasting.domain.forecast_settings import CommitStage
from salesplane_forecasting.domain.quotas import attainment_basis_points
from salesplane_platform.money import format_minor

MAX_NOTE = 2000
# The sequence of a draft; commits count from 1.
DRAFT_SEQUENCE = 0
FIRST_COMMIT = "first commit"
NOT_COMMITTED = "not committed yet"
# How a row without a commit stage (a won or lost deal) reads in a sentence.
_CLOSED = "closed"


class SnapshotKind(StrEnum):
    # A user's own deals.
    REP = "rep"
    # A manager's team: a row per direct report plus the manager's own.
    MANAGER = "manager"


@dataclass(frozen=True)
class SnapshotRow:
    """One line of a snapshot: a deal (rep) or a user (manager)."""

    key: str
    label: str
    likely_minor: int
    best_minor: int
    worst_minor: int
    commit_stage: CommitStage | None = None
    # Manager rows: whether the manager adjusted the row.
    adjusted: bool = False


@dataclass(frozen=True)
class Figures:
    """What a worksheet says right now, i.e. what a snapshot of it would hold."""

    likely_minor: int
    best_minor: int
    worst_minor: int
    closed_won_minor: int
    rows: tuple[SnapshotRow, ...]


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    user_id: str
    period_id: str
    kind: SnapshotKind
    # The n-th commit of the user, period and kind; 0 for a draft.
    sequence: int
    committed: bool
    figures: Figures
    # The quota at the time (None when none was committed).
    quota_minor: int | None
    currency: str
    note: str
    author: str
    created_at: datetime
    # What changed since the previous commit (empty for a draft).
    changes: tuple[str, ...]
    # Raised by as_new_commit(), taken by the unit of work on commit; no part of the snapshot's value.
    events: list[ForecastCommitted] = field(default_factory=list, compare=False, repr=False)


@dataclass(frozen=True)
class ForecastCommitted:
    """A forecast was committed: the new, immutable snapshot."""

    commit: Snapshot


def as_new_commit(snapshot: Snapshot) -> Snapshot:
    """The snapshot as a new commit, raising ForecastCommitted."""
    commit = replace(snapshot, events=[])
    commit.events.append(ForecastCommitted(replace(commit, events=[])))
    return commit


@dataclass(frozen=True)
class Adjustment:
    """A manager's figures for a row of their worksheet; None: that figure is not adjusted."""

    likely_minor: int | None
    best_minor: int | None
    worst_minor: int | None
    adjusted_at: datetime

    @property
    def is_empty(self) -> bool:
        return self.likely_minor is None and self.best_minor is None and self.worst_minor is None


@dataclass(frozen=True)
class ManagerRow:
    """A direct report's row of a manager's worksheet, or the manager's own (own=True)."""

    user_id: str
    display_name: str
    own: bool
    # The report's latest commit (manager kind for a report with reports, else rep kind); for the
    # own row the manager's latest rep commit.
    latest_commit: Snapshot | None
    adjustment: Adjustment | None
    quota_minor: int | None
    # Live closed won: the report's team, or the manager's own deals.
    closed_won_minor: int

    @property
    def likely_minor(self) -> int:
        adjusted = None if self.adjustment is None else self.adjustment.likely_minor
        return _counted(adjusted, None if self._committed is None else self._committed.likely_minor)

    @property
    def best_minor(self) -> int:
        adjusted = None if self.adjustment is None else self.adjustment.best_minor
        return _counted(adjusted, None if self._committed is None else self._committed.best_minor)

    @property
    def worst_minor(self) -> int:
        adjusted = None if self.adjustment is None else self.adjustment.worst_minor
        return _counted(adjusted, None if self._committed is None else self._committed.worst_minor)

    @property
    def adjusted(self) -> bool:
        return self.adjustment is not None and not self.adjustment.is_empty

    @property
    def committed_after_adjustment(self) -> bool:
        """The report committed again since the manager adjusted the row: worth a second look."""
        return (
            self.adjustment is not None
            and self.adjusted
            and self.latest_commit is not None
            and self.latest_commit.created_at > self.adjustment.adjusted_at
        )

    @property
    def _committed(self) -> Figures | None:
        return None if self.latest_commit is None else self.latest_commit.figures


def _counted(adjusted: int | None, committed: int | None) -> int:
    """What a manager row counts: the adjustment where set, else the commit, else nothing."""
    if adjusted is not None:
        return adjusted
    return 0 if committed is None else committed


@dataclass(frozen=True)
class WorksheetDeal:
    deal: Deal
    # Its commit stage was set by hand (only ever for an open deal).
    manual: bool


@dataclass(frozen=True)
class Comparison:
    """A worksheet against its last commit."""

    changed: bool
    changes: tuple[str, ...]


@dataclass(frozen=True)
class RepWorksheet:
    user_id: str
    period_id: str
    deals: tuple[WorksheetDeal, ...]
    # The live own rollup of the user for the period.
    totals: Totals
    quota_minor: int | None
    draft: Snapshot | None
    last_commit: Snapshot | None
    comparison: Comparison
    show_likely: bool
    show_best: bool
    show_worst: bool

    @property
    def attainment_basis_points(self) -> int:
        return attainment_basis_points(self.totals.won_minor, self.quota_minor)

    @property
    def figures(self) -> Figures:
        return rep_figures((item.deal for item in self.deals), self.totals)


@dataclass(frozen=True)
class ManagerWorksheet:
    user_id: str
    period_id: str
    rows: tuple[ManagerRow, ...]
    # The manager's assigned quota (the team target).
    quota_minor: int | None
    # The live team rollup.
    team: Totals
    draft: Snapshot | None
    last_commit: Snapshot | None
    comparison: Comparison

    @property
    def figures(self) -> Figures:
        return manager_figures(self.rows, self.team.won_minor)


@dataclass(frozen=True)
class AccuracyRow:
    user_id: str
    display_name: str
    # The commit compared (None: never committed).
    commit: Snapshot | None
    actual_closed_won_minor: int
    quota_minor: int | None

    @property
    def difference_minor(self) -> int:
        """Actual minus the committed likely (a missing commit counts as zero)."""
        committed = 0 if self.commit is None else self.commit.figures.likely_minor
        return self.actual_closed_won_minor - committed

    @property
    def accuracy_basis_points(self) -> int:
        """Actual / committed likely in basis points; 0 without a commit (or with a zero one)."""
        if self.commit is None:
            return 0
        return basis_points(self.actual_closed_won_minor, self.commit.figures.likely_minor)


@dataclass(frozen=True)
class ForecastAccuracy:
    user_id: str
    period_id: str
    period_closed: bool
    rows: tuple[AccuracyRow, ...]
    own: AccuracyRow
    team: AccuracyRow


def is_manual(deal: Deal, overridden: bool) -> bool:
    """A hand-set stage only means something for an open deal: closed ones count by their outcome."""
    return overridden and deal.status == DealStatus.OPEN


def rep_figures(deals: Iterable[Deal], totals: Totals) -> Figures:
    """A rep worksheet's figures: a row per deal; forecast = closed won + included deals."""
    rows = tuple(
        SnapshotRow(
            key=deal.opportunity_id,
            label=deal.name,
            likely_minor=deal.likely_minor,
            best_minor=deal.best_minor,
            worst_minor=deal.worst_minor,
            commit_stage=deal.commit_stage if deal.status == DealStatus.OPEN else None,
        )
        for deal in deals
    )
    return Figures(
        likely_minor=totals.forecast_likely_minor,
        best_minor=totals.forecast_best_minor,
        worst_minor=totals.forecast_worst_minor,
        closed_won_minor=totals.won_minor,
        rows=rows,
    )


def manager_figures(rows: Sequence[ManagerRow], closed_won_minor: int) -> Figures:
    """A manager worksheet's figures: a row per user; forecast = the sum of the rows."""
    snapshot_rows = tuple(
        SnapshotRow(
            key=row.user_id,
            label=row.display_name,
            likely_minor=row.likely_minor,
            best_minor=row.best_minor,
            worst_minor=row.worst_minor,
            adjusted=row.adjusted,
        )
        for row in rows
    )
    return Figures(
        likely_minor=sum(r.likely_minor for r in snapshot_rows),
        best_minor=sum(r.best_minor for r in snapshot_rows),
        worst_minor=sum(r.worst_minor for r in snapshot_rows),
        closed_won_minor=closed_won_minor,
        rows=snapshot_rows,
    )


def differs(previous: Figures, current: Figures) -> bool:
    """Whether the forecast or any row (key, likely, best, worst, commit stage) changed."""
    if _amounts(previous) != _amounts(current):
        return True
    return _row_values(previous.rows) != _row_values(current.rows)


def compare(last_commit: Snapshot | None, current: Figures, currency: str) -> Comparison:
    """The worksheet against its last commit; with none, changed as soon as it has rows."""
    if last_commit is None:
        return Comparison(bool(current.rows), (NOT_COMMITTED,) if current.rows else ())
    if not differs(last_commit.figures, current):
        return Comparison(False, ())
    return Comparison(True, tuple(changes_between(last_commit.kind, last_commit.figures, current, currency)))


def commit_changes(
    kind: SnapshotKind, previous: Snapshot | None, current: Figures, currency: str
) -> tuple[str, ...]:
    """What a new commit says changed since the one before ("first commit" for the first)."""
    if previous is None:
        return (FIRST_COMMIT,)
    return tuple(changes_between(kind, previous.figures, current, currency))


def changes_between(kind: SnapshotKind, previous: Figures, current: Figures, currency: str) -> list[str]:
    """Sentences for people: the forecast first, then each row that came, went or moved, e.g.
    "likely up from 100,000.00 to 120,000.00", "deal Acme renewal added",
    "deal Acme moved from upside to include", "row Ann best down from 5.00 to 4.00"."""
    sentences = [
        sentence
        for name, old, new in zip(
            ("likely", "best", "worst"), _amounts(previous), _amounts(current), strict=True
        )
        if (sentence := _moved(name, old, new, currency))
    ]
    noun = "deal" if kind is SnapshotKind.REP else "row"
    before = {row.key: row for row in previous.rows}
    now = {row.key: row for row in current.rows}
    for row in current.rows:
        old_row = before.get(row.key)
        if old_row is None:
            sentences.append(f"{noun} {row.label} added")
            continue
        if old_row.commit_stage != row.commit_stage:
            moved = f"from {_stage_name(old_row.commit_stage)} to {_stage_name(row.commit_stage)}"
            sentences.append(f"{noun} {row.label} moved {moved}")
        for name, old, new in zip(
            ("likely", "best", "worst"), _row_amounts(old_row), _row_amounts(row), strict=True
        ):
            if sentence := _moved(name, old, new, currency):
                sentences.append(f"{noun} {row.label} {sentence}")
    sentences.extend(f"{noun} {row.label} removed" for row in previous.rows if row.key not in now)
    return sentences


def _moved(name: str, old: int, new: int, currency: str) -> str:
    if old == new:
        return ""
    direction = "up" if new > old else "down"
    return f"{name} {direction} from {format_minor(old, currency)} to {format_minor(new, currency)}"


def _stage_name(stage: CommitStage | None) -> str:
    return _CLOSED if stage is None else stage.value


def _amounts(figures: Figures) -> tuple[int, int, int]:
    return figures.likely_minor, figures.best_minor, figures.worst_minor


def _row_amounts(row: SnapshotRow) -> tuple[int, int, int]:
    return row.likely_minor, row.best_minor, row.worst_minor


def _row_values(rows: Iterable[SnapshotRow]) -> dict[str, tuple[int, int, int, CommitStage | None]]:
    return {row.key: (*_row_amounts(row), row.commit_stage) for row in rows}
