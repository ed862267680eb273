"""Report sources computed in Python rather than selected in SQL (attribution splits each deal
with the domain's models): a temporary table that the engine creates and fills when it
materializes the run's source, so grouping, filters, totals and charts then work on it as on any
other source.

A builder returns `computed_table(...)`: the table's columns and a producer of row batches, run
only when the engine materializes it (in the run's transaction, on its connection)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import Column, Connection, FromClause, MetaData, Table

RowBatches = Callable[[], Iterator[Sequence[Sequence[Any]]]]
_PRODUCER = "salesplane_reporting.computed_rows"


def computed_table(name: str, columns: Sequence[Column[Any]], batches: RowBatches) -> Table:
    table = Table(f"report_{name}_{uuid.uuid4().hex[:12]}", MetaData(), *columns, prefixes=["TEMPORARY"])
    table.info[_PRODUCER] = batches
    return table


def is_computed(source: FromClause) -> bool:
    return isinstance(source, Table) and _PRODUCER in source.info


def fill(table: Table, connection: Connection) -> None:
    """Create the temporary table and write every batch the producer gives: COPY on PostgreSQL
    (psycopg), batched INSERTs elsewhere. Each batch is written before the next is computed, so
    the producer may query the same connection between batches."""
    table.create(connection)
    names = [c.name for c in table.c]
    copy_into = _copier(table, connection, names)
    for batch in table.info[_PRODUCER]():
        if not batch:
            continue
        if copy_into is not None:
            copy_into(batch)
        else:
            connection.execute(table.insert(), [dict(zip(names, row, strict=True)) for row in batch])


def _copier(
    table: Table, connection: Connection, names: Sequence[str]
) -> Callable[[Sequence[Sequence[Any]]], None] | None:
    if connection.dialect.name != "postgresql" or connection.dialect.driver != "psycopg":
        return None
    raw: Any = connection.connection.driver_connection
    # The table's name is generated here and its columns come from the source's catalogue.
    statement = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"

    def copy_into(batch: Sequence[Sequence[Any]]) -> None:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in batch:
                copy.write_row(row)

    return copy_into
