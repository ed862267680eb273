"""What every report source is built from: the run's context (session, the caller's scope, the
calendar, the fields used) and the two helpers each source applies, its scope condition and its
final labelled SELECT. Kept apart from report_sources so that sources in their own modules
(funnel, attribution, campaign performance) need not import the registry that imports them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, select, true
from sqlalchemy.orm import Session

from salesplane_reporting.domain.fiscal_calendar import FiscalCalendar

CURRENCY = "__currency"


@dataclass(frozen=True)
class SourceContext:
    session: Session
    # SELECT of the user ids whose records the caller sees; None: everybody's.
    visible_users: Select[Any] | None
    # The user "team" is relative to: a row's team is the viewpoint's direct report above its owner.
    viewpoint: str
    today: date
    now: datetime
    calendar: FiscalCalendar
    base_currency: str
    # Which fields the definition uses (to join only what is needed).
    used: frozenset[str]
    # The organisation "team" follows: None as it is now, else as it was at this instant.
    org_instant: datetime | None = None


def in_scope(column: ColumnElement[Any], context: SourceContext) -> ColumnElement[bool]:
    """The caller may read rows whose user is in `column`'s value set (always, for everybody's)."""
    if context.visible_users is None:
        return true()
    return column.in_(context.visible_users)


def select_source(
    columns: dict[str, ColumnElement[Any]], base: FromClause, *where: ColumnElement[bool]
) -> FromClause:
    """The source as a subquery whose columns are the catalogue's field names."""
    return (
        select(*(expression.label(name) for name, expression in columns.items()))
        .select_from(base)
        .where(*where)
        .subquery("src")
    )
