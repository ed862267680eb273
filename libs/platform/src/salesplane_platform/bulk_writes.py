"""Many-row upserts in one statement: the consumer's hot path.

An executemany of N rows costs N statement executions, and in Python N parameter sets bound one by
one. On PostgreSQL the rows instead travel as one array per column and are spread back into rows
by `unnest`: one statement, one round trip, and the driver adapts each column as a single array.
SQLite (the embedded default) keeps the executemany, which is cheap in-process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg.rows import namedtuple_row
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

# How an update column takes the incoming value: replaced by it, or increased by it.
REPLACE = "replace"
ADD = "add"


def bulk_upsert(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    keys: Sequence[str],
    update: Mapping[str, str],
) -> None:
    """INSERT the rows (tuples in `columns` order); on a key conflict apply `update` (column ->
    REPLACE or ADD), or do nothing when it is empty. No two rows may share a key. Rows are written
    in key order, so concurrent writers of overlapping rows cannot deadlock."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        _executemany(
            session, table, [dict(zip(columns, row, strict=True)) for row in rows], keys=keys, update=update
        )
        return
    staging = _staging_table(session, table)
    names = ", ".join(columns)
    if update:
        assignments = ", ".join(
            f"{c} = {table.name}.{c} + EXCLUDED.{c}" if how == ADD else f"{c} = EXCLUDED.{c}"
            for c, how in update.items()
        )
        conflict = f"DO UPDATE SET {assignments}"
    else:
        conflict = "DO NOTHING"
    connection = _driver_connection(session)
    types = _copy_types(table, columns)
    with connection.cursor() as cursor:
        # COPY streams the rows through psycopg's C row formatter: far cheaper per value than
        # binding them as statement parameters, and one round trip for the lot. In the binary
        # format (when every column's type is known) numbers and timestamps travel as their bytes,
        # so neither psycopg formats nor PostgreSQL parses them as text.
        options = " (FORMAT BINARY)" if types else ""
        with cursor.copy(f"COPY {staging} ({names}) FROM STDIN{options}") as copy:
            if types:
                copy.set_types(types)
            write_row = copy.write_row
            for row in rows:
                write_row(row)
        cursor.execute(
            # In key order, so concurrent writers lock the rows they share in the same order.
            f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {staging} "
            f"ORDER BY {', '.join(keys)} ON CONFLICT ({', '.join(keys)}) {conflict}"
        )
        # Emptied now, not only at commit: a second upsert into the same table in this transaction
        # must not see these rows again.
        cursor.execute(f"TRUNCATE {staging}")


def _staging_table(session: Session, table: Table) -> str:
    """A temporary table shaped like `table`, private to the connection, emptied after every use
    and at every commit. Asked for every time (a catalog lookup): remembering it per connection would go wrong
    after a rollback of the transaction that made it."""
    staging = f"staging_{table.name}"
    session.execute(
        text(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} "
            f"(LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
    )
    return staging


def _executemany(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str],
    update: Mapping[str, str],
) -> None:
    statement = sqlite.insert(table)
    if update:
        statement = statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={
                c: table.c[c] + statement.excluded[c] if how == ADD else statement.excluded[c]
                for c, how in update.items()
            },
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(keys))
    session.execute(statement, list(rows))


def _copy_types(table: Table, columns: Sequence[str]) -> list[str] | None:
    """The PostgreSQL types to send `columns` of `table` as in a binary COPY, or None (then text)
    when one of them has no binary form here."""
    try:
        return [_array_type(table.c[c].type).removesuffix("[]") for c in columns]
    except TypeError:
        return None


def _array_type(column_type: TypeEngine[Any]) -> str:
    # Order matters: BigInteger is an Integer, Text a String.
    for kind, sql in (
        (BigInteger, "bigint[]"),
        (Integer, "integer[]"),
        (Boolean, "boolean[]"),
        (DateTime, "timestamptz[]"),
        (Date, "date[]"),
        (LargeBinary, "bytea[]"),
        (Text, "text[]"),
        (String, "text[]"),
    ):
        if isinstance(column_type, kind):
            return sql
    raise TypeError(f"no array type for {column_type!r}")


def bulk_lookup(
    session: Session,
    table: Table,
    *,
    keys: Sequence[str],
    values: Sequence[Sequence[Any]],
    columns: Sequence[str],
    for_update: bool = False,
) -> list[Any]:
    """The rows whose key columns equal one of `values` (tuples in `keys` order), as `columns`.

    On PostgreSQL the keys travel as arrays joined through unnest: one bind parameter per key
    column however many keys, so nothing is compiled or planned per batch size."""
    if not values:
        return []
    if session.get_bind().dialect.name != "postgresql":
        found: list[Any] = []
        key_columns = [table.c[k] for k in keys]
        matcher = tuple_(*key_columns) if len(keys) > 1 else key_columns[0]
        for start in range(0, len(values), 500):
            chunk = values[start : start + 500]
            wanted = [tuple(v) for v in chunk] if len(keys) > 1 else [v[0] for v in chunk]
            query = select(*[table.c[c] for c in columns]).where(matcher.in_(wanted))
            found.extend(session.execute(query).all())
        return found
    arrays = ", ".join(f"CAST(%(k{i})b AS {_array_type(table.c[k].type)})" for i, k in enumerate(keys))
    names = ", ".join(f"k{i}" for i in range(len(keys)))
    joined = " AND ".join(f"t.{k} = wanted.k{i}" for i, k in enumerate(keys))
    statement = (
        f"SELECT {', '.join(f't.{c}' for c in columns)} FROM {table.name} AS t "
        f"JOIN unnest({arrays}) AS wanted({names}) ON {joined}"
    )
    if for_update:
        statement += f" ORDER BY {', '.join(f't.{k}' for k in keys)} FOR UPDATE OF t"
    parameters = {f"k{i}": [v[i] for v in values] for i in range(len(keys))}
    return _execute_binary(session, statement, parameters, fetch=True)


def _execute_binary(
    session: Session, statement: str, parameters: Mapping[str, Any], *, fetch: bool = False
) -> list[Any]:
    """Run on the session's own connection (so inside its transaction) with parameters sent in
    binary: psycopg then writes each array element as bytes, where the text format would escape
    and quote every element, which costs more than the rest of a batch together."""
    connection = _driver_connection(session)
    with connection.cursor(row_factory=namedtuple_row) as cursor:
        cursor.execute(statement, parameters, binary=True)
        return cursor.fetchall() if fetch else []


def _driver_connection(session: Session) -> Any:
    """The session's psycopg connection (PostgreSQL only), inside the session's transaction."""
    connection = session.connection().connection.driver_connection
    if connection is None:
        raise RuntimeError("the session's connection has no driver connection")
    return connection
