"""ListOpportunities as SQL: filters, order and the keyset condition (PostgreSQL and SQLite)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, literal, or_, select, tuple_

from salesplane_opportunities.adapters.tables import opportunities
from salesplane_opportunities.domain.listing import OpportunityQuery, OrderField

_c = opportunities.c

# Plain columns, so the (column, id) indexes serve both the order and the keyset condition.
SORT_COLUMNS: dict[OrderField, ColumnElement[Any]] = {
    OrderField.EXPECTED_CLOSE_DATE: _c.expected_close_date,
    # Deals not valued yet hold 0 here (see domain.listing.UNVALUED_SORT_AMOUNT).
    OrderField.AMOUNT_BASE: _c.amount_base_minor,
    OrderField.NAME: _c.name,
    OrderField.UPDATE_TIME: _c.updated_at,
    OrderField.PROBABILITY: _c.probability,
}


def list_statement(query: OpportunityQuery, visible_owners: Select[tuple[str]] | None) -> Select[Any]:
    """SELECT of page_size + 1 rows (the extra one tells whether another page follows)."""
    wanted = query.filter
    statement = select(opportunities)
    if visible_owners is not None:
        statement = statement.where(_c.owner_user_id.in_(visible_owners))
    if wanted.owner_user_ids:
        statement = statement.where(_c.owner_user_id.in_(wanted.owner_user_ids))
    if wanted.sales_stages:
        statement = statement.where(_c.sales_stage.in_(wanted.sales_stages))
    if wanted.statuses:
        statement = statement.where(_c.status.in_([s.value for s in wanted.statuses]))
    if wanted.close_date_from is not None:
        statement = statement.where(_c.expected_close_date >= wanted.close_date_from)
    if wanted.close_date_to is not None:
        statement = statement.where(_c.expected_close_date <= wanted.close_date_to)
    if wanted.amount_base_min is not None or wanted.amount_base_max is not None:
        statement = statement.where(_c.base_currency.is_not(None))
    if wanted.amount_base_min is not None:
        statement = statement.where(_c.amount_base_minor >= wanted.amount_base_min)
    if wanted.amount_base_max is not None:
        statement = statement.where(_c.amount_base_minor <= wanted.amount_base_max)
    if wanted.text:
        statement = statement.where(
            or_(
                _c.name.icontains(wanted.text, autoescape=True),
                _c.account_name.icontains(wanted.text, autoescape=True),
                _c.next_step.icontains(wanted.text, autoescape=True),
            )
        )
    if wanted.lead_id:
        statement = statement.where(_c.lead_id == wanted.lead_id)
    if wanted.campaign_id:
        statement = statement.where(_c.campaign_id == wanted.campaign_id)

    key = SORT_COLUMNS[wanted.order_by]
    if query.after is not None:
        position = tuple_(literal(query.after.sort_value, key.type), literal(query.after.opportunity_id))
        row_key = tuple_(key, _c.id)
        statement = statement.where(row_key < position if wanted.descending else row_key > position)
    if wanted.descending:
        statement = statement.order_by(key.desc(), _c.id.desc())
    else:
        statement = statement.order_by(key, _c.id)
    return statement.limit(query.page_size + 1)
