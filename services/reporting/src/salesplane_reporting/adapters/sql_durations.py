"""Whole seconds between two timestamps as one SQL expression per dialect (PostgreSQL in
production, SQLite embedded). Each instant is cut to its second first, so both dialects give the
same integer; empty when either instant is."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement


class seconds_between(FunctionElement[Any]):
    type = BigInteger()
    inherit_cache = True

    def __init__(self, start: ColumnElement[Any], end: ColumnElement[Any]) -> None:
        super().__init__(start, end)


def _arguments(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return start, end


@compiles(seconds_between, "postgresql")
def _postgresql(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = _arguments(element, compiler, **kw)
    return (
        f"(CAST(floor(EXTRACT(EPOCH FROM {end})) AS BIGINT)"
        f" - CAST(floor(EXTRACT(EPOCH FROM {start})) AS BIGINT))"
    )


@compiles(seconds_between, "sqlite")
def _sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    # Timestamps are stored as UTC text; strftime('%s') reads one as whole seconds since the epoch.
    start, end = _arguments(element, compiler, **kw)
    return f"(CAST(strftime('%s', {end}) AS INTEGER) - CAST(strftime('%s', {start}) AS INTEGER))"
