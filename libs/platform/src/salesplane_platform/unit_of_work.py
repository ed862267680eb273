"""A unit of work commits a state change and the events it raises in one database transaction."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from google.protobuf.message import Message
from sqlalchemy.orm import Session, sessionmaker

from salesplane_platform.events import build_envelope
from salesplane_platform.platform_tables import PlatformTables


@dataclass(frozen=True)
class OutboxContext:
    """What a unit of work needs to write outbox rows; one per service."""

    tables: PlatformTables
    producer: str
    topic: str | None
    # Set after every commit that wrote events, so the relay publishes at once instead of polling.
    wakeup: threading.Event


class SqlUnitOfWork:
    def __init__(self, session_factory: sessionmaker[Session], outbox: OutboxContext) -> None:
        self._session_factory = session_factory
        self._outbox = outbox
        self._pending: list[dict[str, object]] = []
        self.session: Session

    def __enter__(self) -> Self:
        self.session = self._session_factory()
        self._pending = []
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.session.rollback()
        self.session.close()

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
        self._pending.append(
            {
                "event_id": envelope.event_id,
                "topic": self._outbox.topic,
                "aggregate_type": aggregate_type,
                "aggregate_id": aggregate_id,
                "aggregate_version": aggregate_version,
                "event_type": envelope.event_type,
                "payload": envelope.SerializeToString(),
                "created_at": datetime.now(UTC),
            }
        )

    def commit(self) -> None:
        if self._pending:
            self.session.execute(self._outbox.tables.outbox.insert(), self._pending)
        self.session.commit()
        if self._pending:
            self._pending = []
            self._outbox.wakeup.set()
