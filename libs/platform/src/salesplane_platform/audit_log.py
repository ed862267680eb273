"""The audit log every service keeps of the changes to what it owns.

An entry is written by the unit of work in the same transaction as the change: one for every event
the change raises (the event's payload is the record's new state), and one for each planning change
that raises no event (a quota draft, a manager's adjustment). So there is no change without its
entry and no entry without its change, whatever is killed when. The table is append-only (the
migration installs triggers that refuse UPDATE and DELETE), and each entry is published on the audit
topic through the outbox.

"From what, to what" is not stored twice: an entry keeps the record's state after the change, and
the reader compares it with the subject's previous entry (`field_changes`)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    Text,
    and_,
    func,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

AUDIT_TABLE = "audit_log"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class _Missing:
    """A field one side of a change does not have (added or removed)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


def define_audit_table(metadata: MetaData) -> Table:
    return Table(
        AUDIT_TABLE,
        metadata,
        Column("entry_id", String(36), primary_key=True),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("actor", Text, nullable=False),
        Column("request_id", String(128), nullable=False),
        Column("subject_type", String(64), nullable=False),
        Column("subject_id", Text, nullable=False),
        Column("subject_version", BigInteger, nullable=False),
        Column("action", String(200), nullable=False),
        Column("state", Text, nullable=False),
        Index("ix_audit_log_time", "occurred_at", "entry_id"),
        Index("ix_audit_log_subject", "subject_type", "subject_id", "occurred_at"),
        Index("ix_audit_log_actor", "actor", "occurred_at"),
    )


@dataclass(frozen=True)
class AuditRecord:
    entry_id: str
    occurred_at: datetime
    actor: str
    request_id: str
    subject_type: str
    subject_id: str
    # 0 for records without a version.
    subject_version: int
    action: str
    state: Mapping[str, Any]
    # The subject's state at its previous entry, when read with it (None: the first entry).
    previous_state: Mapping[str, Any] | None = field(default=None, compare=False)

    def as_row(self) -> dict[str, object]:
        return {
            "entry_id": self.entry_id,
            "occurred_at": self.occurred_at,
            "actor": self.actor,
            "request_id": self.request_id,
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "subject_version": self.subject_version,
            "action": self.action,
            # Sorted keys: the same state always reads back the same, whatever built it.
            "state": json.dumps(self.state, sort_keys=True, separators=(",", ":")),
        }


def state_of(message: Message) -> dict[str, Any]:
    """A record's state as its contract's JSON mapping (field names as in the .proto)."""
    return MessageToDict(message, preserving_proto_field_name=True)


def action_of(event_type: str) -> str:
    """'salesplane.forecasting.v1.QuotaCommitted' -> 'QuotaCommitted'."""
    return event_type.rpartition(".")[2]


@dataclass(frozen=True)
class FieldChange:
    path: str
    before: object
    after: object


def field_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[FieldChange]:
    """The leaves that differ between two states, by dotted path, in path order. Lists are compared
    whole: an element's position means nothing on its own (a reordered allocation list is one
    change of the list)."""
    old, new = dict(_leaves(before)), dict(_leaves(after))
    return [
        FieldChange(path, old.get(path, MISSING), new.get(path, MISSING))
        for path in sorted(old.keys() | new.keys())
        if old.get(path, MISSING) != new.get(path, MISSING)
    ]


def _leaves(value: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            yield from _leaves(item, f"{path}.")
        else:
            yield path, item


@dataclass(frozen=True)
class AuditQuery:
    subject_type: str = ""
    subject_id: str = ""
    actor: str = ""
    action: str = ""
    request_id: str = ""
    since: datetime | None = None
    # Only entries strictly older than this (occurred_at, entry_id).
    before: tuple[datetime, str] | None = None
    limit: int = DEFAULT_PAGE_SIZE


def read_entries(session: Session, table: Table, query: AuditQuery) -> tuple[list[AuditRecord], bool]:
    """A page of entries, newest first, each with its subject's previous state; and whether older
    entries match too."""
    c = table.c
    conditions = [
        column == value
        for column, value in (
            (c.subject_type, query.subject_type),
            (c.subject_id, query.subject_id),
            (c.actor, query.actor),
            (c.action, query.action),
            (c.request_id, query.request_id),
        )
        if value
    ]
    if query.since is not None:
        conditions.append(c.occurred_at >= query.since)
    if query.before is not None:
        at, entry_id = query.before
        conditions.append(or_(c.occurred_at < at, and_(c.occurred_at == at, c.entry_id < entry_id)))
    rows = session.execute(
        select(table)
        .where(*conditions)
        .order_by(c.occurred_at.desc(), c.entry_id.desc())
        .limit(query.limit + 1)
    ).all()
    records = [_record(row) for row in rows[: query.limit]]
    return _with_previous(session, table, records), len(rows) > query.limit


def _with_previous(session: Session, table: Table, records: Sequence[AuditRecord]) -> list[AuditRecord]:
    """Each record's previous state: one window query over the histories of the page's subjects."""
    if not records:
        return []
    c = table.c
    subjects = sorted({(r.subject_type, r.subject_id) for r in records})
    previous = (
        func.lag(c.state)
        .over(partition_by=(c.subject_type, c.subject_id), order_by=(c.occurred_at, c.entry_id))
        .label("previous")
    )
    history = (
        select(c.entry_id, previous).where(tuple_(c.subject_type, c.subject_id).in_(subjects)).subquery()
    )
    wanted = [r.entry_id for r in records]
    found = dict(
        session.execute(
            select(history.c.entry_id, history.c.previous).where(history.c.entry_id.in_(wanted))
        ).all()
    )
    return [
        replace(r, previous_state=json.loads(found[r.entry_id]) if found.get(r.entry_id) else None)
        for r in records
    ]


def _record(row: Any) -> AuditRecord:
    occurred_at: datetime = row.occurred_at
    if occurred_at.tzinfo is None:  # SQLite keeps no offset; every entry is written in UTC
        occurred_at = occurred_at.replace(tzinfo=UTC)
    return AuditRecord(
        entry_id=row.entry_id,
        occurred_at=occurred_at,
        actor=row.actor,
        request_id=row.request_id,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        subject_version=row.subject_version,
        action=row.action,
        state=json.loads(row.state),
    )
