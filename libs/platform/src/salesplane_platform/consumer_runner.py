"""Applies consumed events to a service's database exactly once in effect.

Each poll's batch is applied in ONE transaction together with the bookkeeping of the newest version
applied per aggregate; the transport position is committed only after that transaction. A crash
anywhere therefore either redelivers events already applied (skipped by version) or events never
applied (applied now): nothing is lost, nothing counts twice.

Because events carry the aggregate's full state, only the newest version of each aggregate in a
batch matters; older ones, duplicates and late arrivals are skipped.

A batch is applied inside a `process <topic>` span that continues the trace its records carry in
their headers (messaging_spans.py), so the transaction shows in the trace of the request that
caused the event.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple, Protocol

from opentelemetry import trace
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from salesplane.events.v1.envelope_pb2 import EventEnvelope
from salesplane_platform import metrics
from salesplane_platform.bulk_writes import REPLACE, bulk_lookup, bulk_upsert
from salesplane_platform.db import upsert_statement
from salesplane_platform.event_transport import EventSubscriber, IncomingRecord
from salesplane_platform.events import MalformedEvent, decode_envelope
from salesplane_platform.messaging_spans import KAFKA, process_span
from salesplane_platform.platform_tables import PlatformTables
from salesplane_platform.supervision import Heartbeat

log = logging.getLogger(__name__)


class ConsumedEvent(NamedTuple):
    # A named tuple for the reason IncomingRecord is one: one is made per consumed record.
    record: IncomingRecord
    envelope: EventEnvelope


@dataclass(frozen=True)
class BatchOutcome:
    # Events that had an effect (the newest unseen version of each aggregate).
    applied: int
    # Records set aside in dead letters, with the reason.
    dead: list[tuple[IncomingRecord, str]]


@dataclass(frozen=True)
class Rejection:
    """An event a handler cannot interpret (retrying will not help): kept in dead letters."""

    event: ConsumedEvent
    reason: str


@dataclass(frozen=True)
class _Flight:
    """A batch being applied on the applier thread."""

    records: list[IncomingRecord]
    outcome: Future[int]


class EventHandler(Protocol):
    topics: Sequence[str]

    def apply(self, session: Session, events: Sequence[ConsumedEvent]) -> Sequence[Rejection]:
        """Apply the newest unseen state of each aggregate, inside the batch transaction; return
        the events it could not interpret, which the runner moves to dead letters."""


def _fence_partitions(session: Session, records: Sequence[IncomingRecord]) -> None:
    """Hold a lock per partition of the batch until its transaction ends (PostgreSQL).

    Kafka gives a partition to one member at a time, but a member that lost it mid-batch (a
    rebalance after a stall) may still be committing when the new owner reads the same records
    again. The lock makes the new owner wait for that commit and then see its effects, so the
    records are skipped by version rather than applied twice. Taken in sorted order, so members
    holding several partitions cannot deadlock. SQLite runs one writer at a time anyway."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for topic_key, partition in sorted({(_topic_key(r.topic), r.partition) for r in records}):
        session.execute(
            text("SELECT pg_advisory_xact_lock(:topic, :partition)"),
            {"topic": topic_key, "partition": partition},
        )


def _topic_key(topic: str) -> int:
    # A stable 31-bit number per topic: the two-integer form of advisory locks takes int4 keys.
    return zlib.crc32(topic.encode()) & 0x7FFFFFFF


def _last_per_partition(records: Sequence[IncomingRecord]) -> list[IncomingRecord]:
    """The newest record of each partition: committing it commits everything before it."""
    last: dict[tuple[str, int], IncomingRecord] = {}
    for record in records:
        held = last.get((record.topic, record.partition))
        if held is None or record.offset > held.offset:
            last[(record.topic, record.partition)] = record
    return list(last.values())


def keeps_versions(handler: EventHandler) -> bool:
    """Whether the handler stores each aggregate's applied version with its own state and skips
    what is not newer itself, so the runner's separate bookkeeping, a lookup and an upsert per
    batch, would only repeat it."""
    return bool(getattr(handler, "keeps_versions", False)) or keeps_history(handler)


def keeps_history(handler: EventHandler) -> bool:
    """Whether the handler wants every version of an aggregate, not only the newest (a history it
    keeps itself, idempotent by version): the runner then passes each distinct version once, in
    version order per aggregate."""
    return bool(getattr(handler, "keeps_history", False))


class ConsumerRunner:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        tables: PlatformTables,
        subscriber: EventSubscriber,
        handler: EventHandler,
        *,
        max_batch: int = 1000,
        poll_timeout_seconds: float = 0.5,
        messaging_system: str = KAFKA,
        consumer_group: str | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._tables = tables
        self._subscriber = subscriber
        self._handler = handler
        self._max_batch = max_batch
        self._poll_timeout = poll_timeout_seconds
        self._messaging_system = messaging_system
        self._consumer_group = consumer_group
        self._tracer = trace.get_tracer(__name__)

    def run(self, stop: threading.Event, heartbeat: Heartbeat | None = None) -> None:
        """Poll, apply, commit until `stop`. Nothing the transport or the database raises ends the
        loop: a failed poll or apply backs off and tries again, and a failed offset commit is kept
        and retried on the next rounds (the records were applied; redelivery would be skipped).

        A batch is applied on a thread of its own while this one polls the next: the transport's
        record decoding (pure Python in kafka-python) then runs while the database works on the
        batch before, instead of after it. Batches are still applied one at a time and in order,
        and a batch's position is committed only once its transaction has; the transport is only
        ever touched from this thread (kafka-python's consumer is not thread-safe)."""
        beat = heartbeat.beat if heartbeat is not None else lambda: None
        failures = 0
        uncommitted: list[IncomingRecord] = []
        flight: _Flight | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="consumer-apply") as applier:
            while not stop.is_set():
                beat()
                records: list[IncomingRecord] = []
                polled = True
                try:
                    # With a batch in flight, take only what is already fetched: its commit must
                    # not wait out a poll timeout.
                    records = self._subscriber.poll(self._max_batch, 0.0 if flight else self._poll_timeout)
                except Exception:
                    polled = False
                    failures += 1
                    log.exception("polling the event transport failed", extra={"attempt": failures})
                if flight is not None:
                    try:
                        flight.outcome.result()
                    except Exception:
                        failures += 1
                        metrics.CONSUMER_FAILURES.inc()
                        log.exception(
                            "applying a consumed batch failed; it will be retried",
                            extra={"attempt": failures},
                        )
                        # The next batch was polled past it: read both again.
                        self._rewind([*flight.records, *records])
                        flight = None
                        stop.wait(min(0.1 * 2**failures, 10.0))
                        continue
                    uncommitted = self._commit(_last_per_partition([*uncommitted, *flight.records]))
                    flight = None
                if not polled:
                    stop.wait(min(0.1 * 2**failures, 10.0))
                    continue
                failures = 0
                if records:
                    flight = _Flight(records, applier.submit(self.process, records))
                elif uncommitted:
                    uncommitted = self._commit(uncommitted)
            if flight is not None:
                # Stopping: the batch in flight finishes, and its position is committed.
                try:
                    flight.outcome.result()
                except Exception:
                    log.exception("applying the last consumed batch failed; it is read again after a restart")
                else:
                    self._commit(_last_per_partition([*uncommitted, *flight.records]))

    def _commit(self, records: list[IncomingRecord]) -> list[IncomingRecord]:
        """Commit the position past `records`; what is still to commit (all of them on failure)."""
        try:
            self._subscriber.commit(records)
        except Exception:
            metrics.CONSUMER_COMMIT_FAILURES.inc()
            log.warning("committing the consumer position failed; retrying on the next round", exc_info=True)
            return records
        return []

    def _rewind(self, records: Sequence[IncomingRecord]) -> None:
        try:
            self._subscriber.rewind(records)
        except Exception:
            # Not rewound: the transport redelivers from the committed position after a restart or
            # rebalance, so the records are never lost; log it, the next round goes on.
            log.exception("rewinding after a failed batch failed")

    def process(self, records: Sequence[IncomingRecord]) -> int:
        """Apply one batch in one transaction; return how many events had an effect."""
        return self.process_and_report(records).applied

    def process_and_report(self, records: Sequence[IncomingRecord]) -> BatchOutcome:
        """Apply one batch in one transaction; what had an effect and what went to dead letters."""
        with process_span(
            self._tracer, records, system=self._messaging_system, consumer_group=self._consumer_group
        ):
            return self._apply(records)

    def _apply(self, records: Sequence[IncomingRecord]) -> BatchOutcome:
        started = time.perf_counter()
        newest: dict[tuple[str, str], ConsumedEvent] = {}
        every: dict[tuple[str, str, int], ConsumedEvent] = {}
        history = keeps_history(self._handler)
        dead: list[tuple[IncomingRecord, str]] = []
        for record in records:
            try:
                envelope = decode_envelope(record.value)
            except MalformedEvent as error:
                dead.append((record, str(error)))
                continue
            key = (envelope.aggregate_type, envelope.aggregate_id)
            if history:
                every.setdefault((*key, envelope.aggregate_version), ConsumedEvent(record, envelope))
                continue
            held = newest.get(key)
            if held is None or envelope.aggregate_version > held.envelope.aggregate_version:
                newest[key] = ConsumedEvent(record, envelope)
        with self._session_factory() as session, session.begin():
            _fence_partitions(session, records)
            own_versions = keeps_versions(self._handler)
            if history:
                applied = [every[key] for key in sorted(every)]
            else:
                applied = list(newest.values()) if own_versions else self._unseen(session, newest)
            if applied:
                rejected = self._handler.apply(session, applied)
                dead += [(r.event.record, r.reason) for r in rejected]
                if not own_versions:
                    # A rejected event's version is not remembered: replayed from the dead letters
                    # once its cause is fixed, it must count as unseen, not as superseded.
                    refused = {id(r.event.record) for r in rejected}
                    self._remember(session, [e for e in applied if id(e.record) not in refused])
            if dead:
                self._bury(session, dead)
        buried = {id(record) for record, _ in dead}
        # Counted per topic and outcome, then added once each: a labelled counter's lookup per
        # record cost more than decoding it.
        counts: Counter[tuple[str, str]] = Counter(
            (record.topic, "dead_letter" if id(record) in buried else "read") for record in records
        )
        for (topic, outcome), count in counts.items():
            metrics.EVENTS_CONSUMED.labels(topic, outcome).inc(count)
        metrics.CONSUMER_BATCH_SECONDS.observe(time.perf_counter() - started)
        return BatchOutcome(len(applied), dead)

    def _unseen(self, session: Session, newest: dict[tuple[str, str], ConsumedEvent]) -> list[ConsumedEvent]:
        if not newest:
            return []
        rows = bulk_lookup(
            session,
            self._tables.consumed_versions,
            keys=["aggregate_type", "aggregate_id"],
            values=list(newest),
            columns=["aggregate_type", "aggregate_id", "version"],
        )
        known = {(t, i): v for t, i, v in rows}
        return [e for key, e in newest.items() if e.envelope.aggregate_version > known.get(key, 0)]

    def _remember(self, session: Session, applied: Sequence[ConsumedEvent]) -> None:
        bulk_upsert(
            session,
            self._tables.consumed_versions,
            ["aggregate_type", "aggregate_id", "version"],
            [
                (e.envelope.aggregate_type, e.envelope.aggregate_id, e.envelope.aggregate_version)
                for e in applied
            ],
            keys=["aggregate_type", "aggregate_id"],
            update={"version": REPLACE},
        )

    def _bury(self, session: Session, dead: list[tuple[IncomingRecord, str]]) -> None:
        for record, error in dead:
            log.error(
                "event moved to dead letters",
                extra={
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "error": error,
                },
            )
        session.execute(
            upsert_statement(session, self._tables.dead_letters, ["topic", "partition", "offset"], []),
            [
                {
                    "topic": r.topic,
                    "partition": r.partition,
                    "offset": r.offset,
                    "key": r.key,
                    "value": r.value,
                    "error": error,
                    "received_at": datetime.now(UTC),
                }
                for r, error in dead
            ],
        )
