"""The SQL unit of work: deals, configuration, stage history and outbox events commit together. The
events are the ones the aggregates raised: the repositories note what they hand out or are given,
and commit collects their pending events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeAlias

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from salesplane_opportunities.adapters import tables
from salesplane_opportunities.adapters.configuration_store import (
    SalesStageCatalogCache,
    SqlExchangeRateStore,
    SqlSalesStageStore,
)
from salesplane_opportunities.adapters.opportunity_mapping import (
    changed_event,
    exchange_rate_changed,
    sales_stages_changed,
)
from salesplane_opportunities.adapters.opportunity_store import (
    SqlCreateRequestLog,
    SqlOpportunityRepository,
    SqlStageHistory,
)
from salesplane_opportunities.adapters.seen_aggregates import SeenByUnitOfWork
from salesplane_opportunities.domain.exchange_rates import CurrencyConverter, ExchangeRateChanged
from salesplane_opportunities.domain.opportunity import ChangeKind, OpportunityChanged
from salesplane_opportunities.domain.sales_stages import SalesStagesChanged
from salesplane_platform.identity import Identity
from salesplane_platform.org_replica import Reach
from salesplane_platform.seen_aggregates import SeenAggregates
from salesplane_platform.unit_of_work import OutboxContext, OutboxEvent, SqlUnitOfWork

OPPORTUNITY_AGGREGATE = "opportunity"
SALES_STAGES_AGGREGATE = "sales_stages"
SALES_STAGES_ID = "catalog"
EXCHANGE_RATE_AGGREGATE = "exchange_rate"
_LOCK_EXCLUSIVE = text(f"LOCK TABLE {tables.opportunities.name} IN EXCLUSIVE MODE")
_LOCK_SHARED = text(f"LOCK TABLE {tables.opportunities.name} IN ROW SHARE MODE")
OpportunitiesEvent: TypeAlias = OpportunityChanged | SalesStagesChanged | ExchangeRateChanged


class SqlOpportunitiesUnitOfWork(SqlUnitOfWork):
    opportunities: SqlOpportunityRepository
    create_requests: SqlCreateRequestLog
    sales_stages: SqlSalesStageStore
    exchange_rates: SqlExchangeRateStore
    stage_history: SqlStageHistory
    converter: CurrencyConverter
    seen: SeenByUnitOfWork

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        outbox: OutboxContext,
        *,
        base_currency: str,
        stage_cache: SalesStageCatalogCache,
        reach: Reach,
    ) -> None:
        super().__init__(session_factory, outbox)
        self.base_currency = base_currency
        self._stage_cache = stage_cache
        self._reach = reach

    def __enter__(self) -> SqlOpportunitiesUnitOfWork:
        super().__enter__()
        self.seen = SeenAggregates()
        self.sales_stages = SqlSalesStageStore(self.session, self._stage_cache, self.seen)
        self.opportunities = SqlOpportunityRepository(self.session, self._reach, self.sales_stages, self.seen)
        self.create_requests = SqlCreateRequestLog(self.session)
        self.exchange_rates = SqlExchangeRateStore(self.session, self.seen)
        self.stage_history = SqlStageHistory(self.session)
        self.converter = CurrencyConverter(self.base_currency, self.exchange_rates)
        return self

    def hold_configuration(self, *, exclusive: bool) -> None:
        # The configuration is guarded by the opportunities table's own lock: a change takes it in
        # EXCLUSIVE mode, which waits for and then blocks every SELECT ... FOR UPDATE, UPDATE,
        # INSERT and DELETE of deals (their ROW SHARE / ROW EXCLUSIVE locks) but not plain reads.
        # Deal changes get the shared side for free from the SELECT ... FOR UPDATE they start with;
        # creates take ROW SHARE explicitly. PostgreSQL takes a statement's snapshot after its table
        # locks, so a write that waited sees the committed configuration (READ COMMITTED).
        # SQLite transactions begin IMMEDIATE and so run one at a time already.
        if self.session.get_bind().dialect.name != "postgresql":
            return
        self.session.execute(_LOCK_EXCLUSIVE if exclusive else _LOCK_SHARED)

    def can_reach(self, caller: Identity, user_id: str) -> bool:
        return self._reach.can_reach(self.session, caller, user_id)

    def member_active(self, user_id: str) -> bool | None:
        return self._reach.is_active(self.session, user_id)

    def collect_new_events(self) -> Iterator[OutboxEvent]:
        """Take the pending events of every aggregate seen in this transaction, in the order they
        were seen; a deal's stage moves enter its stage history on the way, in this transaction."""
        for aggregate in self.seen:
            while aggregate.events:
                event = aggregate.events.pop(0)
                if isinstance(event, OpportunityChanged):
                    self._enter_stage_history(event)
                yield outbox_event(event)

    def _enter_stage_history(self, event: OpportunityChanged) -> None:
        state = event.opportunity
        created = event.kind is ChangeKind.CREATED
        if created or event.previous_sales_stage is not None:
            self.stage_history.enter(state.id, state.sales_stage, state.updated_at, self.actor, first=created)


def outbox_event(event: OpportunitiesEvent) -> OutboxEvent:
    """The outbox row of a domain event: its contract payload, and the aggregate it concerns."""
    if isinstance(event, OpportunityChanged):
        return OutboxEvent(
            payload=changed_event(event),
            aggregate_type=OPPORTUNITY_AGGREGATE,
            aggregate_id=event.opportunity.id,
            aggregate_version=event.opportunity.version,
        )
    if isinstance(event, SalesStagesChanged):
        return OutboxEvent(
            payload=sales_stages_changed(event.catalog),
            aggregate_type=SALES_STAGES_AGGREGATE,
            aggregate_id=SALES_STAGES_ID,
            aggregate_version=event.catalog.revision,
        )
    rate = event.rate
    return OutboxEvent(
        payload=exchange_rate_changed(rate),
        aggregate_type=EXCHANGE_RATE_AGGREGATE,
        aggregate_id=f"{rate.currency}/{rate.effective_from.isoformat()}",
        aggregate_version=rate.version,
    )
