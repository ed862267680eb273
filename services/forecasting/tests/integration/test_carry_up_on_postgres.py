"""The rollups' set-based carry-up in PostgreSQL moves exactly the rows the domain's carry_up
computes: generated organisations (users outside it included), generated own deltas, existing rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from salesplane_forecasting.adapters import hierarchy, rollup_store
from salesplane_forecasting.adapters.tables import rollup_totals, users
from salesplane_forecasting.domain.contributions import MEASURES, ROLLUP_MEASURES, carry_up
from salesplane_forecasting.entrypoints.main import DEFINITION
from salesplane_platform.db import make_engine
from salesplane_platform.migrations import upgrade_to_head

pytestmark = pytest.mark.integration

PEOPLE = [f"u{i}" for i in range(12)]
PERIODS = ["2026-Q1", "2026-01", "2026-Q2"]
measures = st.lists(st.integers(-(10**12), 10**12), min_size=len(MEASURES), max_size=len(MEASURES))


@st.composite
def organisations(draw: st.DrawFn) -> dict[str, str | None]:
    """A forest over some of PEOPLE: each member's manager is one drawn before them (no cycles)."""
    members = draw(st.lists(st.sampled_from(PEOPLE), unique=True, max_size=len(PEOPLE)))
    managers: dict[str, str | None] = {}
    for index, user_id in enumerate(members):
        managers[user_id] = draw(st.none() | st.sampled_from(members[:index])) if index else None
    return managers


@pytest.fixture
def engine(postgres_database_url: str) -> Iterator[Engine]:
    made = make_engine(postgres_database_url)
    upgrade_to_head(made, DEFINITION.migrations, lock_name=DEFINITION.name)
    yield made
    made.dispose()


def rollup_rows(session: Session) -> dict[tuple[str, str], tuple[int, ...]]:
    c = rollup_totals.c
    found = session.execute(select(c.user_id, c.period_id, *[c[m] for m in ROLLUP_MEASURES])).all()
    return {(u, p): tuple(values) for u, p, *values in found if any(values)}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    organisation=organisations(),
    existing=st.dictionaries(
        st.tuples(st.sampled_from(PEOPLE), st.sampled_from(PERIODS)), measures, max_size=6
    ),
    own=st.dictionaries(st.tuples(st.sampled_from(PEOPLE), st.sampled_from(PERIODS)), measures, max_size=10),
)
def test_the_statement_moves_the_rows_the_domain_computes(
    engine: Engine,
    organisation: dict[str, str | None],
    existing: dict[tuple[str, str], list[int]],
    own: dict[tuple[str, str], list[int]],
) -> None:
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        session.execute(delete(rollup_totals))
        session.execute(delete(users))
        if organisation:
            session.execute(
                users.insert(),
                [
                    {
                        "user_id": user_id,
                        "display_name": user_id,
                        "email": f"{user_id}@example.com",
                        "roles": "rep",
                        "manager_user_id": manager,
                        "active": True,
                        "version": 1,
                        "updated_at": now,
                    }
                    for user_id, manager in organisation.items()
                ],
            )
        starting = {key: [0] * len(MEASURES) + values for key, values in existing.items()}
        rollup_store.apply_deltas(session, starting)
        expected = {key: list(values) for key, values in rollup_rows(session).items()}
        chains = hierarchy.chains_of(session, {owner for owner, _ in own})
        for key, delta in carry_up(own, chains).items():
            held = expected.setdefault(key, [0] * len(ROLLUP_MEASURES))
            expected[key] = [a + b for a, b in zip(held, delta, strict=True)]

        rollup_store.carry_up_own_deltas(session, own)

        assert rollup_rows(session) == {k: tuple(v) for k, v in expected.items() if any(v)}
        session.rollback()
