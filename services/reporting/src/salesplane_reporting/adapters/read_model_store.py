"""The read models in SQL: written by the event handler, queried by reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from salesplane_platform.db import upsert_statement
from salesplane_platform.money import Money
from salesplane_reporting.adapters import tables
from salesplane_reporting.domain.read_models import (
    OPPORTUNITY_DIMENSIONS,
    LeadView,
    OpportunityTotal,
    OpportunityView,
)

_OPPORTUNITY_COLUMNS = [c.name for c in tables.opportunity_view.columns if c.name != "id"]
_LEAD_COLUMNS = [c.name for c in tables.lead_view.columns if c.name != "id"]


class SqlReadModels:
    def __init__(self, session: Session) -> None:
        self._session = session

    def save_opportunities(self, views: Sequence[OpportunityView]) -> None:
        """Insert or replace; each id at most once."""
        if views:
            statement = upsert_statement(self._session, tables.opportunity_view, ["id"], _OPPORTUNITY_COLUMNS)
            self._session.execute(statement, [asdict(v) for v in views])

    def remove_opportunities(self, ids: Sequence[str]) -> None:
        if ids:
            self._session.execute(
                delete(tables.opportunity_view).where(tables.opportunity_view.c.id.in_(ids))
            )

    def save_leads(self, views: Sequence[LeadView]) -> None:
        """Insert or replace; each id at most once."""
        if views:
            statement = upsert_statement(self._session, tables.lead_view, ["id"], _LEAD_COLUMNS)
            self._session.execute(statement, [asdict(v) for v in views])

    def opportunity_totals(self, *, group_by: Sequence[str]) -> list[OpportunityTotal]:
        if unknown := set(group_by) - OPPORTUNITY_DIMENSIONS:
            raise ValueError(f"cannot group opportunities by {sorted(unknown)}")
        view = tables.opportunity_view.c
        groups = [*(view[name] for name in group_by), view.currency]
        rows = self._session.execute(
            select(*groups, func.count(), func.sum(view.amount_minor)).group_by(*groups)
        ).all()
        width = len(group_by)
        return [
            OpportunityTotal(
                key=tuple(row[:width]),
                count=int(row[width + 1]),
                # PostgreSQL sums BIGINT as NUMERIC.
                amount=Money(row[width], int(row[width + 2])),
            )
            for row in rows
        ]
