"""The test Kafka broker is a real broker: idempotent producer in, ordered per-key records out."""

from __future__ import annotations

import re
import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.serializer import DefaultSerializer

from salesplane_testing.kafka_broker import (
    KafkaBroker,
    find_pom,
    libs_dir_for,
    random_cluster_id,
    read_kafka_version,
)


@pytest.mark.integration
def test_produce_and_consume_keyed_messages_in_order(kafka_broker, unique_topic):
    topic = unique_topic("roundtrip", create=True, partitions=3)
    keys = ["lead-1", "lead-2", "lead-3"]
    sent = [(key, f"{key}:event-{n}") for n in range(4) for key in keys]

    producer = KafkaProducer(
        bootstrap_servers=kafka_broker.bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        key_serializer=DefaultSerializer(),
        value_serializer=DefaultSerializer(),
    )
    try:
        futures = [producer.send(topic, key=key, value=value) for key, value in sent]
        producer.flush(timeout=30)
        partition_of = {}
        for (key, _), future in zip(sent, futures, strict=True):
            metadata = future.get(timeout=30)
            assert partition_of.setdefault(key, metadata.partition) == metadata.partition
    finally:
        producer.close(timeout=10)

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_broker.bootstrap_servers,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=30000,
        key_deserializer=DefaultSerializer(),
        value_deserializer=DefaultSerializer(),
    )
    received = []
    try:
        assert consumer.partitions_for_topic(topic) == {0, 1, 2}
        for record in consumer:
            received.append((record.key, record.value))
            assert record.partition == partition_of[record.key]
            if len(received) == len(sent):
                break
    finally:
        consumer.close()

    assert sorted(received) == sorted(sent)
    for key in keys:  # per-key order is preserved
        assert [v for k, v in received if k == key] == [v for k, v in sent if k == key]


@pytest.mark.integration
def test_broker_metadata(kafka_broker):
    assert re.fullmatch(r"[\w.-]+:\d+(,[\w.-]+:\d+)*", kafka_broker.bootstrap_servers)
    if isinstance(kafka_broker, KafkaBroker):
        assert kafka_broker.running
        assert kafka_broker.bootstrap_servers.startswith("127.0.0.1:")
        assert kafka_broker.startup_seconds is not None
        assert kafka_broker.log_path is not None and kafka_broker.log_path.is_file()


def test_unique_topic_names_differ(unique_topic):
    first, second = unique_topic("orders"), unique_topic("orders")
    assert first != second
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,249}", first)
    assert first.startswith("orders-")


def test_cluster_id_format():
    cid = random_cluster_id()
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{21}", cid)


def test_jar_cache_location_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    version = read_kafka_version(find_pom())
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert libs_dir_for(version) == tmp_path / "salesplane" / f"kafka-{version}" / "libs"
