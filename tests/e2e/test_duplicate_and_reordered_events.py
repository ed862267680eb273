"""Forecasting applies the newest state of each deal whatever Kafka delivers: duplicates, replays
and versions out of order."""

from __future__ import annotations

import random
import time

import pytest
from kafka import KafkaProducer
from sqlalchemy import create_engine, text

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.opportunities.v1 import events_pb2, opportunities_pb2
from salesplane_platform.events import build_envelope
from tests.e2e.rollup_oracle import actual_rollups

pytestmark = pytest.mark.e2e


def state(opportunity_id: str, version: int, rng: random.Random) -> events_pb2.OpportunityChanged:
    status = rng.choice(
        [opportunities_pb2.OPPORTUNITY_STATUS_OPEN] * 4
        + [opportunities_pb2.OPPORTUNITY_STATUS_WON, opportunities_pb2.OPPORTUNITY_STATUS_LOST]
    )
    return events_pb2.OpportunityChanged(
        kind=events_pb2.CHANGE_KIND_CREATED if version == 1 else events_pb2.CHANGE_KIND_UPDATED,
        opportunity=opportunities_pb2.Opportunity(
            id=opportunity_id,
            owner_user_id=rng.choice(["ann", "bob", "cid"]),
            amount=Money(currency_code=rng.choice(["EUR", "USD"]), amount_minor=rng.randint(0, 10**7)),
            expected_close_date=Date(year=2026, month=rng.randint(1, 12), day=15),
            probability=rng.randint(0, 100),
            status=status,
            version=version,
        ),
    )


def expected_from(latest: dict[str, events_pb2.OpportunityChanged]) -> dict:
    totals: dict = {}
    for event in latest.values():
        o = event.opportunity
        if o.status == opportunities_pb2.OPPORTUNITY_STATUS_LOST:
            continue
        key = (o.owner_user_id, f"2026-Q{(o.expected_close_date.month - 1) // 3 + 1}", o.amount.currency_code)
        count, amount, weighted = totals.get(key, (0, 0, 0))
        totals[key] = (
            count + 1,
            amount + o.amount.amount_minor,
            weighted + o.amount.amount_minor * o.probability,
        )
    return totals


def test_duplicated_replayed_and_reordered_events_count_once_at_their_newest_version(
    services, kafka_broker, topic_prefix
):
    rng = random.Random(11)
    forecasting = services("forecasting")
    topic = f"{topic_prefix}salesplane.opportunities.v1"
    histories = {f"00000000-0000-4000-8000-{i:012d}": [] for i in range(60)}
    records = []
    for opportunity_id, history in histories.items():
        for version in range(1, rng.randint(2, 6)):
            event = state(opportunity_id, version, rng)
            history.append(event)
            envelope = build_envelope(
                payload=event,
                aggregate_type="opportunity",
                aggregate_id=opportunity_id,
                aggregate_version=version,
                producer="test",
                actor="test",
            )
            records.append((opportunity_id, envelope.SerializeToString()))
    # Every record twice, the second copy in a shuffled order: later versions often come first.
    delivery = records + rng.sample(records, len(records))
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap_servers, acks="all")
    for key, value in delivery:
        producer.send(topic, key=key.encode(), value=value)
    producer.flush()
    producer.close()

    expected = expected_from({i: h[-1] for i, h in histories.items()})
    database = forecasting.env["SALESPLANE_DATABASE_URL"]
    deadline = time.monotonic() + 60
    actual = None
    while time.monotonic() < deadline:
        actual = actual_rollups(database)
        if actual == expected:
            break
        time.sleep(0.5)
    assert actual == expected

    engine = create_engine(database)
    with engine.connect() as connection:
        applied = dict(
            connection.execute(text("SELECT opportunity_id, version FROM tracked_opportunities")).all()
        )
    engine.dispose()
    assert applied == {i: len(h) for i, h in histories.items()}
