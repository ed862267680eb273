"""What the use cases need from storage, as protocols; the SQL adapters implement them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Any, Protocol, Self

from salesplane_forecasting.domain.contributions import RollupKey
from salesplane_forecasting.domain.deals import Deal
from salesplane_forecasting.domain.forecast_settings import CommitStage, ForecastSettings
from salesplane_forecasting.domain.inspection.deal_history import DealFacts, StageStay
from salesplane_forecasting.domain.inspection.recorded_figures import FiguresKey, RecordedFigures
from salesplane_forecasting.domain.inspection.risk_state import RiskAlert, RiskState, Subject
from salesplane_forecasting.domain.inspection.settings import InspectionSettings
from salesplane_forecasting.domain.org import User
from salesplane_forecasting.domain.quotas import DraftAllocation, Quota, QuotaChange, QuotaKind
from salesplane_forecasting.domain.rollups import CurrencyLine, RollupRead
from salesplane_forecasting.domain.worksheets import Adjustment, Snapshot, SnapshotKind
from salesplane_platform.identity import Identity


class UserStore(Protocol):
    def get(self, user_id: str, *, for_update: bool = False) -> User | None: ...

    def save(self, user: User, *, actor: str) -> None:
        """The events the user raised are written on commit; actor names who scheduled a move."""

    def due_moves(self, today: date, *, limit: int = 100) -> list[str]:
        """Users whose scheduled move has come, oldest date first."""

    def manager_of(self, user_id: str) -> str | None: ...

    def subtree(self, root_user_id: str, *, direct_only: bool) -> list[User]:
        """The users below root (its direct reports only, or everyone under it), by id."""

    def everyone(self) -> list[User]: ...

    def is_in_subtree(self, root_user_id: str, user_id: str) -> bool:
        """Whether user_id is root_user_id or anyone under them."""

    def can_reach(self, caller: Identity, user_id: str) -> bool:
        """Own records; a manager's subtree; everything for admins."""


class Hierarchy(Protocol):
    def lock(self, *, exclusive: bool) -> None:
        """Rollup writers hold it shared, reorganisations and recomputations exclusively; call first."""

    def chains_of(self, user_ids: Iterable[str]) -> dict[str, list[str]]:
        """Each user's management chain: themself, then every manager above them."""

    def has_reports(self, user_id: str) -> bool: ...


class SettingsReader(Protocol):
    def load(self, *, for_update: bool = False) -> ForecastSettings: ...


class SettingsStore(SettingsReader, Protocol):
    def save(self, settings: ForecastSettings, *, updated_by: str) -> None:
        """The events the settings raised are written on commit."""


class RollupStore(Protocol):
    def load_tracked(self, opportunity_ids: Iterable[str], *, for_update: bool) -> dict[str, Deal]: ...

    def save_tracked(self, deals: Iterable[Deal]) -> None: ...

    def overrides_of(self, opportunity_ids: Iterable[str]) -> dict[str, CommitStage]:
        """The commit stages reps set by hand, by deal."""

    def apply_deltas(self, deltas: Mapping[RollupKey, Sequence[int]]) -> None: ...

    def carry_up(self, own: Mapping[RollupKey, Sequence[int]]) -> None:
        """Move each owner's row by their own delta, and the team measures of their row and of
        every manager's above them (domain.contributions.carry_up)."""

    def read_rollup(self, user_id: str, period_id: str) -> RollupRead: ...

    def currency_lines(self, user_id: str, period_id: str) -> list[CurrencyLine]: ...

    def deals_of(self, owners: Sequence[str], period_id: str) -> list[Deal]: ...

    def team_deals(self, user_id: str, period_id: str) -> list[Deal]:
        """The deals of the user and everyone under them closing in the period."""

    def closed_sums(
        self, owners: Sequence[str], period_ids: Sequence[str]
    ) -> dict[tuple[str, str], tuple[int, int]]:
        """(owner, period) -> (won, lost) amounts of the owners' deals closed in those periods."""

    def team_totals_by_period(self, user_id: str) -> dict[str, tuple[int, ...]]: ...

    def open_deal_count(self, owner_user_id: str) -> int:
        """How many open deals the user owns."""

    def rebuild(self, *, recompute_contributions: bool) -> int:
        """Recompute every rollup from the tracked deals; returns the rows written."""


class DealFactsStore(Protocol):
    """The pipeline inspection's history of each deal, the won deals' stage stays, the stage order."""

    def load(self, opportunity_ids: Iterable[str], *, for_update: bool) -> dict[str, DealFacts]: ...

    def save(self, facts: Iterable[tuple[str, DealFacts]]) -> None:
        """(owner, facts) pairs, one per deal."""

    def facts_of_owners(self, owners: Sequence[str], *, closing_from: date) -> list[tuple[str, DealFacts]]:
        """(owner, facts) of the owners' open deals closing on or after closing_from."""

    def replace_won_stays(self, stays: Mapping[str, Sequence[StageStay]]) -> None:
        """Each deal's won stays replaced (an empty sequence removes them)."""

    def won_durations(self) -> dict[str, list[int]]:
        """{stage: seconds} of the won deals' stays."""

    def stage_percentiles(self, *, percentile: int, min_samples: int) -> dict[str, int]:
        """{stage: seconds}: the percentile of won deals' stays per stage with enough samples."""

    def stage_orders(self) -> tuple[int, dict[str, int]]:
        """(catalogue revision, {stage: order}); (0, {}) before any catalogue."""

    def replace_stage_orders(self, revision: int, orders: Mapping[str, int]) -> None: ...


class InspectionSettingsStore(Protocol):
    def load(self, *, for_update: bool = False) -> InspectionSettings:
        """The stored thresholds, or the defaults at version 0."""

    def save(self, settings: InspectionSettings) -> None:
        """Conflict when the stored version is not settings.version - 1."""


class FigureRecordStore(Protocol):
    def record(self, records: Iterable[RecordedFigures]) -> None:
        """Insert each record unless its key already has one for that day."""

    def as_of(self, keys: Sequence[FiguresKey], day: date) -> dict[FiguresKey, RecordedFigures]:
        """Each key's newest record made on `day` or before."""

    def prune(self, before: date) -> int:
        """Delete the records of days before `before`; how many."""


class RiskStateStore(Protocol):
    def get(self, subject: Subject) -> RiskState:
        """The stored state, or the empty one at version 0."""

    def save(self, state: RiskState) -> None:
        """Writes the state and a record of each pending change (its events on commit); Conflict
        when another transaction stored a change of it first."""

    def alerts_in_subtree(
        self, root_user_id: str, period_id: str | None, *, before_id: int | None, limit: int
    ) -> list[tuple[int, RiskAlert]]:
        """(id, alert) of root's and everyone under them, newest (highest id) first."""


class QuotaStore(Protocol):
    def get(
        self, user_id: str, period_id: str, kind: QuotaKind, *, for_update: bool = False
    ) -> Quota | None: ...

    def committed_quota(
        self, user_id: str, period_id: str, kind: QuotaKind = QuotaKind.ASSIGNED
    ) -> int | None:
        """Minor units of the base currency; None when none is committed."""

    def committed_quotas(
        self, user_ids: Sequence[str], period_id: str, kind: QuotaKind = QuotaKind.ASSIGNED
    ) -> dict[str, int]:
        """Users without one are absent."""

    def committed_rows(
        self, user_ids: Sequence[str], period_id: str, *, for_update: bool = False
    ) -> dict[tuple[str, QuotaKind], Quota]: ...

    def save(self, quota: Quota) -> None:
        """The events the quota raised are written on commit."""

    def add_change(self, change: QuotaChange) -> None: ...

    def changes(self, user_id: str, period_id: str | None, *, limit: int) -> list[QuotaChange]:
        """Newest first."""

    def draft(self, manager_user_id: str, period_id: str) -> tuple[list[DraftAllocation], datetime | None]:
        """The manager's draft (empty when none) and when it was saved."""

    def replace_draft(
        self, manager_user_id: str, period_id: str, allocations: Sequence[DraftAllocation], now: datetime
    ) -> None: ...

    def delete_draft(self, manager_user_id: str, period_id: str) -> None: ...


class SnapshotStore(Protocol):
    def save_draft(self, draft: Snapshot) -> None: ...

    def insert_commit(self, commit: Snapshot) -> None:
        """Conflict when a concurrent commit took the sequence; the events the commit raised are
        written on commit of the unit of work."""

    def delete_draft(self, user_id: str, period_id: str, kind: SnapshotKind) -> None: ...

    def draft(self, user_id: str, period_id: str, kind: SnapshotKind) -> Snapshot | None: ...

    def latest_commit(self, user_id: str, period_id: str, kind: SnapshotKind) -> Snapshot | None: ...

    def latest_commits(
        self,
        wanted: Iterable[tuple[str, SnapshotKind]],
        period_id: str,
        *,
        made_before: datetime | None = None,
    ) -> dict[tuple[str, SnapshotKind], Snapshot]:
        """The latest commit of each (user, kind) that has one (made before made_before, if set)."""

    def latest_commits_of_periods(
        self, wanted: Iterable[tuple[str, SnapshotKind]], periods: Mapping[str, datetime | None]
    ) -> dict[tuple[str, SnapshotKind, str], Snapshot]:
        """latest_commits of several periods in one go, each with its own made_before."""

    def commits(self, user_id: str, period_id: str, kind: SnapshotKind | None) -> list[Snapshot]:
        """Newest first; never drafts."""


class AdjustmentStore(Protocol):
    def of_manager(self, manager_user_id: str, period_id: str) -> dict[str, Adjustment]: ...

    def save(
        self, *, manager_user_id: str, period_id: str, user_id: str, adjustment: Adjustment, adjusted_by: str
    ) -> None:
        """An empty adjustment removes the row's."""

    def save_commit_stage(
        self, opportunity_id: str, stage: CommitStage | None, *, set_by: str, set_at: datetime
    ) -> None:
        """None removes the choice (the ranges decide again)."""


class RollupStores(Protocol):
    """What placing deals and moving rollups needs, in a transaction someone else commits (the
    consumer's batch, or a use case's unit of work)."""

    @property
    def hierarchy(self) -> Hierarchy: ...

    @property
    def settings(self) -> SettingsReader: ...

    @property
    def rollups(self) -> RollupStore: ...

    @property
    def deal_facts(self) -> DealFactsStore: ...


class ForecastingUnitOfWork(Protocol):
    # Read-only, so an implementation may hold its own (narrower) store types; the use cases
    # never replace a store.
    @property
    def users(self) -> UserStore: ...

    @property
    def hierarchy(self) -> Hierarchy: ...

    @property
    def settings(self) -> SettingsStore: ...

    @property
    def rollups(self) -> RollupStore: ...

    @property
    def deal_facts(self) -> DealFactsStore: ...

    @property
    def inspection_settings(self) -> InspectionSettingsStore: ...

    @property
    def risk_states(self) -> RiskStateStore: ...

    @property
    def figure_records(self) -> FigureRecordStore: ...

    @property
    def quotas(self) -> QuotaStore: ...

    @property
    def snapshots(self) -> SnapshotStore: ...

    @property
    def adjustments(self) -> AdjustmentStore: ...

    def acting_for(self, actor: str) -> Self:
        """Name who makes this transaction's changes: `with uow.acting_for(caller.subject):`."""

    def audit(self, *, action: str, subject_type: str, subject_id: str, state: Mapping[str, Any]) -> None:
        """Record a planning change that raises no event (a draft, an adjustment) in the audit log."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def commit(self) -> None:
        """Commit the changes together with the events of every user, quota, settings and forecast
        commit and risk state the stores were given, so no use case publishes by hand."""
