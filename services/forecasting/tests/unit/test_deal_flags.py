"""Deal flags: each rule exactly at its threshold and one unit either side, with its reason and numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesplane_forecasting.domain.contributions import DealStatus
from salesplane_forecasting.domain.inspection.deal_flags import (
    DealFlag,
    DealFlagKind,
    deal_flags,
    ranked_deal_flags,
    slipped_minor,
)
from salesplane_forecasting.domain.inspection.deal_history import (
    CloseDateChange,
    DealFacts,
    Setback,
    SetbackKind,
)
from salesplane_forecasting.domain.inspection.thresholds import DEFAULT_THRESHOLDS, InspectionThresholds
from salesplane_forecasting.domain.periods import FiscalCalendar

Q4 = FiscalCalendar(1).period("2026-Q4")  # 2026-10-01 .. 2026-12-31
NOW = datetime(2026, 11, 16, 12, tzinfo=UTC)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
K = DealFlagKind

# A deal no rule flags: mid-stage, recently worked, closing later this quarter.
QUIET = DealFacts(
    opportunity_id="opp-1",
    version=3,
    sales_stage="Proposal",
    stage_order=3,
    probability=60,
    amount_minor=10_000_00,
    close_date=date(2026, 12, 15),
    status=DealStatus.OPEN,
    next_step_empty=False,
    stage_entered_at=NOW - 3 * DAY,
    last_changed_at=NOW - DAY,
)


def flags(
    facts: DealFacts,
    *,
    thresholds: InspectionThresholds = DEFAULT_THRESHOLDS,
    commit: int | None = None,
    percentiles: dict[str, int] | None = None,
    now: datetime = NOW,
) -> dict[DealFlagKind, DealFlag]:
    found = deal_flags(
        facts,
        period=Q4,
        now=now,
        thresholds=thresholds,
        rep_commit_minor=commit,
        stage_percentiles=percentiles or {},
    )
    return {flag.kind: flag for flag in found}


def test_a_quiet_deal_has_no_flags():
    assert flags(QUIET, commit=100_000_00, percentiles={"Proposal": 10 * 86_400}) == {}


@pytest.mark.parametrize("status", [DealStatus.WON, DealStatus.LOST, DealStatus.DELETED])
def test_closed_deals_are_never_flagged(status):
    assert flags(QUIET._replace(status=status, next_step_empty=True, push_count=9)) == {}


def test_a_deal_of_an_earlier_period_is_not_inspected_in_this_one():
    assert flags(QUIET._replace(close_date=date(2026, 9, 30), next_step_empty=True)) == {}


@pytest.mark.parametrize(("pushes", "flagged"), [(1, False), (2, True), (3, True)])
def test_pushed_from_two_pushes(pushes, flagged):
    found = flags(QUIET._replace(push_count=pushes))
    assert (K.PUSHED in found) is flagged
    if flagged:
        assert found[K.PUSHED].reason == f"close date pushed {pushes} times"
        assert found[K.PUSHED].numbers == {"push_count": pushes, "pushed_out_of_period": 0}


def test_the_push_threshold_is_configurable():
    assert K.PUSHED not in flags(
        QUIET._replace(push_count=2), thresholds=InspectionThresholds(pushes_to_flag=3)
    )


def pushed_out(at: datetime, old: date = date(2026, 12, 15), new: date = date(2027, 1, 20)) -> DealFacts:
    return QUIET._replace(
        close_date=new,
        push_count=1,
        close_date_changes=(CloseDateChange(old, new, at),),
        next_step_empty=True,  # only the push applies to a deal that left the period
    )


def test_a_deal_pushed_out_of_the_period_since_it_began_is_flagged_for_that_alone():
    found = flags(pushed_out(NOW - 2 * DAY))
    assert list(found) == [K.PUSHED]
    flag = found[K.PUSHED]
    assert flag.reason == "close date pushed once; out of 2026-Q4 on 2026-11-14 (2026-12-15 to 2027-01-20)"
    assert flag.numbers == {"push_count": 1, "pushed_out_of_period": 1}
    assert flag.money_at_stake_minor == 10_000_00


def test_a_push_out_counts_from_the_periods_first_instant():
    began = datetime(2026, 10, 1, tzinfo=UTC)
    assert K.PUSHED in flags(pushed_out(began))
    assert flags(pushed_out(began - SECOND)) == {}


def test_a_push_between_two_later_periods_is_not_out_of_this_one():
    assert flags(pushed_out(NOW - DAY, old=date(2027, 1, 5), new=date(2027, 2, 1))) == {}


def test_a_deal_of_a_later_period_pushed_often_but_never_out_of_this_one_is_not_inspected_here():
    assert flags(QUIET._replace(close_date=date(2027, 2, 1), push_count=5)) == {}


def test_a_deal_pushed_out_and_pulled_back_in_is_judged_by_its_push_count():
    back = pushed_out(NOW - 3 * DAY)._replace(
        close_date=date(2026, 12, 20),
        next_step_empty=False,
        close_date_changes=(
            CloseDateChange(date(2026, 12, 15), date(2027, 1, 20), NOW - 3 * DAY),
            CloseDateChange(date(2027, 1, 20), date(2026, 12, 20), NOW - DAY),
        ),
    )
    assert flags(back) == {}


def test_slipped_money_is_the_amount_of_open_deals_pushed_out_within_the_lookback():
    since = NOW - 28 * DAY
    assert slipped_minor(pushed_out(since), period=Q4, since=since, now=NOW) == 10_000_00
    assert slipped_minor(pushed_out(since - SECOND), period=Q4, since=since, now=NOW) == 0
    lost = pushed_out(NOW - DAY)._replace(status=DealStatus.LOST)
    assert slipped_minor(lost, period=Q4, since=since, now=NOW) == 0
    assert slipped_minor(QUIET, period=Q4, since=since, now=NOW) == 0


@pytest.mark.parametrize(
    ("close", "overdue"), [(date(2026, 11, 17), None), (NOW.date(), None), (date(2026, 11, 15), 1)]
)
def test_past_due_from_the_day_after_the_close_date(close, overdue):
    found = flags(QUIET._replace(close_date=close))
    if overdue is None:
        assert K.PAST_DUE not in found
    else:
        assert found[K.PAST_DUE].numbers == {"days_overdue": overdue}
        assert found[K.PAST_DUE].reason == "still open 1 day after its close date 2026-11-15"


@pytest.mark.parametrize(
    ("in_stage", "flagged"), [(10 * DAY - SECOND, False), (10 * DAY, False), (10 * DAY + SECOND, True)]
)
def test_stalled_above_the_won_deals_percentile_of_its_stage(in_stage, flagged):
    facts = QUIET._replace(stage_entered_at=NOW - in_stage)
    found = flags(facts, percentiles={"Proposal": 10 * 86_400})
    assert (K.STALLED in found) is flagged
    if flagged:
        assert found[K.STALLED].reason == "10 days in Proposal; won deals' 75th percentile there is 10 days"
        assert found[K.STALLED].numbers["seconds_in_stage"] == 10 * 86_400 + 1


def test_a_stage_without_enough_won_samples_is_never_stalled():
    facts = QUIET._replace(stage_entered_at=NOW - 400 * DAY)
    assert K.STALLED not in flags(facts, percentiles={"Negotiation": 86_400})


@pytest.mark.parametrize(("ago", "flagged"), [(28 * DAY, True), (28 * DAY + SECOND, False), (DAY, True)])
def test_moved_backward_within_the_lookback(ago, flagged):
    at = NOW - ago
    facts = QUIET._replace(
        setbacks=(
            Setback(SetbackKind.STAGE, 4, 3, at, "Negotiation", "Proposal"),
            Setback(SetbackKind.AMOUNT, 12_500_00, 10_000_00, at),
            Setback(SetbackKind.PROBABILITY, 80, 60, at),
        ),
    )
    found = flags(facts)
    assert (K.MOVED_BACKWARD in found) is flagged
    if flagged:
        flag = found[K.MOVED_BACKWARD]
        assert flag.numbers == {
            "stage_regressions": 1,
            "amount_cut_minor": 2_500_00,
            "probability_cut_points": 20,
        }
        assert flag.reason == (
            "stage moved back from Negotiation to Proposal; amount cut by 20 %; "
            "probability cut from 80 % to 60 % in the last 28 days"
        )


@pytest.mark.parametrize(("amount", "flagged"), [(9_999_99, False), (10_000_00, False), (10_000_01, True)])
def test_large_above_a_quarter_of_the_reps_commit(amount, flagged):
    found = flags(QUIET._replace(amount_minor=amount), commit=40_000_00)
    assert (K.LARGE in found) is flagged
    if flagged:
        assert found[K.LARGE].numbers == {"share_of_commit_bp": 2500, "commit_minor": 40_000_00}
        assert found[K.LARGE].money_at_stake_minor == amount


@pytest.mark.parametrize("commit", [None, 0])
def test_large_needs_a_commit(commit):
    assert K.LARGE not in flags(QUIET._replace(amount_minor=10**9), commit=commit)


@pytest.mark.parametrize(("probability", "flagged"), [(19, True), (20, True), (21, False)])
def test_unlikely_at_or_below_the_early_probability(probability, flagged):
    found = flags(QUIET._replace(probability=probability))
    assert (K.UNLIKELY in found) is flagged
    if flagged:
        assert found[K.UNLIKELY].reason == (
            f"closes 2026-12-15 from a probability of {probability} % is early for a deal closing this period"
        )


@pytest.mark.parametrize(("order", "flagged"), [(1, True), (2, True), (3, False)])
def test_unlikely_at_or_below_the_early_stage_order_when_one_is_set(order, flagged):
    thresholds = InspectionThresholds(unlikely_max_stage_order=2)
    found = flags(QUIET._replace(stage_order=order, sales_stage="Discovery"), thresholds=thresholds)
    assert (K.UNLIKELY in found) is flagged
    assert K.UNLIKELY not in flags(QUIET._replace(stage_order=order))


def test_unlikely_only_for_deals_closing_in_the_period():
    assert flags(QUIET._replace(probability=5, close_date=date(2027, 1, 10))) == {}


@pytest.mark.parametrize(
    ("quiet", "flagged"), [(14 * DAY - SECOND, False), (14 * DAY, True), (14 * DAY + SECOND, True)]
)
def test_no_change_for_at_least_the_configured_days(quiet, flagged):
    found = flags(QUIET._replace(last_changed_at=NOW - quiet))
    assert (K.NO_CHANGE in found) is flagged
    if flagged:
        assert found[K.NO_CHANGE].numbers == {"days_since_change": 14}


def test_an_empty_next_step_is_flagged():
    found = flags(QUIET._replace(next_step_empty=True))
    assert list(found) == [K.NO_NEXT_STEP]
    assert found[K.NO_NEXT_STEP].reason == "no next step recorded"


def test_a_deals_flags_list_in_kind_order_and_all_stake_its_amount():
    facts = QUIET._replace(
        push_count=2,
        close_date=date(2026, 11, 1),
        probability=10,
        last_changed_at=NOW - 30 * DAY,
        next_step_empty=True,
    )
    found = deal_flags(
        facts, period=Q4, now=NOW, thresholds=DEFAULT_THRESHOLDS, rep_commit_minor=None, stage_percentiles={}
    )
    assert [f.kind for f in found] == [K.PUSHED, K.PAST_DUE, K.UNLIKELY, K.NO_CHANGE, K.NO_NEXT_STEP]
    assert {f.money_at_stake_minor for f in found} == {10_000_00}


def test_deal_flags_rank_by_money_at_stake_then_deal_then_kind():
    def flag(opportunity: str, kind: DealFlagKind, money: int) -> DealFlag:
        return DealFlag(kind, opportunity, "", {}, money)

    ranked = ranked_deal_flags(
        [flag("b", K.NO_CHANGE, 5), flag("a", K.NO_CHANGE, 5), flag("a", K.PUSHED, 5), flag("c", K.LARGE, 9)]
    )
    assert [(f.opportunity_id, f.kind) for f in ranked] == [
        ("c", K.LARGE),
        ("a", K.PUSHED),
        ("a", K.NO_CHANGE),
        ("b", K.NO_CHANGE),
    ]


deal_facts = st.builds(
    lambda amount, probability, close, pushes, entered, changed, empty: QUIET._replace(
        amount_minor=amount,
        probability=probability,
        close_date=close,
        push_count=pushes,
        stage_entered_at=NOW - entered * SECOND,
        last_changed_at=NOW - changed * SECOND,
        next_step_empty=empty,
    ),
    st.integers(0, 10**12),
    st.integers(0, 100),
    st.dates(date(2026, 9, 1), date(2027, 3, 31)),
    st.integers(0, 5),
    st.integers(0, 10**8),
    st.integers(0, 10**8),
    st.booleans(),
)


@given(st.lists(deal_facts, max_size=8), st.one_of(st.none(), st.integers(0, 10**12)))
def test_flags_of_many_deals_rank_by_money_at_stake(many, commit):
    every = [
        flag
        for facts in many
        for flag in deal_flags(
            facts,
            period=Q4,
            now=NOW,
            thresholds=DEFAULT_THRESHOLDS,
            rep_commit_minor=commit,
            stage_percentiles={"Proposal": 86_400},
        )
    ]
    stakes = [f.money_at_stake_minor for f in ranked_deal_flags(every)]
    assert stakes == sorted(stakes, reverse=True)
    assert all(stake >= 0 for stake in stakes)
