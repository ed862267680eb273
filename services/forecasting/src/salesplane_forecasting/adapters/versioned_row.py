"""One-row settings tables saved with optimistic concurrency: version 1 inserts the row, every later
version updates it only where the stored version is the one before. Forecast and inspection
settings are stored this way."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Table, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from salesplane_platform.errors import Conflict


def save_versioned_row(
    session: Session, table: Table, row_id: str, version: int, values: dict[str, Any], concurrent: Conflict
) -> None:
    """Store `values` (which include `version`) as the row `row_id`; `concurrent` when another
    writer saved that version first."""
    if version == 1:
        # A savepoint keeps the transaction usable when another first save won the primary key.
        try:
            with session.begin_nested():
                session.execute(insert(table).values(id=row_id, **values))
        except IntegrityError:
            raise concurrent from None
        return
    # The version guard turns a concurrent writer's change into a conflict instead of a lost update.
    # An UPDATE executes as a CursorResult (it has the row count); Session.execute is typed Result.
    result = cast(
        CursorResult[Any],
        session.execute(
            update(table).where(table.c.id == row_id, table.c.version == version - 1).values(**values)
        ),
    )
    if result.rowcount != 1:
        raise concurrent
