"""Rep and team figures: coverage, coverage needed, pacing, gap, bias, slipping, team sums, movement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesplane_forecasting.domain.inspection.rep_figures import (
    Movement,
    PastPeriod,
    RepFigures,
    coverage,
    coverage_needed,
    elapsed_share,
    forecast_bias,
    gap_minor,
    mean_miss_minor,
    movement,
    pacing,
    slipping_share,
    still_to_close_minor,
    team_figures,
    trailing_win_rate,
)
from salesplane_forecasting.domain.inspection.thresholds import DEFAULT_THRESHOLDS, InspectionThresholds

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2027, 1, 1, tzinfo=UTC)


def past(period_id: str, won: int, lost: int, committed: int | None = None) -> PastPeriod:
    return PastPeriod(period_id, won, lost, committed)


def figures(user_id: str = "rep-1", **values: object) -> RepFigures:
    base: dict[str, object] = {
        "currency": "USD",
        "quota_minor": 100_000_00,
        "closed_won_minor": 0,
        "committed_minor": None,
        "live_forecast_minor": 0,
        "pipeline_minor": 0,
        "expected_minor": 0,
        "p_quota": None,
    }
    return RepFigures(user_id=user_id, **{**base, **values})  # type: ignore[arg-type]


def test_coverage_is_pipeline_over_what_is_still_to_close():
    assert still_to_close_minor(100, 40) == 60
    assert coverage(150, 100, 40) == Fraction(5, 2)
    assert coverage(0, 100, 40) == 0


@pytest.mark.parametrize(("quota", "closed"), [(None, 0), (100, 100), (100, 150), (0, 0)])
def test_coverage_has_no_value_without_a_quota_or_once_it_is_reached(quota, closed):
    assert coverage(500, quota, closed) is None


def test_the_win_rate_is_by_amount_over_the_last_periods_only():
    history = [
        past("2025-Q3", 0, 1_000),
        past("2025-Q4", 100, 100),
        past("2026-Q1", 100, 300),
        past("2026-Q2", 0, 0),
        past("2026-Q3", 200, 200),
    ]
    assert trailing_win_rate(history, 4) == Fraction(400, 1000)
    assert trailing_win_rate(history, 1) == Fraction(1, 2)
    assert trailing_win_rate([], 4) is None
    assert trailing_win_rate([past("2026-Q3", 0, 0)], 4) is None


def test_coverage_needed_is_one_over_the_win_rate():
    assert coverage_needed([past("2026-Q3", 250, 750)], DEFAULT_THRESHOLDS) == 4
    assert coverage_needed([past("2026-Q3", 100, 0)], DEFAULT_THRESHOLDS) == 1


def test_without_history_three_times_coverage_is_needed():
    assert coverage_needed([], DEFAULT_THRESHOLDS) == 3
    assert coverage_needed([past("2026-Q3", 0, 0)], DEFAULT_THRESHOLDS) == 3
    assert coverage_needed([], InspectionThresholds(default_coverage_needed_bp=25_000)) == Fraction(5, 2)


def test_coverage_needed_is_capped_even_when_nothing_was_won():
    assert coverage_needed([past("2026-Q3", 0, 500)], DEFAULT_THRESHOLDS) == 10
    assert coverage_needed([past("2026-Q3", 1, 999)], DEFAULT_THRESHOLDS) == 10
    assert (
        coverage_needed([past("2026-Q3", 1, 999)], InspectionThresholds(max_coverage_needed_bp=50_000)) == 5
    )


@pytest.mark.parametrize(
    ("now", "share"),
    [
        (START - timedelta(days=1), Fraction(0)),
        (START, Fraction(0)),
        (START + (END - START) / 2, Fraction(1, 2)),
        (END, Fraction(1)),
        (END + timedelta(days=3), Fraction(1)),
        (START + timedelta(microseconds=1), Fraction(1, 92 * 86_400 * 10**6)),
    ],
)
def test_the_elapsed_share_of_the_period(now, share):
    assert elapsed_share(START, END, now) == share


def test_an_empty_period_is_wholly_elapsed():
    assert elapsed_share(START, START, START) == 1


def test_pacing_is_closed_over_quota():
    assert pacing(25, 100) == Fraction(1, 4)
    assert pacing(25, None) is None
    assert pacing(25, 0) is None


def test_the_gap_is_quota_minus_the_live_forecast():
    assert gap_minor(100, 70) == 30
    assert gap_minor(100, 130) == -30
    assert gap_minor(None, 70) is None


def test_bias_is_the_signed_miss_over_the_actuals_of_the_committed_periods():
    history = [
        past("2025-Q4", 900, 0, 100),  # outside the last four
        past("2026-Q1", 100, 0, 120),
        past("2026-Q2", 50, 0, None),  # never committed: not compared
        past("2026-Q3", 0, 0, 30),  # a period that closed nothing still counts
        past("2026-Q4", 100, 0, 110),
    ]
    assert forecast_bias(history, DEFAULT_THRESHOLDS) == Fraction(260 - 200, 200)
    assert mean_miss_minor(history, DEFAULT_THRESHOLDS) == 20


def test_bias_needs_enough_committed_periods_and_some_actual():
    assert forecast_bias([past("2026-Q3", 100, 0, 200)], DEFAULT_THRESHOLDS) is None
    assert forecast_bias([past("2026-Q3", 100, 0, 200)], InspectionThresholds(bias_min_periods=1)) == 1
    assert forecast_bias([past("2026-Q2", 0, 0, 10), past("2026-Q3", 0, 0, 10)], DEFAULT_THRESHOLDS) is None
    assert mean_miss_minor([], DEFAULT_THRESHOLDS) == 0


def test_the_mean_miss_rounds_half_up():
    history = [past("2026-Q2", 100, 0, 100), past("2026-Q3", 100, 0, 101)]
    assert mean_miss_minor(history, DEFAULT_THRESHOLDS) == 1  # 0.5 rounds up


def test_slipping_share_is_of_the_pipeline_the_period_would_have_had():
    assert slipping_share(25, 75) == Fraction(1, 4)
    assert slipping_share(0, 0) is None
    assert slipping_share(10, 0) == 1


def test_a_team_sums_what_adds_up_and_takes_the_rest_from_the_caller():
    alice = figures(
        "alice",
        quota_minor=60,
        closed_won_minor=10,
        committed_minor=50,
        live_forecast_minor=40,
        pipeline_minor=100,
        expected_minor=45,
        p_quota=0.9,
        pushed_out_minor=5,
        history=(past("2026-Q2", 10, 20, 99), past("2026-Q3", 30, 10, 99)),
    )
    bob = figures(
        "bob",
        quota_minor=60,
        closed_won_minor=20,
        committed_minor=70,
        live_forecast_minor=50,
        pipeline_minor=30,
        expected_minor=55,
        p_quota=0.1,
        pushed_out_minor=7,
        history=(past("2026-Q3", 5, 5, 1),),
    )
    team = team_figures(
        user_id="manager",
        currency="USD",
        members=[alice, bob],
        quota_minor=100,
        committed_minor=110,
        p_quota=0.37,
        past_commits={"2026-Q2": 40, "2026-Q3": 45, "2026-Q1": 5},
    )
    assert team == RepFigures(
        user_id="manager",
        currency="USD",
        quota_minor=100,  # the manager's target, not 60 + 60
        closed_won_minor=30,
        committed_minor=110,  # the manager's commit, not 50 + 70
        live_forecast_minor=90,
        pipeline_minor=130,
        expected_minor=100,
        p_quota=0.37,  # from the team's own distribution, not the mean 0.5
        pushed_out_minor=12,
        history=(past("2026-Q2", 10, 20, 40), past("2026-Q3", 35, 15, 45)),
    )


def test_movement_is_current_minus_earlier():
    earlier = figures(
        closed_won_minor=10,
        committed_minor=None,
        live_forecast_minor=50,
        pipeline_minor=200,
        expected_minor=60,
        p_quota=0.25,
    )
    current = figures(
        closed_won_minor=30,
        committed_minor=80,
        live_forecast_minor=70,
        pipeline_minor=150,
        expected_minor=75,
        p_quota=0.5,
    )
    assert movement(earlier, current) == Movement(
        quota_minor=0,
        closed_won_minor=20,
        committed_minor=None,
        live_forecast_minor=20,
        pipeline_minor=-50,
        expected_minor=15,
        p_quota_bp=2500,
    )
    assert movement(figures(p_quota=None), current).p_quota_bp is None


amounts = st.integers(0, 10**15)
optional_amounts = st.one_of(st.none(), amounts)
histories = st.lists(st.builds(past, st.just("p"), amounts, amounts, optional_amounts), max_size=8)


@given(amounts, optional_amounts, amounts, histories)
def test_coverage_and_its_need_never_raise_for_non_negative_input(pipeline, quota, closed, history):
    have = coverage(pipeline, quota, closed)
    assert have is None or have >= 0
    need = coverage_needed(history, DEFAULT_THRESHOLDS)
    assert 1 <= need <= 10


@given(amounts, optional_amounts, st.integers(-(10**6), 10**8), st.integers(0, 10**8))
def test_pacing_and_the_elapsed_share_never_raise_and_stay_in_range(closed, quota, offset, length):
    pace = pacing(closed, quota)
    assert pace is None or pace >= 0
    share = elapsed_share(START, START + timedelta(seconds=length), START + timedelta(seconds=offset))
    assert 0 <= share <= 1
