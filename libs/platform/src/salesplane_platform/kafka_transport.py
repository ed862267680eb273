"""Kafka transport (kafka-python): idempotent producer with acks=all; consumer in a group with
manual commits made only after the consumer's own database commit."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import CommitFailedError, KafkaError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from salesplane_platform.event_transport import IncomingRecord, OutgoingRecord

log = logging.getLogger(__name__)


def ensure_topics(bootstrap_servers: str, topics: Sequence[str], *, partitions: int = 6) -> None:
    """Create topics that do not exist yet (a no-op when they do)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="salesplane-admin")
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
    def __init__(self, bootstrap_servers: str, *, client_id: str) -> None:
        # Idempotence with at most 5 requests in flight keeps each partition's order across retries.
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            max_in_flight_requests_per_connection=5,
            linger_ms=2,
            request_timeout_ms=15000,
            delivery_timeout_ms=30000,
        )

    def publish(self, records: Sequence[OutgoingRecord]) -> None:
        futures = [self._producer.send(r.topic, key=r.key, value=r.value) for r in records]
        self._producer.flush()
        for future in futures:
            future.get()  # raises the delivery error, if any

    def check(self) -> None:
        # The producer connects lazily and may sit idle; a metadata fetch proves the cluster answers.
        try:
            if self._probe is None:
                self._probe = KafkaConsumer(
                    bootstrap_servers=self._bootstrap_servers, request_timeout_ms=5000
                )
            self._probe.topics()
        except KafkaError as error:
            raise ConnectionError(f"kafka unreachable: {error}") from error

    def close(self) -> None:
        self._producer.close(timeout=10)


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
        )

    def poll(self, max_records: int, timeout_seconds: float) -> list[IncomingRecord]:
        batches = self._consumer.poll(timeout_ms=int(timeout_seconds * 1000), max_records=max_records)
        return [
            IncomingRecord(r.topic, r.partition, r.offset, r.key, r.value)
            for records in batches.values()
            for r in records
        ]

    def commit(self, records: Sequence[IncomingRecord]) -> None:
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            if tp not in offsets or offsets[tp].offset <= record.offset:
                offsets[tp] = OffsetAndMetadata(record.offset + 1, "", -1)
        if not offsets:
            return
        try:
            self._consumer.commit(offsets)
        except CommitFailedError:
            # The group rebalanced while we worked: the new owner re-reads these records, and the
            # version check makes applying them again harmless.
            log.warning("offset commit lost to a rebalance; records will be redelivered")

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

    def close(self) -> None:
        self._consumer.close(autocommit=False)


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
                    bootstrap_servers=self._bootstrap_servers, request_timeout_ms=5000
                )
            self._client.topics()
        except KafkaError as error:
            raise ConnectionError(f"kafka unreachable: {error}") from error

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
