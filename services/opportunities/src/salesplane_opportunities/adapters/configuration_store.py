"""SQL storage of the configuration deals depend on: the sales-stage list and exchange rates."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from salesplane_opportunities.adapters import tables
from salesplane_opportunities.adapters.seen_aggregates import SeenByUnitOfWork
from salesplane_opportunities.domain.exchange_rates import AppliedRate, ExchangeRate
from salesplane_opportunities.domain.sales_stages import SalesStage, SalesStageCatalog
from salesplane_platform.db import as_utc, upsert_statement

_CATALOG_ROW = 1
CATALOG_REVISION = select(tables.sales_stage_revision.c.revision).where(
    tables.sales_stage_revision.c.id == _CATALOG_ROW
)


class SalesStageCatalogCache:
    """The newest stage list this process has read, shared by all its units of work.

    Every deal write needs the catalog; reading one revision number instead of the whole table
    keeps writes fast. A catalog never changes under a revision, so a transaction that reads
    revision r may use the cached catalog of revision r whatever the other transactions do."""

    def __init__(self) -> None:
        self._held: SalesStageCatalog | None = None
        self._lock = threading.Lock()

    def catalog(self, session: Session, revision: int | None = None) -> SalesStageCatalog:
        """The catalog of `revision`, or of the revision stored now when not given."""
        if revision is None:
            revision = session.execute(CATALOG_REVISION).scalar_one()
        held = self._held
        if held is not None and held.revision == revision:
            return held
        stages = tables.sales_stages
        # Rows and revision from one snapshot, so a catalog always carries its own revision.
        rows = session.execute(
            select(stages, CATALOG_REVISION.scalar_subquery().label("catalog_revision")).order_by(
                stages.c.position
            )
        ).all()
        revision = rows[0].catalog_revision
        loaded = SalesStageCatalog(
            [SalesStage(r.name, r.default_probability, is_won=r.is_won, is_lost=r.is_lost) for r in rows],
            revision,
        )
        with self._lock:
            # A transaction with an older snapshot must not push out a newer catalog.
            if self._held is None or self._held.revision < revision:
                self._held = loaded
        return loaded


class SqlSalesStageStore:
    """Notes the catalogs it hands out in `seen`, for the unit of work to collect their events."""

    def __init__(self, session: Session, cache: SalesStageCatalogCache, seen: SeenByUnitOfWork) -> None:
        self._session = session
        self._cache = cache
        self._seen = seen
        self._current: SalesStageCatalog | None = None
        self._observed_revision: int | None = None

    def observe_revision(self, revision: int) -> None:
        """The revision as another query of this transaction read it, saving a round trip."""
        self._observed_revision = revision

    def current(self) -> SalesStageCatalog:
        if self._current is None:
            self._current = self._cache.catalog(self._session, self._observed_revision)
            self._seen.add(self._current)
        return self._current

    def replace(self, stages: Sequence[SalesStage]) -> SalesStageCatalog:
        replacement = self.current().replaced_with(stages)
        self._session.execute(delete(tables.sales_stages))
        self._session.execute(
            insert(tables.sales_stages),
            [
                {
                    "name": stage.name,
                    "position": position,
                    "default_probability": stage.default_probability,
                    "is_won": stage.is_won,
                    "is_lost": stage.is_lost,
                }
                for position, stage in enumerate(stages)
            ],
        )
        revisions = tables.sales_stage_revision
        self._session.execute(
            update(revisions).where(revisions.c.id == _CATALOG_ROW).values(revision=replacement.revision)
        )
        self._current = replacement
        self._seen.add(replacement)
        return replacement


class SqlExchangeRateStore:
    """Notes the rates it hands out or is given in `seen`, for the unit of work to collect their
    events."""

    def __init__(self, session: Session, seen: SeenByUnitOfWork) -> None:
        self._session = session
        self._seen = seen

    def rate_on(self, currency: str, base_currency: str, on: date) -> AppliedRate | None:
        rates = tables.exchange_rates
        row = self._session.execute(
            select(rates.c.rate, rates.c.effective_from)
            .where(
                rates.c.base_currency == base_currency,
                rates.c.currency == currency,
                rates.c.effective_from <= on,
            )
            .order_by(rates.c.effective_from.desc())
            .limit(1)
        ).one_or_none()
        return None if row is None else AppliedRate(row.rate, row.effective_from)

    def list(self, base_currency: str, currency: str | None = None) -> list[ExchangeRate]:
        rates = tables.exchange_rates
        statement = select(rates).where(rates.c.base_currency == base_currency)
        if currency is not None:
            statement = statement.where(rates.c.currency == currency)
        rows = self._session.execute(statement.order_by(rates.c.currency, rates.c.effective_from))
        listed = [
            ExchangeRate(
                currency=row.currency,
                base_currency=row.base_currency,
                rate=row.rate,
                effective_from=row.effective_from,
                set_at=as_utc(row.set_at),
                version=row.version,
            )
            for row in rows
        ]
        self._seen.add_all(listed)
        return listed

    def put(self, rate: ExchangeRate) -> None:
        statement = upsert_statement(
            self._session,
            tables.exchange_rates,
            ["base_currency", "currency", "effective_from"],
            ["rate", "version", "set_at"],
        )
        self._session.execute(
            statement.values(
                base_currency=rate.base_currency,
                currency=rate.currency,
                effective_from=rate.effective_from,
                rate=rate.rate,
                version=rate.version,
                set_at=rate.set_at,
            )
        )
        self._seen.add(rate)
