"""The deal history on PostgreSQL, through the migrations: the consumer's batch upserts the facts
(COPY path), replaces the won stays and keeps the catalogue's stage order, and a redelivered batch
changes nothing."""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from salesplane_forecasting.adapters import deal_facts_store
from salesplane_forecasting.adapters.tables import deal_facts, users
from salesplane_forecasting.entrypoints.main import DEFINITION
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.migrations import upgrade_to_head

pytestmark = pytest.mark.integration

# The unit test's event builders (tests are not a package here).
_spec = importlib.util.spec_from_file_location(
    "deal_history_events", Path(__file__).parent.parent / "unit" / "test_deal_history_consumer.py"
)
assert _spec is not None and _spec.loader is not None
events = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(events)


def test_facts_and_won_stays_survive_a_redelivered_batch_on_postgres(postgres_database_url):
    engine = make_engine(postgres_database_url)
    upgrade_to_head(engine, DEFINITION.migrations, lock_name=DEFINITION.name)
    sessions = make_session_factory(engine)
    with sessions() as session, session.begin():
        session.execute(
            users.insert().values(
                user_id="ann",
                display_name="Ann",
                email="",
                roles="rep",
                manager_user_id=None,
                active=True,
                version=1,
                updated_at=events.T0,
            )
        )
    batch = [
        events.catalogue(1),
        events.changed(1, deal="d1"),
        events.changed(2, deal="d1", stage="Proposal", close=date(2026, 12, 1), days=2),
        events.changed(1, deal="d2", stage="Proposal"),
        events.changed(2, deal="d2", stage="Closed Won", status=events.WON, probability=100, days=3),
    ]
    try:
        for _ in range(2):
            assert events.apply(sessions, *batch) == []
        with sessions() as session:
            rows = session.execute(select(deal_facts.c.opportunity_id, deal_facts.c.status)).all()
            assert sorted(rows) == [("d1", "open"), ("d2", "won")]
            d1 = deal_facts_store.load(session, ["d1"], for_update=False)["d1"]
            assert (d1.push_count, d1.stage_order) == (1, 3)
            assert deal_facts_store.won_durations(session) == {"Proposal": [3 * 86_400]}
            # The percentile's integer arithmetic in PostgreSQL's dialect too.
            assert deal_facts_store.stage_percentiles(session, percentile=75, min_samples=1) == {
                "Proposal": 3 * 86_400
            }
            assert deal_facts_store.stage_percentiles(session, percentile=75, min_samples=2) == {}
            assert deal_facts_store.facts_of_owners(session, ["ann"], closing_from=date(2026, 10, 1)) == [
                ("ann", d1)
            ]
    finally:
        engine.dispose()
