"""The SQL unit of work: deals, configuration, stage history and outbox events commit together."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from salesplane_opportunities.adapters import tables
from salesplane_opportunities.adapters.proto_mapping import (
    changed_event,
    exchange_rate_changed,
    sales_stages_changed,
)
from salesplane_opportunities.adapters.sql_configuration import (
    SalesStageCatalogCache,
    SqlExchangeRateStore,
    SqlSalesStageStore,
)
from salesplane_opportunities.adapters.sql_opportunities import (
    SqlCreateRequestLog,
    SqlOpportunityRepository,
    SqlStageHistory,
)
from salesplane_opportunities.domain.exchange_rates import CurrencyConverter, ExchangeRate
from salesplane_opportunities.domain.opportunity import ChangeKind, Opportunity
from salesplane_opportunities.domain.sales_stages import SalesStageCatalog
from salesplane_platform.identity import Identity
from salesplane_platform.org_replica import Reach
from salesplane_platform.unit_of_work import OutboxContext, SqlUnitOfWork

OPPORTUNITY_AGGREGATE = "opportunity"
SALES_STAGES_AGGREGATE = "sales_stages"
SALES_STAGES_ID = "catalog"
EXCHANGE_RATE_AGGREGATE = "exchange_rate"
_LOCK_EXCLUSIVE = text(f"LOCK TABLE {tables.opportunities.name} IN EXCLUSIVE MODE")
_LOCK_SHARED = text(f"LOCK TABLE {tables.opportunities.name} IN ROW SHARE MODE")


class SqlOpportunitiesUnitOfWork(SqlUnitOfWork):
    opportunities: SqlOpportunityRepository
    create_requests: SqlCreateRequestLog
    sales_stages: SqlSalesStageStore
    exchange_rates: SqlExchangeRateStore
    stage_history: SqlStageHistory
    converter: CurrencyConverter

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
        self.sales_stages = SqlSalesStageStore(self.session, self._stage_cache)
        self.opportunities = SqlOpportunityRepository(self.session, self._reach, self.sales_stages)
        self.create_requests = SqlCreateRequestLog(self.session)
        self.exchange_rates = SqlExchangeRateStore(self.session)
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

    def record_events(self, opportunity: Opportunity, *, actor: str) -> None:
        for event in opportunity.events:
            state = event.opportunity
            self.record_event(
                payload=changed_event(event),
                aggregate_type=OPPORTUNITY_AGGREGATE,
                aggregate_id=opportunity.id,
                aggregate_version=state.version,
                actor=actor,
            )
            created = event.kind is ChangeKind.CREATED
            if created or event.previous_sales_stage is not None:
                self.stage_history.enter(
                    opportunity.id, state.sales_stage, state.updated_at, actor, first=created
                )
        opportunity.events.clear()

    def record_sales_stages_changed(self, catalog: SalesStageCatalog, *, actor: str) -> None:
        self.record_event(
            payload=sales_stages_changed(catalog),
            aggregate_type=SALES_STAGES_AGGREGATE,
            aggregate_id=SALES_STAGES_ID,
            aggregate_version=catalog.revision,
            actor=actor,
        )

    def record_exchange_rate_changed(self, rate: ExchangeRate, *, actor: str) -> None:
        self.record_event(
            payload=exchange_rate_changed(rate),
            aggregate_type=EXCHANGE_RATE_AGGREGATE,
            aggregate_id=f"{rate.currency}/{rate.effective_from.isoformat()}",
            aggregate_version=rate.version,
            actor=actor,
        )
