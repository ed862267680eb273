"""The SQL unit of work: deals, configuration, stage history and outbox events commit together."""

from __future__ import annotations

import zlib

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

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
# One PostgreSQL advisory lock guards the configuration against deal writes (see hold_configuration).
CONFIGURATION_LOCK = zlib.crc32(b"salesplane-opportunities:configuration")


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
        # SQLite transactions begin IMMEDIATE and so run one at a time already. On PostgreSQL
        # (READ COMMITTED) each later statement of the transaction sees everything committed before
        # the lock was granted, which is what makes holding it first sufficient.
        if self.session.get_bind().dialect.name != "postgresql":
            return
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        self.session.execute(text(f"SELECT {function}(:key)"), {"key": CONFIGURATION_LOCK})

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
            if event.kind is ChangeKind.CREATED or event.previous_sales_stage is not None:
                self.stage_history.enter(opportunity.id, state.sales_stage, state.updated_at, actor)
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
