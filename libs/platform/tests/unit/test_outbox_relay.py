"""The relay deletes an outbox row only after the transport accepted it."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import MetaData, func, select

from salesplane.common.v1.common_pb2 import Money
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.event_transport import OutgoingRecord
from salesplane_platform.outbox_relay import OutboxRelay
from salesplane_platform.platform_tables import define_platform_tables
from salesplane_platform.unit_of_work import OutboxContext, SqlUnitOfWork

metadata = MetaData()
platform = define_platform_tables(metadata)


class FlakyPublisher:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.published: list[OutgoingRecord] = []

    def publish(self, records: Sequence[OutgoingRecord]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker unreachable")
        self.published.extend(records)

    def close(self) -> None: ...


@pytest.fixture
def engine(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'svc.db'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def write_events(engine, count: int) -> OutboxContext:
    outbox = OutboxContext(platform, "test", "topic", threading.Event())
    for version in range(1, count + 1):
        with SqlUnitOfWork(make_session_factory(engine), outbox) as uow:
            uow.record_event(
                payload=Money(currency_code="EUR", amount_minor=version),
                aggregate_type="thing",
                aggregate_id="a1",
                aggregate_version=version,
                actor="me",
            )
            uow.commit()
    return outbox


def pending(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(platform.outbox)).scalar_one()


def test_rows_stay_in_the_outbox_while_the_transport_fails_and_leave_in_order_once_it_recovers(engine):
    outbox = write_events(engine, 5)
    assert outbox.wakeup.is_set()
    publisher = FlakyPublisher(failures=1)
    relay = OutboxRelay(engine, platform, publisher, wakeup=outbox.wakeup, lock_name="test", batch_size=3)
    with pytest.raises(ConnectionError):
        relay.publish_pending()
    assert pending(engine) == 5
    assert relay.publish_pending() == 3
    assert relay.publish_pending() == 2
    assert pending(engine) == 0
    versions = []
    for record in publisher.published:
        from salesplane_platform.events import decode_envelope

        versions.append(decode_envelope(record.value).aggregate_version)
    assert versions == [1, 2, 3, 4, 5]
    assert {r.key for r in publisher.published} == {b"a1"}


def test_an_uncommitted_unit_of_work_leaves_no_event_behind(engine):
    outbox = OutboxContext(platform, "test", "topic", threading.Event())
    with SqlUnitOfWork(make_session_factory(engine), outbox) as uow:
        uow.record_event(
            payload=Money(currency_code="EUR", amount_minor=1),
            aggregate_type="thing",
            aggregate_id="a1",
            aggregate_version=1,
            actor="me",
        )
    assert pending(engine) == 0
    assert not outbox.wakeup.is_set()


def test_the_outbox_age_grows_while_the_transport_fails_and_drops_to_zero_once_published(engine):
    from prometheus_client import REGISTRY

    def sample(name: str) -> float | None:
        return REGISTRY.get_sample_value(name)

    outbox = write_events(engine, 3)
    publisher = FlakyPublisher(failures=1)
    relay = OutboxRelay(engine, platform, publisher, wakeup=outbox.wakeup, lock_name="test", batch_size=2)
    with pytest.raises(ConnectionError):
        relay.publish_pending()
    # Every waiting row counts, not only the batch; the age is read when scraped, so it keeps
    # growing while a publish hangs.
    assert sample("outbox_pending_events") == 3
    first = sample("outbox_oldest_event_age_seconds")
    assert first is not None and first > 0
    time.sleep(0.05)
    assert (sample("outbox_oldest_event_age_seconds") or 0) > first

    while relay.publish_pending():
        pass
    assert sample("outbox_oldest_event_age_seconds") == 0
    assert sample("outbox_pending_events") == 0
    assert [dict(r.headers)["ce_type"] for r in publisher.published] == [b"salesplane.common.v1.Money"] * 3
