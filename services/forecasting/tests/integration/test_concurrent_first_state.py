"""Two consumers applying the same batch at once (one that lost its partitions mid-batch and the
one that took them over) count it once, on PostgreSQL: the second waits on the partition's lock
for the first's commit, then finds the deals at their versions and skips them."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.opportunities.v1 import events_pb2, opportunities_pb2
from salesplane_forecasting.adapters import tables
from salesplane_forecasting.entrypoints.main import DEFINITION
from salesplane_forecasting.entrypoints.opportunity_consumer import OpportunityRollupHandler
from salesplane_platform import topics
from salesplane_platform.consumer_runner import ConsumerRunner
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.event_transport import IncomingRecord
from salesplane_platform.events import build_envelope
from salesplane_platform.migrations import upgrade_to_head

pytestmark = pytest.mark.integration


def record(deal: str, offset: int) -> IncomingRecord:
    usd = Money(currency_code="USD", amount_minor=1_000)
    opportunity = opportunities_pb2.Opportunity(
        id=deal,
        owner_user_id="ann",
        amount=usd,
        amount_base=usd,
        expected_close_date=Date(year=2026, month=11, day=20),
        probability=80,
        status=opportunities_pb2.OPPORTUNITY_STATUS_OPEN,
        version=1,
    )
    envelope = build_envelope(
        payload=events_pb2.OpportunityChanged(opportunity=opportunity, kind=events_pb2.CHANGE_KIND_CREATED),
        aggregate_type="opportunity",
        aggregate_id=deal,
        aggregate_version=1,
        producer="t",
        actor="t",
    )
    return IncomingRecord(topics.OPPORTUNITIES, 3, offset, deal.encode(), envelope.SerializeToString())


class Unsubscribed:
    """process() is driven by hand here; nothing is polled."""

    def poll(self, max_records: int, timeout_seconds: float) -> list[IncomingRecord]:
        return []

    def commit(self, records: object) -> None: ...

    def rewind(self, records: object) -> None: ...

    def close(self) -> None: ...


class HeldOpen(OpportunityRollupHandler):
    """Applies, then keeps its transaction open until released: the stalled first member."""

    def __init__(self, applied: threading.Event, release: threading.Event) -> None:
        super().__init__("USD")
        self._applied, self._release = applied, release

    def apply(self, session, events):  # type: ignore[no-untyped-def]
        rejected = super().apply(session, events)
        self._applied.set()
        self._release.wait(10)
        return rejected


def test_the_same_batch_applied_by_two_members_at_once_counts_once(postgres_database_url):
    engine = make_engine(postgres_database_url)
    upgrade_to_head(engine, DEFINITION.migrations, lock_name=DEFINITION.name)
    sessions = make_session_factory(engine)
    batch = [record(f"deal-{i}", i) for i in range(3)]
    applied, release, second_done = threading.Event(), threading.Event(), threading.Event()
    stalled = ConsumerRunner(sessions, tables.platform, Unsubscribed(), HeldOpen(applied, release))
    taker = ConsumerRunner(sessions, tables.platform, Unsubscribed(), OpportunityRollupHandler("USD"))
    try:
        first = threading.Thread(target=stalled.process, args=(batch,))
        first.start()
        assert applied.wait(10)

        def take_over() -> None:
            taker.process(batch)
            second_done.set()

        second = threading.Thread(target=take_over)
        second.start()
        time.sleep(0.5)
        assert not second_done.is_set()  # waiting on the partition, not applying beside the first
        release.set()
        first.join(10)
        second.join(10)
        assert second_done.is_set()
        with sessions() as session:
            c = tables.rollup_totals.c
            rows = session.execute(
                select(c.user_id, c.period_id, c.own_pipeline_minor, c.own_open_count)
            ).all()
        assert sorted(rows) == [("ann", "2026-11", 3_000, 3), ("ann", "2026-Q4", 3_000, 3)]
    finally:
        release.set()
        engine.dispose()
