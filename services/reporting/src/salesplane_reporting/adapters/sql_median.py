"""The median as an SQL aggregate in both dialects: PostgreSQL's percentile_cont, and on SQLite (which
has none) a Python aggregate registered on each connection the first time a report needs it.

Both give the middle value, or the mean of the two middle values, of the non-empty values, as a
double: exact for the whole numbers reported (seconds, minor units) below 2**52."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

SQLITE_FUNCTION = "salesplane_median"
_REGISTERED = "salesplane_median_registered"


class median(FunctionElement[Any]):
    type = Float()
    inherit_cache = True

    def __init__(self, expression: ColumnElement[Any]) -> None:
        super().__init__(expression)


def _argument(element: median, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(next(iter(element.clauses)), **kw)


@compiles(median, "postgresql")
def _postgresql(element: median, compiler: SQLCompiler, **kw: Any) -> str:
    return f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {_argument(element, compiler, **kw)})"


@compiles(median, "sqlite")
def _sqlite(element: median, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_FUNCTION}({_argument(element, compiler, **kw)})"


class _SqliteMedian:
    """The aggregate SQLite calls: step once per row, finalize once per group."""

    def __init__(self) -> None:
        self._values: list[int | float] = []

    def step(self, value: int | float | None) -> None:
        if value is not None:
            self._values.append(value)

    def finalize(self) -> float | None:
        return median_of(self._values)


def median_of(values: list[int | float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2


def ensure_median(session: Session) -> None:
    """Make `median` available on the session's SQLite connection (PostgreSQL has it built in).
    Registered per DB-API connection and remembered in its pool record, so once per connection."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    pooled = connection.connection
    if pooled.info.get(_REGISTERED):
        return
    raw: Any = pooled.dbapi_connection
    raw.create_aggregate(SQLITE_FUNCTION, 1, _SqliteMedian)
    pooled.info[_REGISTERED] = True
