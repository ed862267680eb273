"""consumer_lag_records counts what a consumer has not applied yet, per partition, from a real
broker's high-water mark and the consumer's committed position."""

from __future__ import annotations

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
