"""The inspection use cases on SQLite, fed by the opportunity consumer: a team row and a row per
direct report with their flags, a rep's flagged deals with reasons, and who may see what."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.opportunities.v1 import events_pb2, opportunities_pb2
from salesplane_forecasting.adapters import tables
from salesplane_forecasting.adapters.sql_unit_of_work import SqlForecastingUnitOfWork
from salesplane_forecasting.domain.inspection.deal_flags import DealFlagKind
from salesplane_forecasting.domain.inspection.recorded_figures import keep_from
from salesplane_forecasting.domain.inspection.rep_flags import RepFlagKind
from salesplane_forecasting.entrypoints.opportunity_consumer import OpportunityRollupHandler
from salesplane_forecasting.service_layer.inspection import (
    InspectedRow,
    TeamInspection,
    inspect_rep_deals,
    inspect_team,
)
from salesplane_forecasting.service_layer.risk_alerts import EVALUATOR, record_figures
from salesplane_platform.consumer_runner import ConsumedEvent
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.errors import InvalidArgument, PermissionDenied
from salesplane_platform.event_transport import IncomingRecord
from salesplane_platform.events import build_envelope
from salesplane_platform.identity import Identity
from salesplane_platform.unit_of_work import OutboxContext

# vp > mia > (ann, bob); vp > max > cat.
ORG = [("vp", None), ("mia", "vp"), ("max", "vp"), ("ann", "mia"), ("bob", "mia"), ("cat", "max")]
NOW = datetime.now(UTC)
TODAY = NOW.date()


def who(user: str, role: str = "rep") -> Identity:
    return Identity(user, frozenset({role}))


@pytest.fixture
def uow(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'forecasting.db'}")
    tables.metadata.create_all(engine)
    sessions = make_session_factory(engine)
    with sessions() as session, session.begin():
        for user_id, manager in ORG:
            session.execute(
                tables.users.insert().values(
                    user_id=user_id,
                    display_name=user_id.title(),
                    email="",
                    roles="rep",
                    manager_user_id=manager,
                    active=True,
                    version=1,
                    updated_at=NOW,
                )
            )
    outbox = OutboxContext(tables.platform, "forecasting", None, threading.Event())
    feed = OpportunityRollupHandler("USD")

    def consume(*events: ConsumedEvent) -> None:
        with sessions() as session, session.begin():
            assert feed.apply(session, list(events)) == []

    yield (lambda: SqlForecastingUnitOfWork(sessions, outbox)), consume
    engine.dispose()


def opportunity(
    deal: str, owner: str, version: int, close: date, *, ago_days: int, amount=10_000_00, **fields
):
    message = opportunities_pb2.Opportunity(
        id=deal,
        owner_user_id=owner,
        amount=Money(currency_code="USD", amount_minor=amount),
        amount_base=Money(currency_code="USD", amount_minor=amount),
        expected_close_date=Date(year=close.year, month=close.month, day=close.day),
        sales_stage=fields.pop("stage", "Proposal"),
        probability=fields.pop("probability", 60),
        status=fields.pop("status", opportunities_pb2.OPPORTUNITY_STATUS_OPEN),
        next_step=fields.pop("next_step", "demo"),
        version=version,
    )
    message.update_time.FromDatetime(NOW - timedelta(days=ago_days))
    envelope = build_envelope(
        payload=events_pb2.OpportunityChanged(kind=events_pb2.CHANGE_KIND_UPDATED, opportunity=message),
        aggregate_type="opportunity",
        aggregate_id=deal,
        aggregate_version=version,
        producer="t",
        actor="t",
    )
    return ConsumedEvent(
        IncomingRecord("t", 0, version, deal.encode(), envelope.SerializeToString()), envelope
    )


def quarter_of(today: date) -> str:
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


def test_a_manager_sees_a_row_per_report_and_the_team_with_the_reps_flags(uow):
    make, consume = uow
    in_period = TODAY
    consume(
        # Ann: one deal closing today, untouched for 20 days, with no next step.
        opportunity("a1", "ann", 1, in_period, ago_days=20, next_step=""),
        # Bob: a healthy-looking deal changed today.
        opportunity("b1", "bob", 1, in_period, ago_days=0),
    )
    team = inspect_team(
        manager_user_id="mia",
        period_id=quarter_of(TODAY),
        caller=who("mia", "manager"),
        uow=make(),
        base_currency="USD",
    )
    assert [row.user_id for row in sorted(team.rows, key=lambda r: r.user_id)] == ["ann", "bob", "mia"]
    assert team.team.inspection.figures.pipeline_minor == 20_000_00
    ann = next(row for row in team.rows if row.user_id == "ann")
    assert ann.flagged_deal_count == 1
    deals = inspect_rep_deals(
        user_id="ann",
        period_id=quarter_of(TODAY),
        caller=who("mia", "manager"),
        uow=make(),
        base_currency="USD",
    )
    [flagged] = deals.deals
    kinds = {flag.kind for flag in flagged.flags}
    assert {DealFlagKind.NO_CHANGE, DealFlagKind.NO_NEXT_STEP} <= kinds
    assert flagged.deal.name == "" and flagged.money_at_stake_minor == 10_000_00


def test_without_quotas_no_quota_flag_fires(uow):
    make, consume = uow
    consume(opportunity("b1", "bob", 1, TODAY, ago_days=0))
    team = inspect_team(
        manager_user_id="mia",
        period_id=quarter_of(TODAY),
        caller=who("vp", "manager"),
        uow=make(),
        base_currency="USD",
    )
    bob = next(row for row in team.rows if row.user_id == "bob")
    kinds = {flag.kind for flag in bob.inspection.flags}
    assert not kinds & {RepFlagKind.LOW_P_QUOTA, RepFlagKind.PACING_BEHIND, RepFlagKind.COVERAGE_SHORT}


@pytest.mark.parametrize(
    ("caller", "subject", "allowed"),
    [
        (who("mia", "manager"), "ann", True),
        (who("vp", "manager"), "ann", True),
        (who("root", "admin"), "ann", True),
        (who("ann"), "ann", True),
        (who("bob"), "ann", False),
        (who("max", "manager"), "ann", False),
        (who("cat"), "ann", False),
    ],
)
def test_a_reps_deals_are_seen_by_the_rep_the_managers_above_and_admins(uow, caller, subject, allowed):
    make, _ = uow

    def read() -> object:
        return inspect_rep_deals(
            user_id=subject, period_id=quarter_of(TODAY), caller=caller, uow=make(), base_currency="USD"
        )

    if allowed:
        read()
    else:
        with pytest.raises(PermissionDenied):
            read()


def test_a_team_is_seen_by_its_manager_those_above_and_admins_only(uow):
    make, _ = uow
    for caller in (who("mia", "manager"), who("vp", "manager"), who("root", "admin")):
        inspect_team(
            manager_user_id="mia", period_id=quarter_of(TODAY), caller=caller, uow=make(), base_currency="USD"
        )
    for caller in (who("ann"), who("max", "manager")):
        with pytest.raises(PermissionDenied):
            inspect_team(
                manager_user_id="mia",
                period_id=quarter_of(TODAY),
                caller=caller,
                uow=make(),
                base_currency="USD",
            )


@pytest.mark.parametrize("period_id", ["2026-Q5", "Q4", "", "0000-Q1"])
def test_a_malformed_or_unknown_period_is_invalid_argument_on_period_id(uow, period_id):
    make, _ = uow
    with pytest.raises(InvalidArgument) as raised:
        inspect_team(
            manager_user_id="mia",
            period_id=period_id,
            caller=who("mia", "manager"),
            uow=make(),
            base_currency="USD",
        )
    assert [v.field for v in raised.value.violations] == ["period_id"]


def row_of(team: TeamInspection, user_id: str) -> InspectedRow:
    return next(row for row in team.rows if row.user_id == user_id)


def test_movement_since_a_week_ago_compares_with_the_figures_recorded_that_day(uow):
    make, consume = uow
    period = quarter_of(TODAY)

    def inspect(at: datetime) -> TeamInspection:
        return inspect_team(
            manager_user_id="mia", period_id=period, caller=EVALUATOR, uow=make(), base_currency="USD", now=at
        )

    week_ago = NOW - timedelta(days=7)
    consume(opportunity("b1", "bob", 1, TODAY, ago_days=0))
    record_figures(inspect(week_ago), make)
    # A later run the same day adds nothing: the first record of a day stands.
    consume(opportunity("b2", "bob", 1, TODAY, ago_days=0, amount=5_000_00))
    record_figures(inspect(week_ago + timedelta(minutes=5)), make)
    consume(opportunity("a1", "ann", 1, TODAY, ago_days=0, amount=2_000_00))

    team = inspect(NOW)
    bob, ann = row_of(team, "bob").since_lookback, row_of(team, "ann").since_lookback
    assert bob is not None and ann is not None and team.team.since_lookback is not None
    assert bob.recorded_at == week_ago
    assert (bob.movement.pipeline_minor, ann.movement.pipeline_minor) == (15_000_00 - 10_000_00, 2_000_00)
    assert team.team.since_lookback.movement.pipeline_minor == 7_000_00
    assert bob.movement.quota_minor is None and bob.movement.committed_minor is None

    # Six days after the record, "a week ago" is the day before it: nothing to compare with.
    sooner = inspect(week_ago + timedelta(days=6))
    assert all(row.since_lookback is None for row in (sooner.team, *sooner.rows))


def test_figures_recorded_before_the_lookback_and_a_week_of_slack_are_pruned(uow):
    make, consume = uow
    consume(opportunity("b1", "bob", 1, TODAY, ago_days=0))
    old = NOW - timedelta(days=30)
    team = inspect_team(
        manager_user_id="mia",
        period_id=quarter_of(TODAY),
        caller=EVALUATOR,
        uow=make(),
        base_currency="USD",
        now=old,
    )
    record_figures(team, make)
    key = row_of(team, "bob").figures_key(quarter_of(TODAY))
    with make() as unit:
        assert key in unit.figure_records.as_of([key], NOW.date())
        assert unit.figure_records.prune(keep_from(NOW, 7)) == len(team.rows) + 1
        unit.commit()
    with make() as unit:
        assert unit.figure_records.as_of([key], NOW.date()) == {}
