"""The rollup handler on SQLite: a deal's contribution moves with each new state, up the owner's
chain; bad states are rejected and leave the last good contribution in place."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.opportunities.v1 import events_pb2, opportunities_pb2
from salesplane_forecasting.adapters.tables import metadata, rollup_totals, users
from salesplane_forecasting.entrypoints.opportunity_consumer import OpportunityRollupHandler
from salesplane_platform.consumer_runner import ConsumedEvent
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.event_transport import IncomingRecord
from salesplane_platform.events import build_envelope

WON = opportunities_pb2.OPPORTUNITY_STATUS_WON
LOST = opportunities_pb2.OPPORTUNITY_STATUS_LOST


@pytest.fixture
def sessions(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'forecasting.db'}")
    metadata.create_all(engine)
    factory = make_session_factory(engine)
    now = datetime.now(UTC)
    with factory() as session, session.begin():
        for user_id, manager in [("vp", None), ("mgr", "vp"), ("ann", "mgr"), ("bob", "vp")]:
            session.execute(
                users.insert().values(
                    user_id=user_id,
                    display_name=user_id,
                    email="",
                    roles="rep",
                    manager_user_id=manager,
                    active=True,
                    version=1,
                    updated_at=now,
                )
            )
    yield factory
    engine.dispose()


def consumed(
    version: int,
    *,
    owner="ann",
    month=11,
    day=15,
    amount=1000,
    probability=50,
    status=opportunities_pb2.OPPORTUNITY_STATUS_OPEN,
    base_currency="USD",
) -> ConsumedEvent:
    payload = events_pb2.OpportunityChanged(
        kind=events_pb2.CHANGE_KIND_UPDATED,
        opportunity=opportunities_pb2.Opportunity(
            id="deal-1",
            owner_user_id=owner,
            amount=Money(currency_code="EUR", amount_minor=amount),
            amount_base=Money(currency_code=base_currency, amount_minor=amount * 2),
            best_case_base=Money(currency_code=base_currency, amount_minor=amount * 3),
            worst_case_base=Money(currency_code=base_currency, amount_minor=amount),
            expected_close_date=Date(year=2026, month=month, day=day),
            probability=probability,
            status=status,
            version=version,
        ),
    )
    envelope = build_envelope(
        payload=payload,
        aggregate_type="opportunity",
        aggregate_id="deal-1",
        aggregate_version=version,
        producer="t",
        actor="t",
    )
    return ConsumedEvent(IncomingRecord("t", 0, version, b"deal-1", envelope.SerializeToString()), envelope)


def apply(sessions, event: ConsumedEvent):
    with sessions() as session, session.begin():
        return OpportunityRollupHandler("USD").apply(session, [event])


MEASURES = [
    "won_minor",
    "pipeline_minor",
    "weighted_percent_minor",
    "included_likely_minor",
    "upside_best_minor",
]


def rollup_rows(sessions) -> dict[tuple, tuple]:
    """(user, period, scope) -> a few measures, per scope of each row; all-zero scopes left out."""
    c = rollup_totals.c
    columns = [c[f"{scope}_{name}"] for scope in ("own", "team") for name in MEASURES]
    found = {}
    with sessions() as session:
        for user, period, *values in session.execute(select(c.user_id, c.period_id, *columns)):
            own, team = tuple(values[: len(MEASURES)]), tuple(values[len(MEASURES) :])
            found.update({(user, period, s): v for s, v in (("own", own), ("team", team)) if any(v)})
    return found


def test_a_deal_moves_between_owners_periods_and_stages_and_leaves_when_lost(sessions):
    assert apply(sessions, consumed(1)) == []
    upside = (0, 2000, 100_000, 0, 3000)  # 50 % is upside under the default ranges
    assert rollup_rows(sessions) == {
        (user, period, scope): upside
        for period in ("2026-Q4", "2026-11")
        for user, scope in [("ann", "own"), ("ann", "team"), ("mgr", "team"), ("vp", "team")]
    }
    apply(sessions, consumed(2, owner="bob", month=2, probability=80))
    included = (0, 2000, 160_000, 2000, 0)
    assert rollup_rows(sessions) == {
        (user, period, scope): included
        for period in ("2026-Q1", "2026-02")
        for user, scope in [("bob", "own"), ("bob", "team"), ("vp", "team")]
    }
    apply(sessions, consumed(3, owner="bob", month=2, status=WON))
    assert set(rollup_rows(sessions).values()) == {(2000, 0, 0, 0, 0)}
    apply(sessions, consumed(4, owner="bob", month=2, status=LOST))
    assert rollup_rows(sessions) == {}


def test_an_impossible_close_date_is_rejected_and_the_last_good_contribution_stays(sessions):
    apply(sessions, consumed(1))
    before = rollup_rows(sessions)
    rejected = apply(sessions, consumed(2, month=2, day=30, amount=9999))
    assert [r.event.envelope.aggregate_version for r in rejected] == [2]
    assert "close date" in rejected[0].reason
    assert rollup_rows(sessions) == before


def test_a_deal_valued_in_another_base_currency_is_rejected(sessions):
    rejected = apply(sessions, consumed(1, base_currency="EUR"))
    assert rejected and "kept in USD" in rejected[0].reason
    assert rollup_rows(sessions) == {}
