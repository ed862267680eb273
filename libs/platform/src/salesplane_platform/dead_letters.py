"""A service's dead letters: records its consumer set aside. Listed, read and replayed by an
administrator once the cause is fixed.

A replay applies each record again through the service's own consumer code, in a transaction of
its own, exactly as the consumer would have (versions still decide: a record superseded by a newer
version already applied changes nothing). One that applies, or is superseded, leaves the dead
letters; one that fails again stays with the new reason. Replaying twice is harmless: the second
time the record is superseded by itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from salesplane_platform.consumer_runner import ConsumerRunner, EventHandler
from salesplane_platform.event_transport import IncomingRecord
from salesplane_platform.events import MalformedEvent, decode_envelope
from salesplane_platform.platform_tables import PlatformTables

MAX_REPLAY = 10_000


@dataclass(frozen=True)
class DeadLetter:
    id: int
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    error: str
    received_at: datetime

    def envelope_fields(self) -> dict[str, Any]:
        """What the record says it is, when it decodes as an envelope; empty otherwise."""
        try:
            envelope = decode_envelope(self.value or b"")
        except MalformedEvent:
            return {}
        return {
            "event_type": envelope.event_type,
            "aggregate_type": envelope.aggregate_type,
            "aggregate_id": envelope.aggregate_id,
            "aggregate_version": envelope.aggregate_version,
            "event_id": envelope.event_id,
        }


class Result(Enum):
    APPLIED = "applied"
    SUPERSEDED = "superseded"
    FAILED = "failed"


@dataclass(frozen=True)
class ReplayOutcome:
    id: int
    result: Result
    error: str = ""


class DeadLetters:
    def __init__(self, sessions: sessionmaker[Session], tables: PlatformTables) -> None:
        self._sessions = sessions
        self._table = tables.dead_letters
        self._tables = tables

    def listed(
        self, *, topic: str = "", after_id: int = 0, limit: int = 100
    ) -> tuple[list[DeadLetter], bool]:
        c = self._table.c
        query = select(self._table).where(c.id > after_id).order_by(c.id).limit(limit + 1)
        if topic:
            query = query.where(c.topic == topic)
        with self._sessions() as session:
            rows = session.execute(query).all()
        return [_dead_letter(row) for row in rows[:limit]], len(rows) > limit

    def get(self, dead_letter_id: int) -> DeadLetter | None:
        with self._sessions() as session:
            row = session.execute(select(self._table).where(self._table.c.id == dead_letter_id)).first()
        return _dead_letter(row) if row is not None else None

    def all_ids(self) -> list[int]:
        with self._sessions() as session:
            return list(
                session.execute(
                    select(self._table.c.id).order_by(self._table.c.id).limit(MAX_REPLAY)
                ).scalars()
            )

    def replay(self, handler: EventHandler, ids: list[int]) -> list[ReplayOutcome]:
        """Replay these dead letters, oldest first, one transaction each (see the module's doc)."""
        runner = ConsumerRunner(self._sessions, self._tables, _NoSubscriber(), handler)
        outcomes: list[ReplayOutcome] = []
        for dead_letter_id in sorted(set(ids)):
            letter = self.get(dead_letter_id)
            if letter is None:
                continue
            record = IncomingRecord(
                letter.topic, letter.partition, letter.offset, letter.key, letter.value or b""
            )
            try:
                outcome = runner.process_and_report([record])
            except Exception as error:  # the handler failed (a bug, a database error): keep it
                outcomes.append(self._failed(letter, f"{type(error).__name__}: {error}"))
                continue
            if outcome.dead:
                outcomes.append(self._failed(letter, outcome.dead[0][1]))
                continue
            # Applied (or skipped as superseded) in its own transaction already: the row can go. A
            # crash before this delete leaves it to be replayed again, which is then superseded.
            with self._sessions() as session, session.begin():
                session.execute(delete(self._table).where(self._table.c.id == letter.id))
            outcomes.append(
                ReplayOutcome(letter.id, Result.APPLIED if outcome.applied else Result.SUPERSEDED)
            )
        return outcomes

    def _failed(self, letter: DeadLetter, reason: str) -> ReplayOutcome:
        with self._sessions() as session, session.begin():
            session.execute(
                update(self._table)
                .where(self._table.c.id == letter.id)
                .values(error=reason, received_at=datetime.now(UTC))
            )
        return ReplayOutcome(letter.id, Result.FAILED, reason)


class _NoSubscriber:
    """A replay reads from the dead letters, not from the transport."""

    def poll(self, max_records: int, timeout_seconds: float) -> list[IncomingRecord]:
        return []

    def commit(self, records: Any) -> None:
        pass

    def rewind(self, records: Any) -> None:
        pass

    def close(self) -> None:
        pass


def _dead_letter(row: Any) -> DeadLetter:
    received: datetime = row.received_at
    return DeadLetter(
        id=row.id,
        topic=row.topic,
        partition=row.partition,
        offset=row.offset,
        key=row.key,
        value=row.value,
        error=row.error,
        received_at=received if received.tzinfo is not None else received.replace(tzinfo=UTC),
    )
