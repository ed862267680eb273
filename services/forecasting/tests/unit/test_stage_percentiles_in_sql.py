"""The stalled rule's percentiles computed in the database equal the domain's nearest rank over the
same stays, for any stays, percentile and minimum sample count (SQLite here; PostgreSQL in the
integration tests)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from salesplane_forecasting.adapters import deal_facts_store, tables
from salesplane_forecasting.domain.inspection.stage_percentiles import stage_percentiles
from salesplane_platform.db import make_engine, make_session_factory

STAGES = ("Prospecting", "Proposal", "Negotiation")
stays = st.lists(st.tuples(st.sampled_from(STAGES), st.integers(0, 10**9)), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stays=stays, percentile=st.integers(1, 100), min_samples=st.integers(1, 6))
def test_the_database_percentiles_are_the_nearest_rank_ones(tmp_path: Path, stays, percentile, min_samples):
    engine = make_engine(f"sqlite:///{tmp_path / 'percentiles.db'}")
    tables.metadata.create_all(engine)
    sessions = make_session_factory(engine)
    with sessions() as session, session.begin():
        session.execute(delete(tables.won_stage_stays))
        if stays:
            session.execute(
                insert(tables.won_stage_stays),
                [
                    {"opportunity_id": f"d{n}", "position": 0, "sales_stage": stage, "seconds": seconds}
                    for n, (stage, seconds) in enumerate(stays)
                ],
            )
        found = deal_facts_store.stage_percentiles(session, percentile=percentile, min_samples=min_samples)
    grouped: dict[str, list[int]] = {}
    for stage, seconds in stays:
        grouped.setdefault(stage, []).append(seconds)
    assert found == stage_percentiles(grouped, percentile=percentile, min_samples=min_samples)
    engine.dispose()
