"""Every service's audit log refuses to be rewritten: the migration's triggers fail an UPDATE, a
DELETE (and on PostgreSQL a TRUNCATE) of its rows, on PostgreSQL and on the embedded SQLite."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from salesplane.common.v1.common_pb2 import Money
from salesplane_forecasting.entrypoints.main import DEFINITION as FORECASTING
from salesplane_leads.entrypoints.main import DEFINITION as LEADS
from salesplane_opportunities.entrypoints.main import DEFINITION as OPPORTUNITIES
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.migrations import upgrade_to_head
from salesplane_platform.service_process import ServiceDefinition
from salesplane_platform.unit_of_work import OutboxContext, SqlUnitOfWork
from salesplane_reporting.entrypoints.main import DEFINITION as REPORTING

pytestmark = pytest.mark.integration

DEFINITIONS = {d.name: d for d in (LEADS, OPPORTUNITIES, FORECASTING, REPORTING)}
REWRITES = ["UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"]


def write_an_entry(engine: Engine, definition: ServiceDefinition) -> None:
    outbox = OutboxContext(
        definition.tables, definition.name, "events", threading.Event(), audit_topic="audit"
    )
    with SqlUnitOfWork(make_session_factory(engine), outbox).acting_for("ann") as uow:
        uow.record_event(
            payload=Money(currency_code="EUR", amount_minor=1),
            aggregate_type="thing",
            aggregate_id="t1",
            aggregate_version=1,
            actor="ann",
        )
        uow.commit()


def assert_rewrites_refused(engine: Engine, statements: list[str]) -> None:
    for statement in statements:
        with engine.connect() as connection:
            with pytest.raises(DBAPIError, match="append-only"):
                connection.execute(text(statement))
            connection.rollback()
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(text("audit_log"))).scalar_one() == 1
        assert connection.execute(text("SELECT actor FROM audit_log")).scalar_one() == "ann"


@pytest.mark.parametrize("service", sorted(DEFINITIONS))
def test_the_audit_log_cannot_be_rewritten_on_postgres(service: str, postgres_database_url: str) -> None:
    definition = DEFINITIONS[service]
    engine = make_engine(postgres_database_url)
    try:
        upgrade_to_head(engine, definition.migrations, lock_name=definition.name)
        write_an_entry(engine, definition)
        assert_rewrites_refused(engine, [*REWRITES, "TRUNCATE audit_log"])
    finally:
        engine.dispose()


@pytest.mark.parametrize("service", sorted(DEFINITIONS))
def test_the_audit_log_cannot_be_rewritten_on_sqlite(service: str, tmp_path: Path) -> None:
    definition = DEFINITIONS[service]
    engine = make_engine(f"sqlite:///{tmp_path / 'svc.db'}")
    try:
        upgrade_to_head(engine, definition.migrations, lock_name=definition.name)
        write_an_entry(engine, definition)
        assert_rewrites_refused(engine, REWRITES)
    finally:
        engine.dispose()
