"""Dates a definition may give: a day, an instant, or a period relative to the run's day
("this_fiscal_quarter", "last_30_days"), resolved when the report runs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from salesplane_reporting.domain.fiscal_calendar import FiscalCalendar, add_months

LAST_N_DAYS = re.compile(r"(last|next)_([1-9][0-9]{0,3})_days")
RELATIVE_PERIODS = (
    "today",
    "yesterday",
    "this_week",
    "last_week",
    "this_month",
    "last_month",
    "next_month",
    "this_fiscal_quarter",
    "last_fiscal_quarter",
    "next_fiscal_quarter",
    "this_fiscal_year",
    "last_fiscal_year",
    "next_fiscal_year",
)


@dataclass(frozen=True)
class RelativeDate:
    name: str


DateValue = date | datetime | RelativeDate


def parse_date_value(text: str) -> DateValue | None:
    """A day (YYYY-MM-DD), an RFC 3339 instant, or a relative period; None if none of them."""
    if text in RELATIVE_PERIODS or LAST_N_DAYS.fullmatch(text):
        return RelativeDate(text)
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if instant.tzinfo is None:
        return None
    return instant.astimezone(UTC)


def period_of(value: RelativeDate, today: date, calendar: FiscalCalendar) -> tuple[date, date]:
    """The first and last day (inclusive) of a relative period."""
    name = value.name
    matched = LAST_N_DAYS.fullmatch(name)
    if matched:
        days = int(matched[2])
        if matched[1] == "last":
            return today - timedelta(days=days - 1), today
        return today, today + timedelta(days=days - 1)
    if name in ("today", "yesterday"):
        day = today if name == "today" else today - timedelta(days=1)
        return day, day
    if name.endswith("week"):
        monday = today - timedelta(days=today.weekday())
        if name == "last_week":
            monday -= timedelta(days=7)
        return monday, monday + timedelta(days=6)
    if name.endswith("month"):
        start = add_months(date(today.year, today.month, 1), {"this_month": 0, "last_month": -1}.get(name, 1))
        return start, add_months(start, 1) - timedelta(days=1)
    step = {"this": 0, "last": -1, "next": 1}[name.split("_", 1)[0]]
    if name.endswith("quarter"):
        start = add_months(calendar.quarter_start(today), 3 * step)
        return start, add_months(start, 3) - timedelta(days=1)
    start = add_months(calendar.year_start(today), 12 * step)
    return start, add_months(start, 12) - timedelta(days=1)


def start_instant(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def point_instant(value: DateValue, today: date, calendar: FiscalCalendar) -> datetime:
    """A value read as an instant: a day means its end (the state at the close of that day, UTC),
    a relative period the end of its last day, capped at now is the caller's business."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, RelativeDate):
        value = period_of(value, today, calendar)[1]
    return start_instant(value + timedelta(days=1))


def point_date(value: DateValue, today: date, calendar: FiscalCalendar) -> date:
    """A value read as a day: a relative period means its first day."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, RelativeDate):
        return period_of(value, today, calendar)[0]
    return value
