"""Kafka transport (kafka-python): idempotent producer with acks=all; consumer in a group with
manual commits made only after the consumer's own database commit."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from salesplane_platform import metrics
from salesplane_platform.event_transport import IncomingRecord, OutgoingRecord

log = logging.getLogger(__name__)


# Bounds on every wait of the relay's producer, so no broker outage can hold the relay forever.
DELIVERY_TIMEOUT_MS = 30000
REQUEST_TIMEOUT_MS = 15000
# How long send() may wait for topic metadata (kafka-python's default is a minute).
MAX_BLOCK_MS = 10000
# Every client: kafka-python backs off reconnecting up to 30 s by default, so a broker back after
# an outage went unnoticed for up to half a minute. Java clients cap this at 1 s.
RECONNECT = {"reconnect_backoff_max_ms": 2000, "bootstrap_timeout_ms": 10000}


def ensure_topics(bootstrap_servers: str, topics: Sequence[str], *, partitions: int = 6) -> None:
    """Create topics that do not exist yet (a no-op when they do)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="salesplane-admin", **RECONNECT)
    try:
        missing = set(topics) - set(admin.list_topics())
        if missing:
            new = [
                NewTopic(name=t, num_partitions=partitions, replication_factor=-1) for t in sorted(missing)
            ]
            with contextlib.suppress(TopicAlreadyExistsError):  # another replica won the race
                admin.create_topics(new)
    finally:
        admin.close()


class KafkaPublisher:
    """The relay's producer: idempotent, acks=all, every wait bounded.

    After any failed delivery the producer is closed and a new one is made for the next attempt.
    kafka-python 3.0.12 (the newest release) needs this: when a batch already sent expires, its
    sender resets the producer id but leaves the idempotence state READY, and a new id is only
    requested from UNINITIALIZED, so that producer refuses to send ever again. A new producer
    gets a new id at once. Order per aggregate still holds: the relay deletes outbox rows only
    after their acknowledgement and publishes them again, oldest first, through the new producer;
    whatever the old one had written already is a duplicate that consumers skip by version."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str,
        delivery_timeout_ms: int = DELIVERY_TIMEOUT_MS,
        request_timeout_ms: int = REQUEST_TIMEOUT_MS,
    ) -> None:
        self._config = {
            "bootstrap_servers": bootstrap_servers,
            "client_id": client_id,
            "acks": "all",
            # Idempotence with at most 5 requests in flight keeps each partition's order across retries.
            "enable_idempotence": True,
            "max_in_flight_requests_per_connection": 5,
            "linger_ms": 2,
            # kafka-python requires delivery > linger + request; half leaves room for one retry.
            "request_timeout_ms": min(request_timeout_ms, delivery_timeout_ms // 2),
            "delivery_timeout_ms": delivery_timeout_ms,
            "max_block_ms": MAX_BLOCK_MS,
            **RECONNECT,
        }
        # The longest one publish may wait: metadata, then delivery, with a margin for the sender's
        # own expiry check.
        self._wait_seconds = (MAX_BLOCK_MS + delivery_timeout_ms) / 1000 + 5
        self._producer: KafkaProducer | None = None

    def publish(self, records: Sequence[OutgoingRecord]) -> None:
        producer = self._producer or self._new_producer()
        deadline = time.monotonic() + self._wait_seconds
        try:
            answers = _Acknowledgements()
            for r in records:
                answers.watch(producer.send(r.topic, key=r.key, value=r.value, headers=list(r.headers)))
            answers.wait(deadline - time.monotonic())  # raises the first delivery error, if any
        except Exception:
            self._discard_producer()
            raise

    def _new_producer(self) -> KafkaProducer:
        self._producer = KafkaProducer(**self._config)
        return self._producer

    def _discard_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is None:
            return
        metrics.OUTBOX_PRODUCER_REPLACED.inc()
        log.warning("closing the Kafka producer after a failed delivery; the next attempt uses a new one")
        # No wait: what it still holds is in the outbox and will be published again.
        _force_close(producer)

    def close(self, timeout_seconds: float = 5.0) -> None:
        producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            producer.close(timeout=timeout_seconds)
        except Exception:
            # Undelivered records are still in the outbox; force the sender down and go on.
            log.warning("the Kafka producer did not close cleanly", exc_info=True)
            _force_close(producer)


class _Acknowledgements:
    """The broker's answers to one publish: waited for until all are in, or until the first one is
    a failure.

    Not producer.flush(), which waits for every batch the producer holds: once one batch of a
    kafka-python producer has expired, its other batches are never sent again (see KafkaPublisher),
    so flush sat out its whole bound (delivery timeout + 15 s) after the failure was known, however
    soon the broker was reachable again. A network blackhole between the relay and the broker just
    past the delivery timeout left the outbox unpublished for up to 45 s after the network healed."""

    def __init__(self) -> None:
        self._settled = threading.Condition()
        self._pending = 0
        self._error: BaseException | None = None

    def watch(self, future: Any) -> None:
        with self._settled:
            self._pending += 1
        # Called on the producer's sender thread, or here at once if the future is already done.
        future.add_callback(self._succeeded)
        future.add_errback(self._failed)

    def wait(self, timeout_seconds: float) -> None:
        with self._settled:
            settled = self._settled.wait_for(
                lambda: self._pending == 0 or self._error is not None, timeout=max(0.0, timeout_seconds)
            )
            if self._error is not None:
                raise self._error
            if not settled:
                raise KafkaTimeoutError(
                    f"{self._pending} records unacknowledged after {timeout_seconds:.0f} s"
                )

    def _succeeded(self, _metadata: object) -> None:
        with self._settled:
            self._pending -= 1
            self._settled.notify_all()

    def _failed(self, error: BaseException) -> None:
        with self._settled:
            self._error = self._error or error
            self._settled.notify_all()


def _force_close(producer: KafkaProducer) -> None:
    """Stop a producer without delivering what it holds. kafka-python's close() flushes first and,
    when that times out, raises before it stops its sender thread, which then runs on with its
    connections; so the sender is told to stop first (kafka-python 3.0.12's own force_close)."""
    sender = getattr(producer, "_sender", None)
    if sender is not None:
        sender.force_close()
    with contextlib.suppress(Exception):
        producer.close(timeout=0)


COMMIT_TIMEOUT_MS = 10000


class KafkaSubscriber:
    def __init__(
        self,
        bootstrap_servers: str,
        topics: Sequence[str],
        *,
        group_id: str,
        client_id: str,
        instance_id: str | None = None,
    ) -> None:
        # With a stable instance id (static membership), a consumer restarted after a crash takes
        # its partitions straight back instead of waiting out the dead member's session timeout.
        self._consumer = KafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            group_instance_id=instance_id,
            client_id=client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=10000,
            heartbeat_interval_ms=3000,
            max_poll_interval_ms=120000,
            **RECONNECT,
        )
        self._group_id = group_id
        # Per partition: the offset after the last record whose effect is committed (the lag counts
        # from there, not from what was merely fetched), and the partitions whose lag is shown.
        self._done: dict[TopicPartition, int] = {}
        self._lag_shown: set[TopicPartition] = set()

    def poll(self, max_records: int, timeout_seconds: float) -> list[IncomingRecord]:
        batches = self._consumer.poll(timeout_ms=int(timeout_seconds * 1000), max_records=max_records)
        for tp, records in batches.items():
            if records and tp not in self._done:
                # The first record handed to this member: everything before it was applied already.
                self._done[tp] = records[0].offset
        self._record_lag()
        return [
            IncomingRecord(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers or ()))
            for records in batches.values()
            for r in records
        ]

    def commit(self, records: Sequence[IncomingRecord]) -> None:
        """Commit the position past `records` on the partitions this member still holds.

        Records of a partition no longer assigned here are left out: whoever holds it now reads it
        from the committed position (this member too, should it come back: kafka-python gives a
        newly assigned partition fresh state), and the version check skips what was applied.

        A commit refused because the group is rebalancing raises (CommitFailedError or
        RebalanceInProgressError) for the runner to commit again after its next poll, which
        rejoins the group. Dropping it instead lost the commit for good whenever the rebalance
        gave this member its partitions back, since kafka-python keeps their positions then: the
        records were never redelivered and the lag stayed until new records arrived."""
        assigned = self._consumer.assignment() or set()
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            if tp in assigned and (tp not in offsets or offsets[tp].offset <= record.offset):
                offsets[tp] = OffsetAndMetadata(record.offset + 1, "", -1)
        if not offsets:
            return
        # Bounded: without a timeout kafka-python retries a commit forever while the group
        # coordinator is unreachable.
        self._consumer.commit(offsets, timeout_ms=COMMIT_TIMEOUT_MS)
        for tp, position in offsets.items():
            self._done[tp] = max(self._done.get(tp, 0), position.offset)
        self._record_lag()

    def _record_lag(self) -> None:
        """consumer_lag_records per assigned partition: the broker's high-water mark (from the last
        fetch) less the position whose effects are committed. A partition no longer assigned
        drops its series, so a rebalance leaves no stale lag behind."""
        assigned = self._consumer.assignment() or set()
        for tp in self._lag_shown - assigned:
            metrics.CONSUMER_LAG.remove(self._group_id, tp.topic, str(tp.partition))
            self._done.pop(tp, None)
        shown: set[TopicPartition] = set()
        for tp in assigned:
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue  # not fetched yet
            done = self._done.get(tp)
            if done is None:
                # Nothing applied here yet by this member: count from the fetch position (known
                # once fetched; a lookup that would block is skipped rather than awaited).
                try:
                    done = self._consumer.position(tp, timeout_ms=0)
                except KafkaError:
                    done = None
                if done is None:
                    continue
            metrics.CONSUMER_LAG.labels(self._group_id, tp.topic, str(tp.partition)).set(
                max(0, highwater - done)
            )
            shown.add(tp)
        self._lag_shown = shown | (self._lag_shown & assigned)

    def rewind(self, records: Sequence[IncomingRecord]) -> None:
        """After a failed database commit, read the same records again on the next poll."""
        first: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            first[tp] = min(first.get(tp, record.offset), record.offset)
        assigned = self._consumer.assignment()
        for tp, offset in first.items():
            if tp in assigned:
                self._consumer.seek(tp, offset)

    def close(self, timeout_seconds: float = 5.0) -> None:
        # Leaving the group needs the coordinator; bounded so a stop during an outage still ends.
        self._consumer.close(autocommit=False, timeout_ms=int(timeout_seconds * 1000))


class KafkaProbe:
    """Readiness: a metadata fetch on a client of its own. kafka-python consumers are not
    thread-safe, so the readiness thread must never touch the one the consumer thread polls."""

    def __init__(self, bootstrap_servers: str) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._client: KafkaConsumer | None = None

    def __call__(self) -> None:
        try:
            if self._client is None:
                self._client = KafkaConsumer(
                    bootstrap_servers=self._bootstrap_servers, request_timeout_ms=5000, **RECONNECT
                )
            self._client.topics()
        except KafkaError as error:
            raise ConnectionError(f"kafka unreachable: {error}") from error

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def reset_group_to_beginning(bootstrap_servers: str, group_id: str, topics: Sequence[str]) -> int:
    """Commit the group's position at the start of every partition of `topics`, so its next
    members replay everything (a read-model rebuild). The group must have no live members: Kafka
    refuses commits for a group that is rebalancing or owned by others. Returns the partitions reset."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        enable_auto_commit=False,
        client_id=f"{group_id}-reset",
        **RECONNECT,
    )
    try:
        partitions = [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return 0
        consumer.assign(partitions)
        beginnings = consumer.beginning_offsets(partitions)
        consumer.commit({tp: OffsetAndMetadata(offset, "", -1) for tp, offset in beginnings.items()})
        return len(partitions)
    finally:
        consumer.close()
