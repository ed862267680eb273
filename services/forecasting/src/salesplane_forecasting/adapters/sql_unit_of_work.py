"""The SQL unit of work of forecasting: its stores over one session, committed with their outbox
events. The events are the ones the aggregates raised: the stores note the users, quotas, settings
and forecast commits they are given, and commit collects their pending events.

The stores are thin: they pass the session to the store modules, looked up at each call so whatever
wraps a module function (the rollups benchmark's timers) still sees every call."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import TypeAlias

from sqlalchemy.orm import Session, sessionmaker

from salesplane_forecasting.adapters import (
    adjustment_store,
    deal_facts_store,
    figure_record_store,
    hierarchy,
    inspection_settings_store,
    quota_store,
    risk_state_store,
    rollup_store,
    settings_store,
    snapshot_store,
    user_store,
)
from salesplane_forecasting.adapters.outbox_events import outbox_event
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
from salesplane_platform.org_replica import Reach
from salesplane_platform.seen_aggregates import SeenAggregates
from salesplane_platform.unit_of_work import OutboxContext, OutboxEvent, SqlUnitOfWork

_reach = Reach(user_store.reporting_lines)
# What raises events: each holds its pending ones in `events`.
EventSource: TypeAlias = User | Quota | ForecastSettings | Snapshot | RiskState
Seen: TypeAlias = SeenAggregates[EventSource]


class SqlUserStore:
    def __init__(self, session: Session, seen: Seen) -> None:
        self._session = session
        self._seen = seen

    def get(self, user_id: str, *, for_update: bool = False) -> User | None:
        return user_store.get(self._session, user_id, for_update=for_update)

    def save(self, user: User, *, actor: str) -> None:
        user_store.save(self._session, user, actor=actor)
        self._seen.add(user)

    def due_moves(self, today: date, *, limit: int = 100) -> list[str]:
        return user_store.due_moves(self._session, today, limit=limit)

    def manager_of(self, user_id: str) -> str | None:
        return user_store.manager_of(self._session, user_id)

    def subtree(self, root_user_id: str, *, direct_only: bool) -> list[User]:
        return user_store.subtree(self._session, root_user_id, direct_only=direct_only)

    def everyone(self) -> list[User]:
        return user_store.everyone(self._session)

    def is_in_subtree(self, root_user_id: str, user_id: str) -> bool:
        return user_store.reporting_lines.is_in_subtree(self._session, root_user_id, user_id)

    def can_reach(self, caller: Identity, user_id: str) -> bool:
        return _reach.can_reach(self._session, caller, user_id)


class SqlHierarchy:
    def __init__(self, session: Session) -> None:
        self._session = session

    def lock(self, *, exclusive: bool) -> None:
        hierarchy.lock_hierarchy(self._session, exclusive=exclusive)

    def chains_of(self, user_ids: Iterable[str]) -> dict[str, list[str]]:
        return hierarchy.chains_of(self._session, user_ids)

    def has_reports(self, user_id: str) -> bool:
        return hierarchy.has_reports(self._session, user_id)


class SqlSettingsReader:
    def __init__(self, session: Session) -> None:
        self._session = session

    def load(self, *, for_update: bool = False) -> ForecastSettings:
        return settings_store.load(self._session, for_update=for_update)


class SqlSettingsStore(SqlSettingsReader):
    def __init__(self, session: Session, seen: Seen) -> None:
        super().__init__(session)
        self._seen = seen

    def save(self, settings: ForecastSettings, *, updated_by: str) -> None:
        settings_store.save(self._session, settings, updated_by=updated_by)
        self._seen.add(settings)


class SqlRollupStore:
    def __init__(self, session: Session) -> None:
        self._session = session

    def load_tracked(self, opportunity_ids: Iterable[str], *, for_update: bool) -> dict[str, Deal]:
        return rollup_store.load_tracked(self._session, opportunity_ids, for_update=for_update)

    def save_tracked(self, deals: Iterable[Deal]) -> None:
        rollup_store.save_tracked(self._session, deals)

    def overrides_of(self, opportunity_ids: Iterable[str]) -> dict[str, CommitStage]:
        return rollup_store.overrides_of(self._session, opportunity_ids)

    def apply_deltas(self, deltas: Mapping[RollupKey, Sequence[int]]) -> None:
        rollup_store.apply_deltas(self._session, deltas)

    def carry_up(self, own: Mapping[RollupKey, Sequence[int]]) -> None:
        rollup_store.carry_up_own_deltas(self._session, own)

    def read_rollup(self, user_id: str, period_id: str) -> RollupRead:
        return rollup_store.read_rollup(self._session, user_id, period_id)

    def currency_lines(self, user_id: str, period_id: str) -> list[CurrencyLine]:
        return rollup_store.currency_lines(self._session, user_id, period_id)

    def deals_of(self, owners: Sequence[str], period_id: str) -> list[Deal]:
        return rollup_store.deals_of(self._session, owners, period_id)

    def team_deals(self, user_id: str, period_id: str) -> list[Deal]:
        # The subtree as a subquery: one query however large the team.
        owners = user_store.reporting_lines.subtree_select(user_id)
        return rollup_store.deals_of(self._session, owners, period_id)

    def closed_sums(
        self, owners: Sequence[str], period_ids: Sequence[str]
    ) -> dict[tuple[str, str], tuple[int, int]]:
        return rollup_store.closed_sums(self._session, owners, period_ids)

    def team_totals_by_period(self, user_id: str) -> dict[str, tuple[int, ...]]:
        return rollup_store.team_totals_by_period(self._session, user_id)

    def open_deal_count(self, owner_user_id: str) -> int:
        return rollup_store.open_deal_count(self._session, owner_user_id)

    def rebuild(self, *, recompute_contributions: bool) -> int:
        return rollup_store.rebuild_rollups(self._session, recompute_contributions=recompute_contributions)


class SqlDealFactsStore:
    def __init__(self, session: Session) -> None:
        self._session = session

    def load(self, opportunity_ids: Iterable[str], *, for_update: bool) -> dict[str, DealFacts]:
        return deal_facts_store.load(self._session, opportunity_ids, for_update=for_update)

    def save(self, facts: Iterable[tuple[str, DealFacts]]) -> None:
        deal_facts_store.save(self._session, facts)

    def facts_of_owners(self, owners: Sequence[str], *, closing_from: date) -> list[tuple[str, DealFacts]]:
        return deal_facts_store.facts_of_owners(self._session, owners, closing_from=closing_from)

    def replace_won_stays(self, stays: Mapping[str, Sequence[StageStay]]) -> None:
        deal_facts_store.replace_won_stays(self._session, stays)

    def won_durations(self) -> dict[str, list[int]]:
        return deal_facts_store.won_durations(self._session)

    def stage_percentiles(self, *, percentile: int, min_samples: int) -> dict[str, int]:
        return deal_facts_store.stage_percentiles(
            self._session, percentile=percentile, min_samples=min_samples
        )

    def stage_orders(self) -> tuple[int, dict[str, int]]:
        return deal_facts_store.stage_orders(self._session)

    def replace_stage_orders(self, revision: int, orders: Mapping[str, int]) -> None:
        deal_facts_store.replace_stage_orders(self._session, revision, orders)


class SqlInspectionSettingsStore:
    def __init__(self, session: Session) -> None:
        self._session = session

    def load(self, *, for_update: bool = False) -> InspectionSettings:
        return inspection_settings_store.load(self._session, for_update=for_update)

    def save(self, settings: InspectionSettings) -> None:
        inspection_settings_store.save(self._session, settings)


class SqlRiskStateStore:
    def __init__(self, session: Session, seen: Seen) -> None:
        self._session = session
        self._seen = seen

    def get(self, subject: Subject) -> RiskState:
        return risk_state_store.load(self._session, subject)

    def save(self, state: RiskState) -> None:
        risk_state_store.save(self._session, state)
        self._seen.add(state)

    def alerts_in_subtree(
        self, root_user_id: str, period_id: str | None, *, before_id: int | None, limit: int
    ) -> list[tuple[int, RiskAlert]]:
        # The subtree as a subquery: one query however large the team.
        owners = user_store.reporting_lines.subtree_select(root_user_id)
        return risk_state_store.alerts(self._session, owners, period_id, before_id=before_id, limit=limit)


class SqlFigureRecordStore:
    def __init__(self, session: Session) -> None:
        self._session = session

    def record(self, records: Iterable[RecordedFigures]) -> None:
        figure_record_store.record(self._session, records)

    def as_of(self, keys: Sequence[FiguresKey], day: date) -> dict[FiguresKey, RecordedFigures]:
        return figure_record_store.as_of(self._session, keys, day)

    def prune(self, before: date) -> int:
        return figure_record_store.prune(self._session, before)


class SqlQuotaStore:
    def __init__(self, session: Session, seen: Seen) -> None:
        self._session = session
        self._seen = seen

    def get(self, user_id: str, period_id: str, kind: QuotaKind, *, for_update: bool = False) -> Quota | None:
        return quota_store.get(self._session, user_id, period_id, kind, for_update=for_update)

    def committed_quota(
        self, user_id: str, period_id: str, kind: QuotaKind = QuotaKind.ASSIGNED
    ) -> int | None:
        return quota_store.committed_quota(self._session, user_id, period_id, kind)

    def committed_quotas(
        self, user_ids: Sequence[str], period_id: str, kind: QuotaKind = QuotaKind.ASSIGNED
    ) -> dict[str, int]:
        return quota_store.committed_quotas(self._session, user_ids, period_id, kind)

    def committed_rows(
        self, user_ids: Sequence[str], period_id: str, *, for_update: bool = False
    ) -> dict[tuple[str, QuotaKind], Quota]:
        return quota_store.committed_rows(self._session, user_ids, period_id, for_update=for_update)

    def save(self, quota: Quota) -> None:
        quota_store.save(self._session, quota)
        self._seen.add(quota)

    def add_change(self, change: QuotaChange) -> None:
        quota_store.add_change(self._session, change)

    def changes(self, user_id: str, period_id: str | None, *, limit: int) -> list[QuotaChange]:
        return quota_store.changes(self._session, user_id, period_id, limit=limit)

    def draft(self, manager_user_id: str, period_id: str) -> tuple[list[DraftAllocation], datetime | None]:
        return quota_store.draft(self._session, manager_user_id, period_id)

    def replace_draft(
        self, manager_user_id: str, period_id: str, allocations: Sequence[DraftAllocation], now: datetime
    ) -> None:
        quota_store.replace_draft(self._session, manager_user_id, period_id, allocations, now)

    def delete_draft(self, manager_user_id: str, period_id: str) -> None:
        quota_store.delete_draft(self._session, manager_user_id, period_id)


class SqlSnapshotStore:
    def __init__(self, session: Session, seen: Seen) -> None:
        self._session = session
        self._seen = seen

    def save_draft(self, draft: Snapshot) -> None:
        snapshot_store.save_draft(self._session, draft)

    def insert_commit(self, commit: Snapshot) -> None:
        snapshot_store.insert_commit(self._session, commit)
        self._seen.add(commit)

    def delete_draft(self, user_id: str, period_id: str, kind: SnapshotKind) -> None:
        snapshot_store.delete_draft(self._session, user_id, period_id, kind)

    def draft(self, user_id: str, period_id: str, kind: SnapshotKind) -> Snapshot | None:
        return snapshot_store.draft(self._session, user_id, period_id, kind)

    def latest_commit(self, user_id: str, period_id: str, kind: SnapshotKind) -> Snapshot | None:
        return snapshot_store.latest_commit(self._session, user_id, period_id, kind)

    def latest_commits(
        self,
        wanted: Iterable[tuple[str, SnapshotKind]],
        period_id: str,
        *,
        made_before: datetime | None = None,
    ) -> dict[tuple[str, SnapshotKind], Snapshot]:
        return snapshot_store.latest_commits(self._session, wanted, period_id, made_before=made_before)

    def latest_commits_of_periods(
        self, wanted: Iterable[tuple[str, SnapshotKind]], periods: Mapping[str, datetime | None]
    ) -> dict[tuple[str, SnapshotKind, str], Snapshot]:
        return snapshot_store.latest_commits_of_periods(self._session, wanted, periods)

    def commits(self, user_id: str, period_id: str, kind: SnapshotKind | None) -> list[Snapshot]:
        return snapshot_store.commits(self._session, user_id, period_id, kind)


class SqlAdjustmentStore:
    def __init__(self, session: Session) -> None:
        self._session = session

    def of_manager(self, manager_user_id: str, period_id: str) -> dict[str, Adjustment]:
        return adjustment_store.of_manager(self._session, manager_user_id, period_id)

    def save(
        self, *, manager_user_id: str, period_id: str, user_id: str, adjustment: Adjustment, adjusted_by: str
    ) -> None:
        adjustment_store.save(
            self._session,
            manager_user_id=manager_user_id,
            period_id=period_id,
            user_id=user_id,
            adjustment=adjustment,
            adjusted_by=adjusted_by,
        )

    def save_commit_stage(
        self, opportunity_id: str, stage: CommitStage | None, *, set_by: str, set_at: datetime
    ) -> None:
        adjustment_store.save_commit_stage(self._session, opportunity_id, stage, set_by=set_by, set_at=set_at)


class SqlRollupStores:
    """The rollup stores over a session whose transaction someone else owns: the consumer runner's
    batch (it commits). Four small objects per batch, no query of their own; nothing here raises
    events, so there is nothing to collect."""

    def __init__(self, session: Session) -> None:
        self.hierarchy = SqlHierarchy(session)
        self.settings = SqlSettingsReader(session)
        self.rollups = SqlRollupStore(session)
        self.deal_facts = SqlDealFactsStore(session)


class SqlForecastingUnitOfWork(SqlUnitOfWork):
    users: SqlUserStore
    hierarchy: SqlHierarchy
    settings: SqlSettingsStore
    rollups: SqlRollupStore
    deal_facts: SqlDealFactsStore
    inspection_settings: SqlInspectionSettingsStore
    risk_states: SqlRiskStateStore
    figure_records: SqlFigureRecordStore
    quotas: SqlQuotaStore
    snapshots: SqlSnapshotStore
    adjustments: SqlAdjustmentStore
    seen: Seen

    def __init__(self, session_factory: sessionmaker[Session], outbox: OutboxContext) -> None:
        super().__init__(session_factory, outbox)

    def __enter__(self) -> SqlForecastingUnitOfWork:
        super().__enter__()
        session = self.session
        self.seen = SeenAggregates()
        self.users = SqlUserStore(session, self.seen)
        self.hierarchy = SqlHierarchy(session)
        self.settings = SqlSettingsStore(session, self.seen)
        self.rollups = SqlRollupStore(session)
        self.deal_facts = SqlDealFactsStore(session)
        self.inspection_settings = SqlInspectionSettingsStore(session)
        self.risk_states = SqlRiskStateStore(session, self.seen)
        self.figure_records = SqlFigureRecordStore(session)
        self.quotas = SqlQuotaStore(session, self.seen)
        self.snapshots = SqlSnapshotStore(session, self.seen)
        self.adjustments = SqlAdjustmentStore(session)
        return self

    def collect_new_events(self) -> Iterator[OutboxEvent]:
        """Take the pending events of every aggregate the stores were given, in the order given."""
        for aggregate in self.seen:
            while aggregate.events:
                yield outbox_event(aggregate.events.pop(0))
