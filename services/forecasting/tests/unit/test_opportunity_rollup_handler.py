"""The rollup handler on SQLite: contributions move with each new state; bad states are rejected."""

from pathlib import Path

import pytest
from sqlalchemy import select

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.opportunities.v1 import events_pb2, opportunities_pb2
from salesplane_forecasting.adapters.opportunity_events import OpportunityRollupHandler
from salesplane_forecasting.adapters.tables import metadata, rollups
from salesplane_platform.consumer_runner import ConsumedEvent
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.event_transport import IncomingRecord
from salesplane_platform.events import build_envelope


@pytest.fixture
def sessions(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'forecasting.db'}")
    metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


def consumed(
    version: int, *, owner="ann", month=11, day=15, amount=1000, probability=50, status=1
) -> ConsumedEvent:
    payload = events_pb2.OpportunityChanged(
        kind=events_pb2.CHANGE_KIND_UPDATED,
        opportunity=opportunities_pb2.Opportunity(
            id="deal-1",
            owner_user_id=owner,
            amount=Money(currency_code="EUR", amount_minor=amount),
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
        return OpportunityRollupHandler().apply(session, [event])


def rollup_rows(sessions) -> set[tuple]:
    columns = [
        rollups.c.user_id,
        rollups.c.period_id,
        rollups.c.opportunity_count,
        rollups.c.amount_minor,
        rollups.c.weighted_percent_minor,
    ]
    with sessions() as session:
        return {tuple(r) for r in session.execute(select(*columns)) if r[2]}


def test_a_reassigned_and_rescheduled_deal_moves_between_rollups(sessions):
    assert apply(sessions, consumed(1)) == []
    assert rollup_rows(sessions) == {("ann", "2026-Q4", 1, 1000, 50_000)}
    apply(sessions, consumed(2, owner="bob", month=2))
    assert rollup_rows(sessions) == {("bob", "2026-Q1", 1, 1000, 50_000)}
    apply(sessions, consumed(3, owner="bob", month=2, status=opportunities_pb2.OPPORTUNITY_STATUS_LOST))
    assert rollup_rows(sessions) == set()


def test_an_impossible_close_date_is_rejected_and_the_last_good_contribution_stays(sessions):
    apply(sessions, consumed(1))
    rejected = apply(sessions, consumed(2, month=2, day=30, amount=9999))
    assert [r.event.envelope.aggregate_version for r in rejected] == [2]
    assert "close date" in rejected[0].reason
    assert rollup_rows(sessions) == {("ann", "2026-Q4", 1, 1000, 50_000)}
