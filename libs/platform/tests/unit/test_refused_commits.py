"""A commit the group refuses mid-rebalance reaches the runner, which commits it again after its
next poll: kafka-python keeps a partition's position when the rebalance gives it back, so a
dropped commit would never be made (the records are not read again)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest
from kafka import TopicPartition
from kafka.errors import CommitFailedError

from salesplane_platform.consumer_runner import ConsumerRunner
from salesplane_platform.event_transport import IncomingRecord
from salesplane_platform.kafka_transport import KafkaSubscriber

TOPIC = "opportunities"


class RebalancingConsumer:
    """kafka-python's consumer as far as commit needs it: refuses the first `refusals` commits."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.committed: dict[TopicPartition, int] = {}

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(TOPIC, 0)}

    def highwater(self, tp: TopicPartition) -> int | None:
        return None

    def commit(self, offsets: dict[TopicPartition, Any], timeout_ms: int) -> None:
        if self.refusals:
            self.refusals -= 1
            raise CommitFailedError("RebalanceInProgressError")
        self.committed.update({tp: meta.offset for tp, meta in offsets.items()})


def subscriber_over(consumer: RebalancingConsumer) -> KafkaSubscriber:
    subscriber = KafkaSubscriber.__new__(KafkaSubscriber)
    subscriber._consumer = consumer  # type: ignore[assignment]
    subscriber._group_id = "forecasting"
    subscriber._done = {}
    subscriber._lag_shown = set()
    return subscriber


def record(offset: int) -> IncomingRecord:
    return IncomingRecord(TOPIC, 0, offset, b"k", b"v", ())


def test_the_subscriber_raises_a_refused_commit_instead_of_dropping_it() -> None:
    subscriber = subscriber_over(RebalancingConsumer(refusals=1))
    with pytest.raises(CommitFailedError):
        subscriber.commit([record(4)])
    assert subscriber._done == {}  # the lag still counts the records as not committed


class OneBatch:
    """A subscriber that delivers one batch, then nothing, committing through a KafkaSubscriber."""

    def __init__(self, kafka: KafkaSubscriber, stop: threading.Event) -> None:
        self.kafka, self.stop, self.polls = kafka, stop, 0

    def poll(self, max_records: int, timeout_seconds: float) -> list[IncomingRecord]:
        self.polls += 1
        if self.polls > 20:
            self.stop.set()
        return [record(0), record(1), record(2)] if self.polls == 1 else []

    def commit(self, records: Sequence[IncomingRecord]) -> None:
        self.kafka.commit(records)

    def rewind(self, records: Sequence[IncomingRecord]) -> None:
        raise AssertionError("nothing failed to apply")


def test_the_runner_commits_again_after_a_refusal() -> None:
    consumer, stop = RebalancingConsumer(refusals=2), threading.Event()
    transport = OneBatch(subscriber_over(consumer), stop)

    class Runner(ConsumerRunner):
        def process(self, records: Sequence[IncomingRecord]) -> int:
            return len(records)

    runner = Runner(None, None, transport, None, poll_timeout_seconds=0.0)  # type: ignore[arg-type]
    runner.run(stop)
    assert consumer.committed == {TopicPartition(TOPIC, 0): 3}
