"""How many SQL statements the benchmarked write paths issue on PostgreSQL (each is a round trip),
and that a database created by the first cut of migration 0001 upgrades to the current schema."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event, select, text

from salesplane_opportunities.adapters import tables
from salesplane_opportunities.adapters.configuration_store import SalesStageCatalogCache
from salesplane_opportunities.adapters.sql_unit_of_work import SqlOpportunitiesUnitOfWork
from salesplane_opportunities.domain.opportunity_inputs import OpportunityChanges, OpportunityDraft
from salesplane_opportunities.entrypoints.main import DEFINITION
from salesplane_opportunities.service_layer import configuration, deals, queries
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.identity import Identity
from salesplane_platform.migrations import upgrade_to_head
from salesplane_platform.org_replica import Reach, ReportingLines
from salesplane_platform.unit_of_work import OutboxContext
from salesplane_testing.organisation import seed_members

pytestmark = pytest.mark.integration

ADMIN = Identity("root", frozenset({"admin"}))
ALICE = Identity("alice", frozenset({"rep"}))
DRAFT = OpportunityDraft(
    name="Acme",
    owner_user_id="alice",
    amount_minor=100_000,
    currency="EUR",
    expected_close_date=date(2026, 6, 30),
    sales_stage="Prospecting",
)


@pytest.fixture
def engine(postgres_database_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_database_url)
    upgrade_to_head(engine, DEFINITION.migrations, lock_name="opportunities")
    seed_members(postgres_database_url)
    yield engine
    engine.dispose()


def statement_kinds(engine: Engine, call) -> list[str]:
    """The leading keyword of every statement `call` sends."""
    seen: list[str] = []

    def record(_connection, _cursor, statement, *_args) -> None:
        seen.append(statement.split()[0])

    event.listen(engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def test_writes_issue_only_the_statements_they_need(engine):
    outbox = OutboxContext(
        tables.platform, "opportunities", "opportunities-topic", threading.Event(), audit_topic="audit"
    )
    sessions = make_session_factory(engine)
    cache = SalesStageCatalogCache()
    reach = Reach(ReportingLines(tables.reporting_lines))

    def uow() -> SqlOpportunitiesUnitOfWork:
        return SqlOpportunitiesUnitOfWork(
            sessions, outbox, base_currency="USD", stage_cache=cache, reach=reach
        )

    configuration.set_exchange_rate(
        currency="EUR", rate="1.0850", effective_from=date(2026, 1, 1), caller=ADMIN, uow=uow()
    )
    deal = deals.create_opportunity(draft=DRAFT, request_id="", caller=ALICE, uow=uow())

    def create_with_request_id() -> None:
        deals.create_opportunity(draft=DRAFT, request_id="lead-conversion:1", caller=ALICE, uow=uow())

    # Lock, request id, stage revision, rate, the owner's membership, key, deal, first stage visit,
    # its audit entry, event (the audit entry's own event rides in the same outbox insert).
    assert statement_kinds(engine, create_with_request_id) == [
        "LOCK",
        "SELECT",
        "SELECT",
        "SELECT",
        "SELECT",
        "INSERT",
        "INSERT",
        "INSERT",
        "INSERT",
        "INSERT",
    ]
    for amount in (200_000, 300_000):

        def update_amount(amount: int = amount) -> None:
            deals.update_opportunity(
                opportunity_id=deal.id,
                changes=OpportunityChanges(amount_minor=amount),
                expected_version=0,
                caller=ALICE,
                uow=uow(),
            )

        # The deal (locked, with the stage revision), its new state, its audit entry, its event: no
        # rate or catalog read.
        assert statement_kinds(engine, update_amount) == ["SELECT", "UPDATE", "INSERT", "INSERT"]
    updated = queries.get_opportunity(opportunity_id=deal.id, caller=ALICE, uow=uow())
    assert (updated.version, updated.valuation.amount_base_minor) == (3, 325_500)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'opportunities.db'}"
    return request.getfixturevalue("postgres_database_url")


def test_a_database_of_the_first_0001_gains_the_status_of_each_deal(database_url):
    engine = make_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(DEFINITION.migrations))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        # The first cut of 0001 had no status column.
        connection.execute(text("ALTER TABLE opportunities DROP COLUMN status"))
        now = datetime.now(UTC)
        for deal_id, stage in (("won", "Closed Won"), ("lost", "Closed Lost"), ("open", "Qualification")):
            connection.execute(
                text(
                    "INSERT INTO opportunities (id, name, owner_user_id, amount_minor, currency, "
                    "expected_close_date, sales_stage, probability, probability_manual, version, "
                    "created_at, updated_at) VALUES (:id, 'Deal', 'alice', 100, 'USD', :close, :stage, "
                    "10, :manual, 1, :now, :now)"
                ),
                {"id": deal_id, "close": date(2026, 6, 30), "stage": stage, "manual": False, "now": now},
            )
    upgrade_to_head(engine, DEFINITION.migrations, lock_name="opportunities")
    with engine.connect() as connection:
        rows = connection.execute(select(tables.opportunities.c.id, tables.opportunities.c.status)).all()
    engine.dispose()
    assert dict(rows) == {"won": "won", "lost": "lost", "open": "open"}
