"""Two transactions applying the same first state of a deal at once (a consumer that lost its
partitions mid-batch and the one that took them over) count it once, on PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest
from sqlalchemy import select

from salesplane_forecasting.adapters.opportunity_events import apply_deal_states
from salesplane_forecasting.adapters.tables import rollup_totals
from salesplane_forecasting.domain.deals import Deal
from salesplane_forecasting.entrypoints.main import DEFINITION
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.migrations import upgrade_to_head

pytestmark = pytest.mark.integration


def first_state() -> Deal:
    return Deal(
        opportunity_id="deal-1",
        version=1,
        owner_user_id="ann",
        status="open",
        close_date=date(2026, 11, 20),
        currency="USD",
        amount_minor=1_000,
        probability=80,
        name="Acme",
        account_name="",
        sales_stage="Proposal",
        likely_minor=1_000,
        best_minor=1_000,
        worst_minor=1_000,
    )


def test_the_same_first_state_applied_twice_at_once_counts_once(postgres_database_url):
    engine = make_engine(postgres_database_url)
    upgrade_to_head(engine, DEFINITION.migrations, lock_name=DEFINITION.name)
    sessions = make_session_factory(engine)
    try:
        first = sessions()
        first.begin()
        apply_deal_states(first, {"deal-1": first_state()}, newer_only=True)
        second_done = threading.Event()

        def second() -> None:
            with sessions() as session, session.begin():
                apply_deal_states(session, {"deal-1": first_state()}, newer_only=True)
            second_done.set()

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        # The second waits on the first's uncommitted row instead of counting the deal too.
        assert not second_done.is_set()
        first.commit()
        first.close()
        thread.join(timeout=10)
        assert second_done.is_set()
        with sessions() as session:
            pipelines = session.execute(
                select(rollup_totals.c.user_id, rollup_totals.c.period_id, rollup_totals.c.own_pipeline_minor)
            ).all()
        assert sorted(pipelines) == [("ann", "2026-11", 1_000), ("ann", "2026-Q4", 1_000)]
    finally:
        engine.dispose()
