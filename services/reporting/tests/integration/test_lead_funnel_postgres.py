"""The lead read models and the lead funnel on PostgreSQL, migrated as production is: touches,
exchange rates and lead milestones projected idempotently, and every funnel number (medians and
day counts included) equal to what the embedded SQLite database gives for the same events."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

import salesplane_reporting.migrations as migrations
from salesplane.common.v1.common_pb2 import Date
from salesplane.events.v1.envelope_pb2 import EventEnvelope
from salesplane.forecasting.v1 import org_pb2, settings_pb2
from salesplane.leads.v1 import events_pb2 as lead_events_pb2
from salesplane.leads.v1 import leads_pb2
from salesplane.opportunities.v1 import events_pb2 as opportunity_events_pb2
from salesplane.opportunities.v1 import opportunities_pb2
from salesplane_platform import topics
from salesplane_platform.consumer_runner import ConsumerRunner
from salesplane_platform.db import as_utc, make_engine, make_session_factory
from salesplane_platform.event_transport import IncomingRecord
from salesplane_platform.events import build_envelope
from salesplane_platform.identity import Identity
from salesplane_platform.migrations import upgrade_to_head
from salesplane_reporting.adapters import tables
from salesplane_reporting.adapters.report_engine import RunContext, SqlReportEngine
from salesplane_reporting.domain.builtin_reports import builtin
from salesplane_reporting.domain.definition import parse_definition
from salesplane_reporting.entrypoints.read_model_consumer import ReadModelProjector

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
T0 = datetime(2026, 3, 2, 9, 30, 15, 250_000, tzinfo=UTC)
ADMIN = Identity("admin", frozenset({"admin"}))
M1 = Identity("m1", frozenset({"manager"}))
_offsets = itertools.count()


class ListSubscriber:
    def poll(self, max_records: int, timeout_seconds: float) -> list[IncomingRecord]:
        return []

    def commit(self, records: object) -> None: ...

    def rewind(self, records: object) -> None: ...

    def close(self) -> None: ...


def stamp(moment: datetime) -> Timestamp:
    value = Timestamp()
    value.FromDatetime(moment)
    return value


def record(
    topic: str, payload: Message, kind: str, aggregate_id: str, version: int, at: datetime
) -> IncomingRecord:
    envelope: EventEnvelope = build_envelope(
        payload=payload,
        aggregate_type=kind,
        aggregate_id=aggregate_id,
        aggregate_version=version,
        producer="test",
        actor="test",
        occurred_at=at,
    )
    return IncomingRecord(topic, 0, next(_offsets), aggregate_id.encode(), envelope.SerializeToString())


def organisation() -> list[IncomingRecord]:
    settings = settings_pb2.ForecastSettings(fiscal_year_start_month=1, currency_code="EUR", version=1)
    records = [
        record(
            topics.FORECASTING,
            settings_pb2.ForecastSettingsChanged(settings=settings),
            "forecast_settings",
            "settings",
            1,
            T0,
        )
    ]
    for user, manager in {"vp": "", "m1": "vp", "r1": "m1", "r2": "vp"}.items():
        message = org_pb2.User(
            user_id=user, display_name=user.upper(), manager_user_id=manager, active=True, version=1
        )
        records.append(record(topics.FORECASTING, org_pb2.UserChanged(user=message), "user", user, 1, T0))
    return records


def funnel() -> list[IncomingRecord]:
    """Nine leads of two owners: some qualified, converted and won after uneven (sub-second) delays."""
    records = []
    for number in range(9):
        lead_id, owner = f"L{number}", "r1" if number % 3 else "r2"
        created = T0 + timedelta(days=number, seconds=number * 1_111, microseconds=number * 77_777)
        qualified = created + timedelta(hours=7 * number + 5, microseconds=333_333)
        converted = qualified + timedelta(days=number % 4, hours=3)
        deal_id = f"D{number}" if number % 2 == 0 else ""
        steps: list[tuple[datetime, int, bool, str]] = [(created, leads_pb2.LEAD_STATUS_NEW, False, "")]
        if number % 3 != 1:
            steps.append((qualified, leads_pb2.LEAD_STATUS_IN_PROCESS, True, ""))
        steps.append(
            (converted, leads_pb2.LEAD_STATUS_CONVERTED, number % 3 != 1, deal_id)
            if deal_id
            else (converted, leads_pb2.LEAD_STATUS_DEAD, number % 3 != 1, "")
        )
        for version, (when, status, is_qualified, deal) in enumerate(steps, start=1):
            lead = leads_pb2.Lead(
                id=lead_id,
                status=status,  # type: ignore[arg-type]
                qualified=is_qualified,
                assigned_user_id=owner,
                lead_source_id="web" if number < 5 else "event",
                campaign_id="spring",
                converted_opportunity_id=deal,
                version=version,
                create_time=stamp(created),
            )
            if deal:
                lead.convert_time.CopyFrom(stamp(when))
            records.append(
                record(topics.LEADS, lead_events_pb2.LeadChanged(lead=lead), "lead", lead_id, version, when)
            )
        if deal_id and number % 4 == 0:
            won = converted + timedelta(days=number + 1, minutes=number)
            deal_message = opportunities_pb2.Opportunity(
                id=deal_id,
                owner_user_id=owner,
                status=opportunities_pb2.OPPORTUNITY_STATUS_WON,
                sales_stage="Closed Won",
                version=1,
                create_time=stamp(converted),
                update_time=stamp(won),
                close_time=stamp(won),
            )
            changed = opportunity_events_pb2.OpportunityChanged(
                opportunity=deal_message, kind=opportunity_events_pb2.CHANGE_KIND_CLOSED
            )
            records.append(record(topics.OPPORTUNITIES, changed, "opportunity", deal_id, 1, won))
    return records


def touch(touch_id: str, lead_id: str, at: datetime) -> IncomingRecord:
    message = leads_pb2.LeadTouch(
        id=touch_id,
        lead_id=lead_id,
        campaign_id="spring",
        kind=leads_pb2.TOUCH_KIND_FORM,
        touch_time=stamp(at),
    )
    return record(topics.LEADS, lead_events_pb2.LeadTouched(touch=message), "lead_touch", touch_id, 1, at)


def rate(version: int, value: str) -> IncomingRecord:
    message = opportunities_pb2.ExchangeRate(
        currency_code="USD",
        rate=value,
        effective_from=Date(year=2026, month=3, day=1),
        base_currency_code="EUR",
    )
    return record(
        topics.OPPORTUNITIES,
        opportunity_events_pb2.ExchangeRateChanged(rate=message),
        "exchange_rate",
        "USD/2026-03-01",
        version,
        T0,
    )


def fed(engine: Engine) -> sessionmaker[Session]:
    sessions = make_session_factory(engine)
    runner = ConsumerRunner(sessions, tables.platform, ListSubscriber(), ReadModelProjector())
    events = [*organisation(), *funnel()]
    runner.process(events)
    runner.process(events[::-1])  # a redelivery, in another order
    return sessions


@pytest.fixture
def postgres(postgres_database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(postgres_database_url)
    upgrade_to_head(engine, Path(migrations.__file__).parent, lock_name="reporting")
    try:
        yield fed(engine)
    finally:
        engine.dispose()


@pytest.fixture
def sqlite() -> Iterator[sessionmaker[Session]]:
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    tables.metadata.create_all(engine)
    try:
        yield fed(engine)
    finally:
        engine.dispose()


def cells(sessions: sessionmaker[Session], document: Any, caller: Identity = ADMIN) -> list[tuple[Any, ...]]:
    with sessions() as session:
        output = SqlReportEngine(session).run(parse_definition(document), RunContext(caller, NOW))
    return [(row.kind.name, *row.cells) for row in output.rows]


def test_touches_rates_and_milestones_are_projected_once_on_postgresql(
    postgres: sessionmaker[Session],
) -> None:
    runner = ConsumerRunner(postgres, tables.platform, ListSubscriber(), ReadModelProjector())
    batch = [
        touch("t1", "L0", T0),
        touch("t1", "L0", T0),
        touch("t2", "L0", T0 + timedelta(days=1)),
        rate(1, "1.1"),
    ]
    runner.process(batch)
    runner.process([rate(2, "1.08"), *batch])

    with postgres() as session:
        touches = session.execute(
            select(tables.lead_touch_view.c.touch_id, tables.lead_touch_view.c.kind).order_by("touch_id")
        ).all()
        rates = session.execute(
            select(tables.exchange_rate_view.c.rate, tables.exchange_rate_view.c.version)
        ).all()
        lead = tables.lead_view.c
        milestones = session.execute(
            select(lead.qualified_time, lead.dead_time, lead.version).where(lead.id == "L1")
        ).one()
    assert touches == [("t1", "form"), ("t2", "form")]
    assert rates == [("1.08", 2)]
    # L1: never qualified, dead when it would have converted.
    assert milestones[0] is None and as_utc(milestones[1]) > T0 and milestones[2] == 2


@pytest.mark.parametrize("report_id", ["lead_funnel", "lead_funnel_by_month"])
def test_the_builtin_lead_funnel_gives_the_same_numbers_on_postgresql_and_sqlite(
    postgres: sessionmaker[Session], sqlite: sessionmaker[Session], report_id: str
) -> None:
    document = builtin(report_id).document  # type: ignore[union-attr]

    for caller in (ADMIN, M1):
        on_postgres = cells(postgres, document, caller)
        assert on_postgres == cells(sqlite, document, caller)
        assert any(value is not None for row in on_postgres for value in row[-3:])


def test_medians_of_every_duration_are_equal_on_postgresql_and_sqlite(
    postgres: sessionmaker[Session], sqlite: sessionmaker[Session]
) -> None:
    document = {
        "source": "lead_funnel",
        "layout": "matrix",
        "dimensions": [{"field": "assigned_user"}, {"field": "lead_source"}],
        "column_dimensions": 1,
        "measures": [
            {"name": f"median_{field}", "aggregate": "median", "field": field}
            for field in ("days_to_qualify", "days_to_convert", "days_to_win")
        ],
    }

    on_postgres = cells(postgres, document)
    assert on_postgres == cells(sqlite, document)
    assert len(on_postgres) == 3


def test_the_migrated_schema_has_what_the_tables_module_declares(postgres: sessionmaker[Session]) -> None:
    with postgres() as session:
        for table in (tables.lead_view, tables.lead_touch_view, tables.exchange_rate_view):
            session.execute(select(*table.c).limit(1)).all()
