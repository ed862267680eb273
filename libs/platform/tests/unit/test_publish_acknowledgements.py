"""The relay's publish waits for the broker's answers to its records and gives up at the first
failed one: a kafka-python producer whose batch expired never sends its other batches, so waiting
for them (as producer.flush() does) only delays the replacement producer by its whole bound."""

from __future__ import annotations

import pytest
from kafka.errors import KafkaTimeoutError, NotLeaderForPartitionError
from kafka.future import Future

from salesplane_platform.kafka_transport import _Acknowledgements


def watching(*futures: Future) -> _Acknowledgements:
    answers = _Acknowledgements()
    for future in futures:
        answers.watch(future)
    return answers


# The waits below return at once; one that waited for every record would sit out its hour-long
# bound, and this limit fails it instead.
@pytest.mark.timeout(60)
def test_a_publish_fails_with_its_first_failed_record_without_waiting_for_the_others() -> None:
    never_sent, expired, delivered = Future(), Future(), Future()
    answers = watching(never_sent, expired, delivered)
    delivered.success(None)
    expired.failure(KafkaTimeoutError("Expiring 1 record(s)"))
    with pytest.raises(KafkaTimeoutError, match="Expiring"):
        answers.wait(3600)


@pytest.mark.timeout(60)
def test_a_record_that_failed_before_it_was_watched_fails_the_publish() -> None:
    failed = Future().failure(NotLeaderForPartitionError())
    with pytest.raises(NotLeaderForPartitionError):
        watching(Future(), failed).wait(3600)


@pytest.mark.timeout(60)
def test_a_publish_whose_records_are_all_acknowledged_returns() -> None:
    first, second = Future(), Future()
    answers = watching(first, second)
    first.success(None)
    second.success(None)
    answers.wait(3600)
    watching().wait(0)  # nothing to publish: nothing to wait for


def test_records_still_unanswered_at_the_bound_fail_the_publish() -> None:
    answers = watching(Future().success(None), Future())
    with pytest.raises(KafkaTimeoutError, match="1 records unacknowledged"):
        answers.wait(0.05)
