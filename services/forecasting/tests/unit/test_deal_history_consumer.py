"""The opportunity consumer folds every version into the deal's inspection facts on SQLite: pushes
and setbacks between versions of one batch count, stage orders come from the sales-stage catalogue,
a won deal's stays become samples once, and redelivery changes nothing."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.opportunities.v1 import events_pb2, opportunities_pb2
from salesplane_forecasting.adapters import deal_facts_store
from salesplane_forecasting.adapters.tables import deal_facts, metadata, users
from salesplane_forecasting.domain.contributions import DealStatus
from salesplane_forecasting.domain.inspection.deal_history import SetbackKind
from salesplane_forecasting.entrypoints.opportunity_consumer import OpportunityRollupHandler
from salesplane_platform.consumer_runner import ConsumedEvent
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.event_transport import IncomingRecord
from salesplane_platform.events import build_envelope

OPEN = opportunities_pb2.OPPORTUNITY_STATUS_OPEN
WON = opportunities_pb2.OPPORTUNITY_STATUS_WON
T0 = datetime(2026, 10, 1, 9, tzinfo=UTC)
STAGES = [("Prospecting", 1), ("Qualification", 2), ("Proposal", 3), ("Closed Won", 4)]


@pytest.fixture
def sessions(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'forecasting.db'}")
    metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        session.execute(
            users.insert().values(
                user_id="ann",
                display_name="Ann",
                email="",
                roles="rep",
                manager_user_id=None,
                active=True,
                version=1,
                updated_at=T0,
            )
        )
    yield factory
    engine.dispose()


def catalogue(revision: int, stages=STAGES) -> ConsumedEvent:
    payload = events_pb2.SalesStagesChanged(
        revision=revision,
        sales_stages=[
            opportunities_pb2.SalesStage(name=name, order=order, is_won=name == "Closed Won")
            for name, order in stages
        ],
    )
    return _consumed(payload, "sales_stages", "catalog", revision)


def changed(
    version: int,
    *,
    stage="Prospecting",
    amount=1000,
    probability=20,
    close=date(2026, 11, 15),
    status=OPEN,
    next_step="call",
    days=0,
    kind=events_pb2.CHANGE_KIND_UPDATED,
    deal="deal-1",
) -> ConsumedEvent:
    opportunity = opportunities_pb2.Opportunity(
        id=deal,
        owner_user_id="ann",
        amount=Money(currency_code="USD", amount_minor=amount),
        amount_base=Money(currency_code="USD", amount_minor=amount),
        expected_close_date=Date(year=close.year, month=close.month, day=close.day),
        sales_stage=stage,
        probability=probability,
        status=status,
        next_step=next_step,
        version=version,
    )
    opportunity.update_time.FromDatetime(T0 + timedelta(days=days))
    payload = events_pb2.OpportunityChanged(kind=kind, opportunity=opportunity)
    return _consumed(payload, "opportunity", deal, version)


def _consumed(payload, aggregate_type: str, aggregate_id: str, version: int) -> ConsumedEvent:
    envelope = build_envelope(
        payload=payload,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        aggregate_version=version,
        producer="t",
        actor="t",
    )
    record = IncomingRecord("t", 0, version, aggregate_id.encode(), envelope.SerializeToString())
    return ConsumedEvent(record, envelope)


def apply(sessions, *events: ConsumedEvent):
    with sessions() as session, session.begin():
        return OpportunityRollupHandler("USD").apply(session, list(events))


def facts(sessions, deal="deal-1"):
    with sessions() as session:
        return deal_facts_store.load(session, [deal], for_update=False)[deal]


def won_durations(sessions):
    with sessions() as session:
        return deal_facts_store.won_durations(session)


def test_every_version_of_a_batch_folds_in_order_with_the_catalogue_stage_order(sessions):
    assert (
        apply(
            sessions,
            catalogue(1),
            changed(1),
            changed(2, stage="Proposal", close=date(2026, 12, 1), days=3),
            changed(3, stage="Qualification", amount=800, close=date(2026, 12, 20), days=5),
        )
        == []
    )
    folded = facts(sessions)
    assert (folded.version, folded.sales_stage, folded.stage_order) == (3, "Qualification", 2)
    assert folded.push_count == 2
    assert [(c.old, c.new) for c in folded.close_date_changes] == [
        (date(2026, 11, 15), date(2026, 12, 1)),
        (date(2026, 12, 1), date(2026, 12, 20)),
    ]
    assert [s.kind for s in folded.setbacks] == [SetbackKind.STAGE, SetbackKind.AMOUNT]
    assert folded.setbacks[0].old_stage == "Proposal"
    assert folded.stage_entered_at == T0 + timedelta(days=5)
    assert [(s.sales_stage, s.seconds) for s in folded.stays] == [
        ("Prospecting", 3 * 86_400),
        ("Proposal", 2 * 86_400),
    ]


def test_the_facts_row_keeps_owner_close_date_status_and_base_amount_as_columns(sessions):
    apply(sessions, catalogue(1), changed(1, amount=4200, close=date(2026, 12, 31)))
    with sessions() as session:
        row = session.execute(select(deal_facts)).one()
    assert (row.owner_user_id, row.close_date, row.status, row.amount_minor) == (
        "ann",
        date(2026, 12, 31),
        "open",
        4200,
    )


def test_redelivered_and_older_versions_change_nothing(sessions):
    apply(sessions, catalogue(1), changed(1), changed(2, close=date(2026, 12, 1), days=1))
    first = facts(sessions)
    apply(sessions, changed(1, stage="Proposal"), changed(2, close=date(2026, 12, 1), days=1))
    assert facts(sessions) == first


def test_a_won_deal_gives_its_stays_once_and_takes_them_back_when_reopened(sessions):
    apply(
        sessions,
        catalogue(1),
        changed(1),
        changed(2, stage="Proposal", days=4),
        changed(3, stage="Closed Won", status=WON, probability=100, days=10),
    )
    assert won_durations(sessions) == {"Prospecting": [4 * 86_400], "Proposal": [6 * 86_400]}
    # A replayed win adds nothing.
    apply(sessions, changed(3, stage="Closed Won", status=WON, probability=100, days=10))
    assert won_durations(sessions) == {"Prospecting": [4 * 86_400], "Proposal": [6 * 86_400]}
    apply(sessions, changed(4, stage="Proposal", days=12, kind=events_pb2.CHANGE_KIND_REOPENED))
    assert won_durations(sessions) == {}
    assert facts(sessions).status is DealStatus.OPEN


def test_a_stage_the_catalogue_does_not_know_keeps_the_deals_order_and_records_no_regression(sessions):
    apply(sessions, catalogue(1), changed(1, stage="Proposal"))
    apply(sessions, changed(2, stage="Negotiation", days=1))
    assert (facts(sessions).stage_order, facts(sessions).setbacks) == (3, ())
    apply(sessions, catalogue(2, [*STAGES, ("Negotiation", 5)]), changed(4, stage="Negotiation", days=3))
    assert facts(sessions).stage_order == 5


def test_an_older_catalogue_revision_is_passed_over(sessions):
    apply(sessions, catalogue(2, [("Prospecting", 7)]))
    apply(sessions, catalogue(1))
    with sessions() as session:
        assert deal_facts_store.stage_orders(session) == (2, {"Prospecting": 7})


def test_a_revaluation_moves_no_clock_and_records_no_cut(sessions):
    apply(sessions, catalogue(1), changed(1, probability=40))
    apply(sessions, changed(2, probability=10, days=9, kind=events_pb2.CHANGE_KIND_REVALUED))
    folded = facts(sessions)
    assert (folded.probability, folded.setbacks, folded.last_changed_at) == (10, (), T0)


def test_an_empty_next_step_is_noted(sessions):
    apply(sessions, catalogue(1), changed(1, next_step="  "))
    assert facts(sessions).next_step_empty
