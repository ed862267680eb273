"""The read-model event handler and the SQL read models on SQLite, alone and behind the consumer runner."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from salesplane.common.v1.common_pb2 import Date
from salesplane.common.v1.common_pb2 import Money as MoneyMessage
from salesplane.events.v1.envelope_pb2 import EventEnvelope
from salesplane.leads.v1 import events_pb2 as lead_events_pb2
from salesplane.leads.v1 import leads_pb2
from salesplane.opportunities.v1 import events_pb2 as opportunity_events_pb2
from salesplane.opportunities.v1 import opportunities_pb2
from salesplane_platform.consumer_runner import ConsumedEvent, ConsumerRunner, Rejection
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.event_transport import IncomingRecord
from salesplane_platform.events import build_envelope
from salesplane_platform.migrations import upgrade_to_head
from salesplane_platform.money import Money
from salesplane_reporting.adapters import tables
from salesplane_reporting.adapters.read_model_store import SqlReadModels
from salesplane_reporting.domain.read_models import OpportunityTotal
from salesplane_reporting.entrypoints.main import DEFINITION
from salesplane_reporting.entrypoints.read_model_consumer import (
    LEADS_TOPIC,
    OPPORTUNITIES_TOPIC,
    ReadModelProjector,
)

OPPORTUNITY_ID = "7f1d2c3b-0000-4000-8000-000000000001"
LEAD_ID = "7f1d2c3b-0000-4000-8000-0000000000aa"
_offsets = itertools.count()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'reporting.db'}")
    upgrade_to_head(engine, DEFINITION.migrations, lock_name="reporting")
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def opportunity_changed(
    version: int,
    *,
    opportunity_id: str = OPPORTUNITY_ID,
    stage: str = "Prospecting",
    amount_minor: int = 1_000_00,
    currency: str = "USD",
    kind: int = opportunity_events_pb2.CHANGE_KIND_UPDATED,
) -> opportunity_events_pb2.OpportunityChanged:
    return opportunity_events_pb2.OpportunityChanged(
        opportunity=opportunities_pb2.Opportunity(
            id=opportunity_id,
            name="Deal",
            owner_user_id="alice",
            amount=MoneyMessage(currency_code=currency, amount_minor=amount_minor),
            expected_close_date=Date(year=2031, month=6, day=30),
            sales_stage=stage,
            probability=10 * version,
            version=version,
        ),
        kind=kind,
    )


def lead_changed(version: int, status: int = leads_pb2.LEAD_STATUS_NEW) -> lead_events_pb2.LeadChanged:
    return lead_events_pb2.LeadChanged(
        lead=leads_pb2.Lead(
            id=LEAD_ID,
            last_name="Lovelace",
            status=status,
            lead_source_id="5b0c1a7e-7d57-4b8e-9b3c-0c5a3f0e9a11",
            version=version,
        )
    )


def envelope(payload: Message, *, aggregate_type: str, aggregate_id: str, version: int) -> EventEnvelope:
    producer = "opportunities" if aggregate_type == "opportunity" else "leads"
    return build_envelope(
        payload=payload,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        aggregate_version=version,
        producer=producer,
        actor="alice",
    )


def opportunity_envelope(version: int, **values: Any) -> EventEnvelope:
    changed = opportunity_changed(version, **values)
    return envelope(
        changed, aggregate_type="opportunity", aggregate_id=changed.opportunity.id, version=version
    )


def lead_envelope(version: int, status: int = leads_pb2.LEAD_STATUS_NEW) -> EventEnvelope:
    return envelope(
        lead_changed(version, status), aggregate_type="lead", aggregate_id=LEAD_ID, version=version
    )


def record(event: EventEnvelope) -> IncomingRecord:
    topic = OPPORTUNITIES_TOPIC if event.aggregate_type == "opportunity" else LEADS_TOPIC
    return IncomingRecord(topic, 0, next(_offsets), event.aggregate_id.encode(), event.SerializeToString())


def apply(sessions: sessionmaker[Session], *events: EventEnvelope) -> list[Rejection]:
    with sessions() as session, session.begin():
        return list(ReadModelProjector().apply(session, [ConsumedEvent(record(e), e) for e in events]))


def opportunity_rows(sessions: sessionmaker[Session]) -> list[tuple[object, ...]]:
    with sessions() as session:
        return [tuple(row) for row in session.execute(select(tables.opportunity_view)).all()]


def lead_rows(sessions: sessionmaker[Session]) -> list[tuple[object, ...]]:
    with sessions() as session:
        return [tuple(row) for row in session.execute(select(tables.lead_view)).all()]


def test_the_handler_consumes_the_opportunities_and_leads_topics() -> None:
    assert set(ReadModelProjector.topics) == {"salesplane.opportunities.v1", "salesplane.leads.v1"}
    assert set(DEFINITION.consumes) == set(ReadModelProjector.topics)


def test_an_opportunity_event_creates_its_view_from_the_full_state(sessions: sessionmaker[Session]) -> None:
    apply(sessions, opportunity_envelope(1, stage="Qualification", amount_minor=250_00, currency="EUR"))

    assert opportunity_rows(sessions) == [
        (OPPORTUNITY_ID, "alice", "Qualification", 250_00, "EUR", 10, date(2031, 6, 30), 1)
    ]


def test_a_newer_opportunity_event_replaces_the_view(sessions: sessionmaker[Session]) -> None:
    apply(sessions, opportunity_envelope(1))
    apply(sessions, opportunity_envelope(2, stage="Closed Won", amount_minor=900_00))

    assert opportunity_rows(sessions) == [
        (OPPORTUNITY_ID, "alice", "Closed Won", 900_00, "USD", 20, date(2031, 6, 30), 2)
    ]


def test_a_deleted_opportunity_leaves_the_view(sessions: sessionmaker[Session]) -> None:
    apply(sessions, opportunity_envelope(1))
    apply(sessions, opportunity_envelope(2, kind=opportunity_events_pb2.CHANGE_KIND_DELETED))

    assert opportunity_rows(sessions) == []


def test_a_lead_event_creates_and_then_replaces_its_view(sessions: sessionmaker[Session]) -> None:
    apply(sessions, lead_envelope(1))
    assert lead_rows(sessions) == [(LEAD_ID, "new", "5b0c1a7e-7d57-4b8e-9b3c-0c5a3f0e9a11", 1)]

    apply(sessions, lead_envelope(2, leads_pb2.LEAD_STATUS_ASSIGNED))
    assert lead_rows(sessions) == [(LEAD_ID, "assigned", "5b0c1a7e-7d57-4b8e-9b3c-0c5a3f0e9a11", 2)]


def test_within_one_batch_only_the_newest_state_of_an_aggregate_counts(
    sessions: sessionmaker[Session],
) -> None:
    apply(
        sessions, opportunity_envelope(3, stage="Closed Lost"), opportunity_envelope(2, stage="Qualification")
    )

    assert [(row[2], row[7]) for row in opportunity_rows(sessions)] == [("Closed Lost", 3)]


def test_unknown_event_types_are_ignored_with_a_debug_log(
    sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    stray = envelope(
        opportunities_pb2.SalesStage(name="Prospecting"), aggregate_type="stage", aggregate_id="x", version=1
    )

    with caplog.at_level(logging.DEBUG, logger="salesplane_reporting"):
        apply(sessions, stray, lead_envelope(1))

    assert lead_rows(sessions) == [(LEAD_ID, "new", "5b0c1a7e-7d57-4b8e-9b3c-0c5a3f0e9a11", 1)]
    assert opportunity_rows(sessions) == []
    assert [r.levelno for r in caplog.records if "does not use" in r.getMessage()] == [logging.DEBUG]


def test_an_event_whose_payload_does_not_match_its_type_is_rejected_for_dead_letters(
    sessions: sessionmaker[Session],
) -> None:
    forged = lead_envelope(1)
    forged.event_type = "salesplane.opportunities.v1.OpportunityChanged"

    rejected = apply(sessions, forged, opportunity_envelope(1))

    assert [row[0] for row in opportunity_rows(sessions)] == [OPPORTUNITY_ID]
    assert [r.event.envelope.event_id for r in rejected] == [forged.event_id]
    assert "expected salesplane.opportunities.v1.OpportunityChanged" in rejected[0].reason


def test_opportunity_totals_are_grouped_by_the_dimensions_and_currency(
    sessions: sessionmaker[Session],
) -> None:
    apply(
        sessions,
        opportunity_envelope(1, opportunity_id="a", stage="Qualification", amount_minor=100),
        opportunity_envelope(1, opportunity_id="b", stage="Qualification", amount_minor=250),
        opportunity_envelope(1, opportunity_id="c", stage="Qualification", amount_minor=7, currency="JPY"),
        opportunity_envelope(1, opportunity_id="d", stage="Prospecting", amount_minor=1),
    )

    with sessions() as session:
        totals = SqlReadModels(session).opportunity_totals(group_by=["sales_stage"])
        with pytest.raises(ValueError, match="name"):
            SqlReadModels(session).opportunity_totals(group_by=["name"])

    assert sorted(totals, key=lambda t: (t.key, t.amount.currency)) == [
        OpportunityTotal(("Prospecting",), 1, Money("USD", 1)),
        OpportunityTotal(("Qualification",), 1, Money("JPY", 7)),
        OpportunityTotal(("Qualification",), 2, Money("USD", 350)),
    ]


class ListSubscriber:
    """Just enough of an EventSubscriber for ConsumerRunner.process."""

    def poll(self, max_records: int, timeout_seconds: float) -> list[IncomingRecord]:
        return []

    def commit(self, records: object) -> None: ...

    def rewind(self, records: object) -> None: ...

    def close(self) -> None: ...


def test_behind_the_consumer_runner_duplicates_and_older_versions_change_nothing(
    sessions: sessionmaker[Session],
) -> None:
    runner = ConsumerRunner(sessions, tables.platform, ListSubscriber(), ReadModelProjector())
    newer = opportunity_envelope(2, stage="Negotiation/Review", amount_minor=500_00)

    assert runner.process([record(newer)]) == 1
    assert runner.process([record(newer)]) == 0
    assert runner.process([record(opportunity_envelope(1, stage="Prospecting"))]) == 0
    assert runner.process([record(lead_envelope(1)), record(lead_envelope(1))]) == 1

    assert [(row[2], row[3], row[7]) for row in opportunity_rows(sessions)] == [
        ("Negotiation/Review", 500_00, 2)
    ]
    assert lead_rows(sessions) == [(LEAD_ID, "new", "5b0c1a7e-7d57-4b8e-9b3c-0c5a3f0e9a11", 1)]
