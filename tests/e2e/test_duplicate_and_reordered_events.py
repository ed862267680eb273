"""Forecasting applies the newest state of each deal whatever Kafka delivers: duplicates, replays
and versions out of order."""

from __future__ import annotations

import random
import time
from datetime import date

import pytest
from kafka import KafkaProducer
from sqlalchemy import create_engine, text

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.opportunities.v1 import events_pb2, opportunities_pb2
from salesplane_platform.events import build_envelope
from tests.e2e.rollup_oracle import DealState, actual_rollups, differences, expected_totals

pytestmark = pytest.mark.e2e


STATUSES = {
    opportunities_pb2.OPPORTUNITY_STATUS_OPEN: "open",
    opportunities_pb2.OPPORTUNITY_STATUS_WON: "won",
    opportunities_pb2.OPPORTUNITY_STATUS_LOST: "lost",
}


def state(opportunity_id: str, version: int, rng: random.Random) -> events_pb2.OpportunityChanged:
    status = rng.choice(
        [opportunities_pb2.OPPORTUNITY_STATUS_OPEN] * 4
        + [opportunities_pb2.OPPORTUNITY_STATUS_WON, opportunities_pb2.OPPORTUNITY_STATUS_LOST]
    )
    amount = rng.randint(0, 10**7)
    # Valued in the base currency (USD), as the opportunities service sends them.
    base = amount if rng.random() < 0.5 else amount * 1085 // 1000
    return events_pb2.OpportunityChanged(
        kind=events_pb2.CHANGE_KIND_CREATED if version == 1 else events_pb2.CHANGE_KIND_UPDATED,
        opportunity=opportunities_pb2.Opportunity(
            id=opportunity_id,
            owner_user_id=rng.choice(["ann", "bob", "cid"]),
            amount=Money(currency_code=rng.choice(["EUR", "USD"]), amount_minor=amount),
            amount_base=Money(currency_code="USD", amount_minor=base),
            best_case_base=Money(currency_code="USD", amount_minor=base + rng.randint(0, 10**5)),
            worst_case_base=Money(currency_code="USD", amount_minor=base // 2),
            expected_close_date=Date(year=2026, month=rng.randint(1, 12), day=15),
            probability=rng.randint(0, 100),
            status=status,
            version=version,
        ),
    )


def expected_from(latest: dict[str, events_pb2.OpportunityChanged]) -> dict:
    """The rollups of the newest state of each deal (nobody in forecasting's organisation)."""
    deals = []
    for event in latest.values():
        o = event.opportunity
        close = o.expected_close_date
        deals.append(
            DealState(
                owner=o.owner_user_id,
                status=STATUSES[o.status],
                close_date=date(close.year, close.month, close.day),
                probability=o.probability,
                likely=o.amount_base.amount_minor,
                best=o.best_case_base.amount_minor,
                worst=o.worst_case_base.amount_minor,
            )
        )
    return expected_totals(deals, managers={})


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
    assert expected and actual == expected, differences(expected, actual)

    engine = create_engine(database)
    with engine.connect() as connection:
        applied = dict(
            connection.execute(text("SELECT opportunity_id, version FROM tracked_opportunities")).all()
        )
    engine.dispose()
    assert applied == {i: len(h) for i, h in histories.items()}
