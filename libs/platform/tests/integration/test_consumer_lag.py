"""consumer_lag_records counts what a consumer has not applied yet, per partition, from a real
broker's high-water mark and the consumer's committed position."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from prometheus_client import REGISTRY

from salesplane_platform.event_transport import IncomingRecord, OutgoingRecord
from salesplane_platform.kafka_transport import KafkaPublisher, KafkaSubscriber, ensure_topics

pytestmark = pytest.mark.integration


def lag(group: str, topic: str, partition: int) -> float | None:
    return REGISTRY.get_sample_value(
        "consumer_lag_records", {"consumer_group": group, "topic": topic, "partition": str(partition)}
    )


def poll_until(subscriber: KafkaSubscriber, count: int, timeout: float = 30.0) -> list[IncomingRecord]:
    records: list[IncomingRecord] = []
    deadline = time.monotonic() + timeout
    while len(records) < count and time.monotonic() < deadline:
        records.extend(subscriber.poll(count - len(records), 0.5))
    assert len(records) == count
    return records


def test_the_lag_is_what_is_on_the_partition_beyond_the_committed_position(kafka_broker) -> None:
    topic, group = f"lag-{uuid.uuid4().hex[:8]}", f"group-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_broker.bootstrap_servers, [topic], partitions=1)
    publisher = KafkaPublisher(kafka_broker.bootstrap_servers, client_id="lag-test")
    publisher.publish([OutgoingRecord(topic, b"k", str(n).encode()) for n in range(10)])
    publisher.close()
    subscriber = KafkaSubscriber(kafka_broker.bootstrap_servers, [topic], group_id=group, client_id="lag")
    try:
        first = poll_until(subscriber, 4)
        assert lag(group, topic, 0) == 10  # fetched, none applied
        subscriber.commit(first)
        assert lag(group, topic, 0) == 6

        subscriber.commit(poll_until(subscriber, 6))
        assert lag(group, topic, 0) == 0
    finally:
        subscriber.close()


def committed(bootstrap_servers: str, group: str) -> dict[int, int]:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="lag-test-admin")
    try:
        return {tp.partition: meta.offset for tp, meta in admin.list_group_offsets(group)[group].items()}
    finally:
        admin.close()


def test_a_member_commits_only_the_partitions_it_still_holds(kafka_broker) -> None:
    """Records applied before a rebalance took one of the member's partitions away: their position
    is committed on the partition it kept, and left to the new owner on the other (which reads it
    from the committed position; the version check skips what was applied)."""
    topic, group = f"rebalance-{uuid.uuid4().hex[:8]}", f"group-{uuid.uuid4().hex[:8]}"
    servers = kafka_broker.bootstrap_servers
    ensure_topics(servers, [topic], partitions=2)
    publisher = KafkaPublisher(servers, client_id="rebalance-test")
    publisher.publish([OutgoingRecord(topic, str(n).encode(), str(n).encode()) for n in range(20)])
    publisher.close()
    first = KafkaSubscriber(servers, [topic], group_id=group, client_id="first")
    second = KafkaSubscriber(servers, [topic], group_id=group, client_id="second")
    done = threading.Event()

    def keep_polling() -> None:
        while not done.is_set():
            second.poll(1, 0.2)

    joining = threading.Thread(target=keep_polling)
    try:
        records = poll_until(first, 20)
        assert {r.partition for r in records} == {0, 1}
        joining.start()  # the second member joins; the group gives it one of the two partitions
        deadline = time.monotonic() + 60
        while len(first._consumer.assignment()) != 1 and time.monotonic() < deadline:
            first.poll(1, 0.2)
        (kept,) = {tp.partition for tp in first._consumer.assignment()}
        done.set()
        joining.join(timeout=30)
        first.commit(records)
        ends = {p: 1 + max(r.offset for r in records if r.partition == p) for p in (0, 1)}
        assert committed(servers, group) == {kept: ends[kept]}
    finally:
        done.set()
        first.close()
        second.close()
