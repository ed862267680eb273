"""The first day of the day, week, month, fiscal quarter or fiscal year a date or timestamp falls
in, as one SQL expression per dialect (PostgreSQL in production, SQLite embedded). Timestamps are
stored in UTC and grouped by their UTC day."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, DateTime
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

GRAINS = ("day", "week", "month", "fiscal_quarter", "fiscal_year")


class period_start(FunctionElement[Any]):
    type = Date()
    inherit_cache = False

    def __init__(self, expression: ColumnElement[Any], grain: str, start_month: int) -> None:
        if grain not in GRAINS or not 1 <= start_month <= 12:
            raise ValueError(f"no period {grain!r} with a fiscal year starting in month {start_month}")
        self.grain = grain
        self.offset = start_month - 1
        super().__init__(expression)


def _argument(element: period_start, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(next(iter(element.clauses)), **kw)


@compiles(period_start, "postgresql")
def _postgresql(element: period_start, compiler: SQLCompiler, **kw: Any) -> str:
    # A timestamptz is read in UTC. A date is cast as it is: AT TIME ZONE would first make it a
    # timestamp in the session's zone and could move it to the day before.
    argument = _argument(element, compiler, **kw)
    if isinstance(next(iter(element.clauses)).type, DateTime):
        day = f"CAST(({argument}) AT TIME ZONE 'UTC' AS DATE)"
    else:
        day = f"CAST(({argument}) AS DATE)"
    if element.grain == "day":
        return day
    if element.grain in ("week", "month"):
        return f"CAST(date_trunc('{element.grain}', {day}) AS DATE)"
    unit = "quarter" if element.grain == "fiscal_quarter" else "year"
    shift = f"interval '{element.offset} months'"
    return f"CAST(date_trunc('{unit}', {day} - {shift}) + {shift} AS DATE)"


@compiles(period_start, "sqlite")
def _sqlite(element: period_start, compiler: SQLCompiler, **kw: Any) -> str:
    value = _argument(element, compiler, **kw)
    if element.grain == "day":
        return f"date({value})"
    if element.grain == "week":
        # Back to Monday: six days back, then forward to the next Monday (or the same day).
        return f"date({value}, 'start of day', '-6 days', 'weekday 1')"
    if element.grain == "month":
        return f"date({value}, 'start of month')"
    shifted = f"date({value}, 'start of month', '-{element.offset} months')"
    if element.grain == "fiscal_year":
        return f"date({shifted}, 'start of year', '+{element.offset} months')"
    months_into_quarter = f"((CAST(strftime('%m', {shifted}) AS INTEGER) - 1) % 3)"
    return f"date({shifted}, '-' || {months_into_quarter} || ' months', '+{element.offset} months')"
