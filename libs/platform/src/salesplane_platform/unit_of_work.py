"""A unit of work commits a state change and the events it raises in one database transaction.

Each outbox row keeps the trace context it was written in, so the event's trace goes on from the
request (or the consumed event) that caused it, through the relay, to its consumers."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from google.protobuf.message import Message
from sqlalchemy.orm import Session, sessionmaker

from salesplane.audit.v1 import audit_pb2
from salesplane.events.v1.envelope_pb2 import EventEnvelope
from salesplane_platform.audit_log import AuditRecord, action_of, state_of
from salesplane_platform.audit_mapping import AUDIT_AGGREGATE, audit_entry_proto
from salesplane_platform.events import build_envelope
from salesplane_platform.platform_tables import PlatformTables
from salesplane_platform.request_ids import current_request_id
from salesplane_platform.trace_context import current_trace_context


@dataclass(frozen=True)
class OutboxContext:
    """What a unit of work needs to write outbox rows; one per service."""

    tables: PlatformTables
    producer: str
    topic: str | None
    # Set after every commit that wrote events, so the relay publishes at once instead of polling.
    wakeup: threading.Event
    # Where each audit entry is published (audit_log.py); None: entries are only stored.
    audit_topic: str | None = None


@dataclass(frozen=True)
class OutboxEvent:
    """One event an aggregate raised, as its outbox row describes it (the actor comes from the unit
    of work)."""

    payload: Message
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int


class SqlUnitOfWork:
    def __init__(self, session_factory: sessionmaker[Session], outbox: OutboxContext) -> None:
        self._session_factory = session_factory
        self._outbox = outbox
        self._pending: list[dict[str, object]] = []
        self._audit: list[AuditRecord] = []
        self._actor: str | None = None
        self.session: Session

    def acting_for(self, actor: str) -> Self:
        """Name who makes the changes of the next transaction, once: `with uow.acting_for(caller):`.
        Every event it commits carries this actor."""
        self._actor = actor
        return self

    @property
    def actor(self) -> str:
        if self._actor is None:
            # Failing beats writing events nobody can attribute.
            raise RuntimeError("this unit of work changed aggregates but was not opened with acting_for()")
        return self._actor

    def __enter__(self) -> Self:
        self.session = self._session_factory()
        self._pending = []
        self._audit = []
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.session.rollback()
        self.session.close()
        # The next transaction names its own actor.
        self._actor = None

    def collect_new_events(self) -> Iterable[OutboxEvent]:
        """The events the aggregates of this transaction raised since the last commit, taken from
        them. A service's unit of work collects them from what its repositories saw; this one has
        no repositories."""
        return ()

    def record_event(
        self, *, payload: Message, aggregate_type: str, aggregate_id: str, aggregate_version: int, actor: str
    ) -> None:
        if self._outbox.topic is None:
            raise RuntimeError(f"{self._outbox.producer} publishes no events; its definition names no topic")
        envelope = build_envelope(
            payload=payload,
            aggregate_type=aggregate_type,
            aggregate_id=aggregate_id,
            aggregate_version=aggregate_version,
            producer=self._outbox.producer,
            actor=actor,
        )
        self._queue(envelope, self._outbox.topic)
        self._audit.append(
            AuditRecord(
                entry_id=envelope.event_id,
                occurred_at=envelope.occurred_at.ToDatetime(tzinfo=UTC),
                actor=actor,
                request_id=current_request_id(),
                subject_type=aggregate_type,
                subject_id=aggregate_id,
                subject_version=aggregate_version,
                action=action_of(envelope.event_type),
                state=state_of(payload),
            )
        )

    def audit(self, *, action: str, subject_type: str, subject_id: str, state: Mapping[str, Any]) -> None:
        """Record a change that raises no event (a draft, an adjustment) in the audit log, made by
        this transaction's actor; written on commit like the events. `state` is the record after
        the change, as JSON values (the reader diffs it with the subject's previous entry)."""
        self._audit.append(
            AuditRecord(
                entry_id=str(uuid.uuid4()),
                occurred_at=datetime.now(UTC),
                actor=self.actor,
                request_id=current_request_id(),
                subject_type=subject_type,
                subject_id=subject_id,
                subject_version=0,
                action=action,
                state=state,
            )
        )

    def _write_audit(self) -> None:
        """The audit entries of this transaction, and their events on the audit topic."""
        self.session.execute(self._outbox.tables.audit_log.insert(), [r.as_row() for r in self._audit])
        topic = self._outbox.audit_topic
        if topic is not None:
            for record in self._audit:
                entry = audit_entry_proto(record, self._outbox.producer)
                envelope = build_envelope(
                    payload=audit_pb2.AuditEntryRecorded(entry=entry),
                    aggregate_type=AUDIT_AGGREGATE,
                    aggregate_id=record.entry_id,
                    aggregate_version=1,
                    producer=self._outbox.producer,
                    actor=record.actor,
                    occurred_at=record.occurred_at,
                )
                self._queue(envelope, topic)
        self._audit = []

    def _queue(self, envelope: EventEnvelope, topic: str) -> None:
        self._pending.append(
            {
                "event_id": envelope.event_id,
                "topic": topic,
                "aggregate_type": envelope.aggregate_type,
                "aggregate_id": envelope.aggregate_id,
                "aggregate_version": envelope.aggregate_version,
                "event_type": envelope.event_type,
                "payload": envelope.SerializeToString(),
                "created_at": datetime.now(UTC),
            }
        )

    def commit(self) -> None:
        for event in self.collect_new_events():
            self.record_event(
                payload=event.payload,
                aggregate_type=event.aggregate_type,
                aggregate_id=event.aggregate_id,
                aggregate_version=event.aggregate_version,
                actor=self.actor,
            )
        if self._audit:
            self._write_audit()
        if self._pending:
            trace_context = current_trace_context()
            for row in self._pending:
                row["trace_context"] = trace_context
            self.session.execute(self._outbox.tables.outbox.insert(), self._pending)
        self.session.commit()
        if self._pending:
            self._pending = []
            self._outbox.wakeup.set()
