"""Publishes outbox rows to the event transport in commit order, then deletes them.

A row is deleted only after the transport acknowledged it (acks=all), so a crash between the two
publishes it again; consumers drop the duplicate by its version. One relay per service database
publishes at a time (a PostgreSQL advisory lock), so replicas never interleave one aggregate's events.

Each record is sent in a `publish <topic>` span, child of the transaction that wrote its row (the
trace context stored with it), and carries that span's context in its headers to the consumer.
When spans are exported nowhere, the record carries the stored context as it is: a span per record
nobody sees would cost more than the rest of the relay's work for it.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections import Counter as Tally
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import StatusCode
from sqlalchemy import Connection, Engine, Row, delete, func, select, text

from salesplane_platform import metrics
from salesplane_platform.event_transport import EventPublisher, OutgoingRecord
from salesplane_platform.messaging_spans import KAFKA, start_publish_span
from salesplane_platform.platform_tables import PlatformTables
from salesplane_platform.record_headers import record_headers
from salesplane_platform.supervision import Heartbeat
from salesplane_platform.trace_context import stored_carrier, stored_context, trace_carrier

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(
        self,
        engine: Engine,
        tables: PlatformTables,
        publisher: EventPublisher,
        *,
        wakeup: threading.Event,
        lock_name: str,
        batch_size: int = 500,
        idle_poll_seconds: float = 0.5,
        messaging_system: str = KAFKA,
        publish_spans: bool = True,
    ) -> None:
        self._engine = engine
        self._outbox = tables.outbox
        self._publisher = publisher
        self._wakeup = wakeup
        self._lock_key = zlib.crc32(f"salesplane-relay:{lock_name}".encode())
        self._batch_size = batch_size
        self._idle_poll_seconds = idle_poll_seconds
        self._lock_connection: Connection | None = None
        self._producer_name = lock_name
        self._messaging_system = messaging_system
        self._publish_spans = publish_spans
        self._tracer = trace.get_tracer(__name__)

    def run(self, stop: threading.Event, heartbeat: Heartbeat | None = None) -> None:
        """Publish until `stop`; a failed pass (broker or database down) backs off and tries again."""
        beat = heartbeat.beat if heartbeat is not None else lambda: None
        failures = 0
        while not stop.is_set():
            beat()
            try:
                if not self._hold_leadership():
                    stop.wait(2.0)
                    continue
                # Clear before reading: a commit after this point sets it again, so none is missed.
                self._wakeup.clear()
                published = self.publish_pending()
                failures = 0
            except Exception:
                failures += 1
                metrics.OUTBOX_FAILURES.inc()
                log.exception("outbox relay pass failed", extra={"attempt": failures})
                self._release_leadership()
                stop.wait(min(0.2 * 2**failures, 10.0))
                continue
            if published < self._batch_size:
                self._wakeup.wait(self._idle_poll_seconds)
        self._release_leadership()

    def publish_pending(self) -> int:
        """Publish one batch of the oldest rows; return how many were published."""
        columns = self._outbox.c
        with self._engine.connect() as connection:
            pending, oldest = connection.execute(
                select(func.count(), func.min(columns.created_at)).select_from(self._outbox)
            ).one()
            rows = connection.execute(
                select(
                    columns.id,
                    columns.topic,
                    columns.aggregate_id,
                    columns.payload,
                    columns.event_id,
                    columns.event_type,
                    columns.trace_context,
                )
                .order_by(columns.id)
                .limit(self._batch_size)
            ).all()
            connection.rollback()
        metrics.OUTBOX_PENDING.set(pending)
        # The age keeps growing between passes (the gauge is computed when scraped), so a publish
        # stuck on a broker outage shows as an ageing outbox at once, not when it finally fails.
        metrics.set_outbox_oldest(_epoch_seconds(oldest) if oldest is not None else 0.0)
        if not rows:
            return 0
        started = time.perf_counter()
        if self._publish_spans:
            self._publish_in_spans(rows)
        else:
            self._publisher.publish([self._record(r, stored_carrier(r.trace_context)) for r in rows])
        metrics.OUTBOX_PUBLISH_SECONDS.observe(time.perf_counter() - started)
        with self._engine.begin() as connection:
            connection.execute(delete(self._outbox).where(columns.id.in_([r.id for r in rows])))
        for topic, count in Tally(r.topic for r in rows).items():
            metrics.OUTBOX_PUBLISHED.labels(topic).inc(count)
        return len(rows)

    def _publish_in_spans(self, rows: Sequence[Row[*tuple[Any, ...]]]) -> None:
        sends = [self._send_context(r) for r in rows]
        spans = [trace.get_current_span(send) for send in sends]
        try:
            self._publisher.publish(
                [self._record(r, trace_carrier(send)) for r, send in zip(rows, sends, strict=True)]
            )
        except Exception as error:
            for span in spans:
                span.record_exception(error)
                span.set_status(StatusCode.ERROR, f"{type(error).__name__}: {error}")
            raise
        finally:
            # Every span ends when the whole batch is acknowledged (or failed): that is when each
            # of its records was known to be stored.
            for span in spans:
                span.end()

    def _send_context(self, row: Row[*tuple[Any, ...]]) -> Context:
        """The context a row's record is sent in: its publish span, in the context the row was
        written in (whose baggage, if any, travels on)."""
        parent = stored_context(row.trace_context)
        span = start_publish_span(
            self._tracer,
            system=self._messaging_system,
            topic=row.topic,
            key=row.aggregate_id,
            event_id=row.event_id,
            parent=parent,
        )
        return trace.set_span_in_context(span, parent or Context())

    def _record(self, row: Row[*tuple[Any, ...]], trace_context: dict[str, str]) -> OutgoingRecord:
        return OutgoingRecord(
            row.topic,
            row.aggregate_id.encode(),
            row.payload,
            record_headers(
                event_id=row.event_id,
                event_type=row.event_type,
                producer=self._producer_name,
                trace_context=trace_context,
            ),
        )

    def _hold_leadership(self) -> bool:
        if self._engine.dialect.name != "postgresql":
            return True  # SQLite: one process owns the file
        if self._lock_connection is not None:
            # Prove the session holding the lock is still alive; if it died, so did the lock.
            self._lock_connection.execute(text("SELECT 1")).scalar()
            self._lock_connection.commit()
            return True
        connection = self._engine.connect()
        acquired = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._lock_key}).scalar()
        connection.commit()
        if acquired:
            self._lock_connection = connection
            log.info("outbox relay is the publishing replica")
            return True
        connection.close()
        return False

    def _release_leadership(self) -> None:
        connection, self._lock_connection = self._lock_connection, None
        if connection is None:
            return
        # A pooled connection outlives close(), and a session lock with it: unlock explicitly, and
        # if that fails throw the connection away so the server ends the session.
        try:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._lock_key})
            connection.commit()
        except Exception:
            connection.invalidate()
        finally:
            connection.close()


def _epoch_seconds(moment: datetime) -> float:
    # SQLite hands back naive datetimes; every outbox row is written in UTC.
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()
