"""The embedded transport and the consumer runner, on SQLite: at-least-once delivery turned into
exactly-once effect by the version check, and positions committed only after the effect."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select

from salesplane.common.v1.common_pb2 import Money
from salesplane_platform.consumer_runner import ConsumedEvent, ConsumerRunner, Rejection
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.event_transport import OutgoingRecord
from salesplane_platform.events import build_envelope
from salesplane_platform.local_log import LocalLogPublisher, LocalLogSubscriber
from salesplane_platform.platform_tables import define_platform_tables

metadata = MetaData()
platform = define_platform_tables(metadata)
seen = Table("seen", metadata, Column("aggregate_id", String, primary_key=True), Column("amount", Integer))


class RecordingHandler:
    topics: Sequence[str] = ("t",)

    def __init__(self, fail_times: int = 0) -> None:
        self.fail_times = fail_times
        self.batches: list[list[tuple[str, int]]] = []

    def apply(self, session, events: Sequence[ConsumedEvent]) -> list[Rejection]:
        if self.fail_times:
            self.fail_times -= 1
            raise RuntimeError("database hiccup")
        self.batches.append([(e.envelope.aggregate_id, e.envelope.aggregate_version) for e in events])
        rejected: list[Rejection] = []
        for event in events:
            money = Money()
            event.envelope.payload.Unpack(money)
            if money.amount_minor < 0:
                rejected.append(Rejection(event, "negative amount"))
                continue
            session.execute(seen.delete().where(seen.c.aggregate_id == event.envelope.aggregate_id))
            session.execute(
                seen.insert().values(aggregate_id=event.envelope.aggregate_id, amount=money.amount_minor)
            )
        return rejected


def record(aggregate_id: str, version: int, amount: int) -> OutgoingRecord:
    envelope = build_envelope(
        payload=Money(currency_code="EUR", amount_minor=amount),
        aggregate_type="thing",
        aggregate_id=aggregate_id,
        aggregate_version=version,
        producer="test",
        actor="test",
    )
    return OutgoingRecord("t", aggregate_id.encode(), envelope.SerializeToString())


@pytest.fixture
def sessions(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'consumer.db'}")
    metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


def amounts(sessions) -> dict[str, int]:
    with sessions() as session:
        return dict(session.execute(select(seen.c.aggregate_id, seen.c.amount)).all())


def test_local_log_redelivers_uncommitted_records_to_a_restarted_subscriber(tmp_path: Path):
    log_path = tmp_path / "events.db"
    LocalLogPublisher(log_path).publish([record("a", 1, 10), record("b", 1, 20), record("a", 2, 30)])
    first = LocalLogSubscriber(log_path, ["t"], group_id="g")
    batch = first.poll(2, 0.1)
    assert [r.key for r in batch] == [b"a", b"b"]
    first.commit(batch[:1])
    first.close()
    again = LocalLogSubscriber(log_path, ["t"], group_id="g")
    assert [r.key for r in again.poll(10, 0.1)] == [b"b", b"a"]
    other_group = LocalLogSubscriber(log_path, ["t"], group_id="h")
    assert len(other_group.poll(10, 0.1)) == 3


def test_duplicates_and_older_versions_are_skipped_and_only_the_newest_state_applies(
    tmp_path: Path, sessions
):
    log_path = tmp_path / "events.db"
    LocalLogPublisher(log_path).publish(
        [record("a", 2, 200), record("a", 1, 100), record("b", 1, 5), record("a", 2, 200), record("b", 1, 5)]
    )
    handler = RecordingHandler()
    subscriber = LocalLogSubscriber(log_path, ["t"], group_id="g")
    runner = ConsumerRunner(sessions, platform, subscriber, handler)
    records = subscriber.poll(100, 0.1)
    assert runner.process(records) == 2
    subscriber.commit(records)
    LocalLogPublisher(log_path).publish([record("a", 1, 100), record("b", 2, 6)])  # a replay and a change
    records = subscriber.poll(100, 0.1)
    assert runner.process(records) == 1
    assert amounts(sessions) == {"a": 200, "b": 6}
    assert handler.batches == [[("a", 2), ("b", 1)], [("b", 2)]]


def test_a_failed_batch_is_rewound_and_applied_once_when_the_database_recovers(tmp_path: Path, sessions):
    import threading

    log_path = tmp_path / "events.db"
    LocalLogPublisher(log_path).publish([record("a", 1, 1), record("b", 1, 2)])
    handler = RecordingHandler(fail_times=2)
    subscriber = LocalLogSubscriber(log_path, ["t"], group_id="g")
    runner = ConsumerRunner(sessions, platform, subscriber, handler, poll_timeout_seconds=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,))
    thread.start()
    for _ in range(200):
        if amounts(sessions) == {"a": 1, "b": 2}:
            break
        stop.wait(0.05)
    stop.set()
    thread.join()
    assert amounts(sessions) == {"a": 1, "b": 2}
    assert handler.batches == [[("a", 1), ("b", 1)]]
    assert LocalLogSubscriber(log_path, ["t"], group_id="g").poll(10, 0.05) == []


def test_undecodable_records_go_to_dead_letters_without_blocking_the_rest(tmp_path: Path, sessions):
    log_path = tmp_path / "events.db"
    LocalLogPublisher(log_path).publish([OutgoingRecord("t", b"x", b"\xff\x00garbage"), record("a", 1, 7)])
    subscriber = LocalLogSubscriber(log_path, ["t"], group_id="g")
    runner = ConsumerRunner(sessions, platform, subscriber, RecordingHandler())
    assert runner.process(subscriber.poll(10, 0.1)) == 1
    with sessions() as session:
        dead = session.execute(select(platform.dead_letters.c.key, platform.dead_letters.c.error)).all()
    assert [row.key for row in dead] == [b"x"]
    assert amounts(sessions) == {"a": 7}


def test_events_a_handler_rejects_are_kept_in_dead_letters_with_their_versions_unseen(
    tmp_path: Path, sessions
):
    log_path = tmp_path / "events.db"
    LocalLogPublisher(log_path).publish([record("a", 1, -1), record("b", 1, 3)])
    subscriber = LocalLogSubscriber(log_path, ["t"], group_id="g")
    runner = ConsumerRunner(sessions, platform, subscriber, RecordingHandler())
    runner.process(subscriber.poll(10, 0.1))
    with sessions() as session:
        dead = session.execute(select(platform.dead_letters.c.key, platform.dead_letters.c.error)).all()
        versions = session.execute(select(platform.consumed_versions.c.aggregate_id)).scalars().all()
    assert [(row.key, row.error) for row in dead] == [(b"a", "negative amount")]
    # The rejected version is not remembered: replayed from the dead letters once its cause is
    # fixed, it applies rather than counting as already seen.
    assert sorted(versions) == ["b"]
    assert amounts(sessions) == {"b": 3}


class FixableHandler(RecordingHandler):
    """Refuses negative amounts until `fixed` (a release that understands them)."""

    fixed = False

    def apply(self, session, events: Sequence[ConsumedEvent]) -> list[Rejection]:
        if not self.fixed:
            return super().apply(session, events)
        for event in events:
            money = Money()
            event.envelope.payload.Unpack(money)
            session.execute(seen.delete().where(seen.c.aggregate_id == event.envelope.aggregate_id))
            session.execute(
                seen.insert().values(aggregate_id=event.envelope.aggregate_id, amount=abs(money.amount_minor))
            )
        return []


def test_dead_letters_are_listed_and_replayed_once_the_cause_is_fixed(tmp_path: Path, sessions):
    from salesplane_platform.dead_letters import DeadLetters, Result

    log_path = tmp_path / "events.db"
    garbage = OutgoingRecord("t", b"x", b"not an envelope")
    LocalLogPublisher(log_path).publish([record("a", 1, -5), record("b", 1, -7), garbage, record("b", 2, 9)])
    handler = FixableHandler()
    subscriber = LocalLogSubscriber(log_path, ["t"], group_id="g")
    runner = ConsumerRunner(sessions, platform, subscriber, handler)
    runner.process(subscriber.poll(100, 0.1))
    dead_letters = DeadLetters(sessions, platform)

    listed, more = dead_letters.listed()
    assert not more
    letters = sorted(listed, key=lambda d: d.key or b"")
    # b@1 was superseded by b@2 in the same batch, so only a@1 and the garbage were set aside.
    assert [(d.key, d.error) for d in letters] == [(b"a", "negative amount"), (b"x", letters[1].error)]
    assert letters[0].envelope_fields()["aggregate_version"] == 1 and letters[1].envelope_fields() == {}
    assert amounts(sessions) == {"b": 9}

    # Replayed before the fix: refused again and kept, with the reason.
    (still,) = [o for o in dead_letters.replay(handler, [letters[0].id]) if o.id == letters[0].id]
    assert still.result is Result.FAILED and still.error == "negative amount"

    handler.fixed = True
    outcomes = {o.id: o for o in dead_letters.replay(handler, dead_letters.all_ids())}
    assert outcomes[letters[0].id].result is Result.APPLIED
    assert outcomes[letters[1].id].result is Result.FAILED  # still not an envelope
    assert amounts(sessions) == {"a": 5, "b": 9}
    assert [d.id for d in dead_letters.listed()[0]] == [letters[1].id]
    # Replaying what was applied is harmless: it is gone, and a copy would be superseded.
    assert dead_letters.replay(handler, [letters[0].id]) == []
    assert amounts(sessions) == {"a": 5, "b": 9}
