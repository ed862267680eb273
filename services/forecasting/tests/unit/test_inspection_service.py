"""The inspection use cases on SQLite, fed by the opportunity consumer: a team row and a row per
direct report with their flags, a rep's flagged deals with reasons, and who may see what."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.opportunities.v1 import events_pb2, opportunities_pb2
from salesplane_forecasting.adapters import tables
from salesplane_forecasting.adapters.sql_unit_of_work import SqlForecastingUnitOfWork
from salesplane_forecasting.domain.inspection.deal_flags import DealFlagKind
from salesplane_forecasting.domain.inspection.recorded_figures import keep_from
from salesplane_forecasting.domain.inspection.rep_flags import RepFlagKind
from salesplane_forecasting.domain.org import UserValues
from salesplane_forecasting.domain.worksheets import Figures, Snapshot, SnapshotKind
from salesplane_forecasting.entrypoints.opportunity_consumer import OpportunityRollupHandler
from salesplane_forecasting.service_layer.inspection import (
    InspectedRow,
    TeamInspection,
    inspect_rep_deals,
    inspect_team,
)
from salesplane_forecasting.service_layer.org import upsert_user
from salesplane_forecasting.service_layer.risk_alerts import EVALUATOR, record_figures
from salesplane_platform.consumer_runner import ConsumedEvent
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.errors import FailedPrecondition, InvalidArgument, PermissionDenied
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
    outbox = OutboxContext(tables.platform, "forecasting", "salesplane.forecasting.v1", threading.Event())
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


def previous_quarter(today: date) -> tuple[str, date, date]:
    first = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    last = first - timedelta(days=1)
    start = date(last.year, 3 * ((last.month - 1) // 3) + 1, 1)
    return quarter_of(last), start, last


def commit_for(make, user: str, period_id: str, likely: int, at: datetime, sequence: int) -> None:
    snapshot = Snapshot(
        snapshot_id=f"{user}-{period_id}-{sequence}",
        user_id=user,
        period_id=period_id,
        kind=SnapshotKind.REP,
        sequence=sequence,
        committed=True,
        figures=Figures(likely, likely, likely, 0, ()),
        quota_minor=None,
        currency="USD",
        note="",
        author=user,
        created_at=at,
        changes=(),
    )
    with make() as unit:
        unit.snapshots.insert_commit(snapshot)
        unit.commit()


def test_the_trailing_periods_give_the_coverage_needed_and_the_bias_from_commits_made_in_time(uow):
    make, consume = uow
    past_id, past_start, past_last = previous_quarter(TODAY)
    won = opportunities_pb2.OPPORTUNITY_STATUS_WON
    lost = opportunities_pb2.OPPORTUNITY_STATUS_LOST
    consume(
        # Last quarter bob won 40,000.00 and lost 60,000.00: a 40 % win rate, so 2.5x coverage needed.
        opportunity("p1", "bob", 1, past_last, ago_days=200, amount=40_000_00, status=won, probability=100),
        opportunity("p2", "bob", 1, past_start, ago_days=200, amount=60_000_00, status=lost, probability=0),
        opportunity("b1", "bob", 1, TODAY, ago_days=0),
    )
    ended = datetime.combine(past_last + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    # He committed 60,000.00 during the quarter and "corrected" it to the actual once it was over.
    commit_for(make, "bob", past_id, 60_000_00, ended - timedelta(days=3), 1)
    commit_for(make, "bob", past_id, 40_000_00, ended + timedelta(hours=1), 2)
    team = inspect_team(
        manager_user_id="mia",
        period_id=quarter_of(TODAY),
        caller=who("mia", "manager"),
        uow=make(),
        base_currency="USD",
    )
    bob = row_of(team, "bob").inspection
    assert bob.coverage_needed == Fraction(5, 2)
    history = {p.period_id: p for p in bob.figures.history}
    assert (history[past_id].won_minor, history[past_id].lost_minor) == (40_000_00, 60_000_00)
    # The commit in time, not the correction, is what the bias judges.
    assert history[past_id].committed_minor == 60_000_00
    # The team row sums its members' past periods.
    team_history = {p.period_id: p for p in team.team.inspection.figures.history}
    assert (team_history[past_id].won_minor, team_history[past_id].lost_minor) == (40_000_00, 60_000_00)


def test_a_report_who_manages_is_one_row_for_their_whole_team(uow):
    make, consume = uow
    consume(
        opportunity("c1", "cat", 1, TODAY, ago_days=0, amount=7_000_00),
        opportunity("x1", "max", 1, TODAY, ago_days=0, amount=3_000_00),
        opportunity("a1", "ann", 1, TODAY, ago_days=0, amount=1_000_00),
    )
    team = inspect_team(
        manager_user_id="vp",
        period_id=quarter_of(TODAY),
        caller=who("vp", "manager"),
        uow=make(),
        base_currency="USD",
    )
    rows = {row.user_id: row for row in team.rows}
    assert set(rows) == {"mia", "max", "vp"}
    assert rows["max"].as_team and rows["max"].inspection.figures.pipeline_minor == 10_000_00
    assert rows["mia"].as_team and rows["mia"].inspection.figures.pipeline_minor == 1_000_00
    assert not rows["vp"].as_team and rows["vp"].inspection.figures.pipeline_minor == 0
    assert team.team.inspection.figures.pipeline_minor == 11_000_00


def test_a_user_who_owns_open_deals_is_not_deactivated_until_they_are_gone(uow):
    make, consume = uow
    consume(opportunity("b1", "bob", 1, TODAY, ago_days=0))

    class NoOpenLeads:
        def count_open_leads(self, user_id: str) -> int:
            return 0

    def deactivate_bob():
        values = UserValues("bob", "Bob", "", frozenset({"rep"}), "mia", active=False)
        return upsert_user(
            values=values,
            expected_version=None,
            caller=who("root", "admin"),
            uow=make(),
            open_work=NoOpenLeads(),  # type: ignore[arg-type]
        )

    with pytest.raises(FailedPrecondition, match="still owns 1 open deal") as refused:
        deactivate_bob()
    assert refused.value.reason == "OWNS_OPEN_DEALS"
    # Won (or reassigned, or lost): nothing open is left, and the deactivation goes through.
    consume(
        opportunity(
            "b1",
            "bob",
            2,
            TODAY,
            ago_days=0,
            status=opportunities_pb2.OPPORTUNITY_STATUS_WON,
            probability=100,
        )
    )
    assert deactivate_bob().active is False
