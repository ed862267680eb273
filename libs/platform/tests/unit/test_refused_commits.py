"""A commit the group refuses mid-rebalance reaches the runner (which commits it again on its next
rounds: test_consumer_pipelining): kafka-python keeps a partition's position when the rebalance
gives it back, so a dropped commit would never be made (the records are not read again)."""

from __future__ import annotations

from typing import Any

import pytest
from kafka import TopicPartition
from kafka.errors import CommitFailedError

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
