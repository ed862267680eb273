"""Rep and team flags: each rule exactly at its threshold and one unit either side, money at risk,
ranking, and a team judged on its own figures."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesplane_forecasting.domain.inspection.rep_figures import PastPeriod, RepFigures, team_figures
from salesplane_forecasting.domain.inspection.rep_flags import (
    RepFlag,
    RepFlagKind,
    inspect_rep,
    ranked_rep_flags,
    rep_flags,
)
from salesplane_forecasting.domain.inspection.thresholds import DEFAULT_THRESHOLDS, InspectionThresholds

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2027, 1, 1, tzinfo=UTC)
HALFWAY = datetime(2026, 11, 16, tzinfo=UTC)  # 46 of Q4's 92 days
K = RepFlagKind

# Half the quota closed halfway through, four times the rest in pipeline, a commit the deals back.
HEALTHY = RepFigures(
    user_id="rep-1",
    currency="USD",
    quota_minor=100_000_00,
    closed_won_minor=50_000_00,
    committed_minor=90_000_00,
    live_forecast_minor=90_000_00,
    pipeline_minor=200_000_00,
    expected_minor=95_000_00,
    p_quota=0.6,
)


def flagged(
    figures: RepFigures, *, now: datetime = HALFWAY, thresholds: InspectionThresholds = DEFAULT_THRESHOLDS
) -> dict[RepFlagKind, RepFlag]:
    found = rep_flags(figures, period_start=START, period_end=END, now=now, thresholds=thresholds)
    return {flag.kind: flag for flag in found}


def test_a_healthy_rep_has_no_flags():
    assert flagged(HEALTHY) == {}


def test_the_inspection_carries_the_measures():
    inspected = inspect_rep(
        HEALTHY, period_start=START, period_end=END, now=HALFWAY, thresholds=DEFAULT_THRESHOLDS
    )
    assert inspected.still_to_close_minor == 50_000_00
    assert inspected.coverage == 4
    assert inspected.coverage_needed == 3
    assert inspected.elapsed_share == Fraction(1, 2)
    assert inspected.pacing == Fraction(1, 2)
    assert inspected.gap_minor == 10_000_00
    assert inspected.slipping_share == 0
    assert inspected.forecast_bias is None
    assert inspected.flags == ()


@pytest.mark.parametrize(
    ("chance", "flag"), [(0.5, False), (math.nextafter(0.5, 0), True), (0.4999, True), (0.5001, False)]
)
def test_low_p_quota_below_one_half(chance, flag):
    found = flagged(replace(HEALTHY, p_quota=chance))
    assert (K.LOW_P_QUOTA in found) is flag
    if flag:
        assert found[K.LOW_P_QUOTA].money_at_risk_minor == 5_000_00  # quota - expected


def test_low_p_quota_reads_with_its_numbers():
    flag = flagged(replace(HEALTHY, p_quota=0.25))[K.LOW_P_QUOTA]
    assert flag.reason == (
        "25 % chance of reaching the quota of 100,000.00 USD (flagged below 50 %); expected 95,000.00 USD"
    )
    assert flag.numbers == {
        "p_quota_bp": 2500,
        "threshold_bp": 5000,
        "quota_minor": 100_000_00,
        "expected_minor": 95_000_00,
    }


def test_low_p_quota_risks_nothing_when_the_mean_reaches_the_quota():
    found = flagged(replace(HEALTHY, p_quota=0.45, expected_minor=120_000_00))
    assert found[K.LOW_P_QUOTA].money_at_risk_minor == 0


@pytest.mark.parametrize("quota", [None, 0])
def test_low_p_quota_needs_a_quota(quota):
    assert K.LOW_P_QUOTA not in flagged(replace(HEALTHY, quota_minor=quota, p_quota=0.0))


@pytest.mark.parametrize(("pipeline", "flag"), [(135_000_01, False), (135_000_00, False), (134_999_99, True)])
def test_coverage_short_below_nine_tenths_of_three_times(pipeline, flag):
    found = flagged(replace(HEALTHY, pipeline_minor=pipeline))
    assert (K.COVERAGE_SHORT in found) is flag
    if flag:
        short = found[K.COVERAGE_SHORT]
        # 50,000.00 still to close, of which the pipeline brings a third at the default need.
        assert short.money_at_risk_minor == 5_000_00
        assert short.numbers == {
            "coverage_bp": 27000,
            "coverage_needed_bp": 30000,
            "pipeline_minor": 134_999_99,
            "still_to_close_minor": 50_000_00,
        }
        assert short.reason == (
            "pipeline 134,999.99 USD covers 2.7x of the 50,000.00 USD still to close; 3x needed"
        )


def test_coverage_needed_follows_the_trailing_win_rate():
    history = (PastPeriod("2026-Q2", 100_000_00, 100_000_00), PastPeriod("2026-Q3", 50_000_00, 50_000_00))
    at_need = replace(HEALTHY, pipeline_minor=90_000_00, history=history)  # 1.8x = 2x less a tenth
    assert K.COVERAGE_SHORT not in flagged(at_need)
    assert K.COVERAGE_SHORT in flagged(replace(at_need, pipeline_minor=89_999_99))


def test_no_coverage_flag_once_the_quota_is_reached():
    assert K.COVERAGE_SHORT not in flagged(replace(HEALTHY, closed_won_minor=100_000_00, pipeline_minor=0))


@pytest.mark.parametrize(("closed", "flag"), [(40_000_01, False), (40_000_00, False), (39_999_99, True)])
def test_pacing_behind_more_than_ten_points_under_the_elapsed_share(closed, flag):
    found = flagged(replace(HEALTHY, closed_won_minor=closed))
    assert (K.PACING_BEHIND in found) is flag
    if flag:
        behind = found[K.PACING_BEHIND]
        assert behind.money_at_risk_minor == 10_000_01  # 50,000.00 by straight-line pace - closed
        assert behind.reason == "closed 40 % of the quota with 50 % of the period gone"


def test_nobody_is_behind_pace_when_the_period_begins():
    assert K.PACING_BEHIND not in flagged(replace(HEALTHY, closed_won_minor=0), now=START)


@pytest.mark.parametrize(("commit", "flag"), [(104_499_99, False), (104_500_00, False), (104_500_01, True)])
def test_commit_above_a_tenth_over_what_the_pipeline_is_expected_to_bring(commit, flag):
    found = flagged(replace(HEALTHY, committed_minor=commit))
    assert (K.COMMIT_ABOVE_PIPELINE in found) is flag
    if flag:
        assert found[K.COMMIT_ABOVE_PIPELINE].money_at_risk_minor == 9_500_01


def test_no_commit_is_never_above_the_pipeline():
    assert K.COMMIT_ABOVE_PIPELINE not in flagged(replace(HEALTHY, committed_minor=None, expected_minor=0))


@pytest.mark.parametrize(("commit", "flag"), [(76_000_01, False), (76_000_00, False), (75_999_99, True)])
def test_commit_below_a_fifth_under_what_the_pipeline_is_expected_to_bring(commit, flag):
    found = flagged(replace(HEALTHY, committed_minor=commit))
    assert (K.COMMIT_BELOW_PIPELINE in found) is flag
    if flag:
        sandbag = found[K.COMMIT_BELOW_PIPELINE]
        assert sandbag.money_at_risk_minor == 19_000_01
        assert sandbag.reason == (
            "commit 75,999.99 USD is below the 95,000.00 USD the closed and open deals are expected to bring"
        )
        assert sandbag.numbers == {
            "committed_minor": 75_999_99,
            "expected_minor": 95_000_00,
            "threshold_bp": 2_000,
        }


def test_no_commit_is_never_below_the_pipeline():
    assert K.COMMIT_BELOW_PIPELINE not in flagged(replace(HEALTHY, committed_minor=None))


@pytest.mark.parametrize(("pushed", "flag"), [(49_999_99, False), (50_000_00, False), (50_000_01, True)])
def test_slipping_above_a_fifth_of_the_pipeline(pushed, flag):
    found = flagged(replace(HEALTHY, pushed_out_minor=pushed))
    assert (K.SLIPPING in found) is flag
    if flag:
        slip = found[K.SLIPPING]
        assert slip.money_at_risk_minor == 50_000_01
        assert (
            slip.reason == "50,000.01 USD (20 % of the pipeline) pushed out of the period in the last 28 days"
        )


def history_with(commits: tuple[int, int]) -> tuple[PastPeriod, ...]:
    return (
        PastPeriod("2026-Q2", 100_000_00, 100_000_00, commits[0]),
        PastPeriod("2026-Q3", 100_000_00, 100_000_00, commits[1]),
    )


@pytest.mark.parametrize(
    ("commits", "flag"),
    [
        ((120_000_00, 119_999_99), False),
        ((120_000_00, 120_000_00), False),
        ((120_000_00, 120_000_01), True),
        ((80_000_00, 80_000_00), False),
        ((80_000_00, 79_999_99), True),
    ],
)
def test_forecast_bias_beyond_a_fifth_either_way(commits, flag):
    found = flagged(replace(HEALTHY, history=history_with(commits)))
    assert (K.FORECAST_BIAS in found) is flag


def test_an_over_forecaster_and_a_sandbagger_read_differently_and_risk_their_mean_miss():
    over = flagged(replace(HEALTHY, history=history_with((130_000_00, 130_000_01))))[K.FORECAST_BIAS]
    assert over.reason == "past commits over-forecast the actuals by 30 %, 30,000.01 USD a period on average"
    assert over.money_at_risk_minor == 30_000_01  # 60,000.01 / 2, half up
    under = flagged(replace(HEALTHY, history=history_with((70_000_00, 70_000_00))))[K.FORECAST_BIAS]
    assert (
        under.reason == "past commits under-forecast the actuals by 30 %, 30,000.00 USD a period on average"
    )
    assert under.numbers["bias_bp"] == -3000


def test_a_reps_flags_rank_by_money_at_risk():
    risky = replace(
        HEALTHY,
        p_quota=0.3,  # 5,000.00
        closed_won_minor=10_000_00,  # 40,000.00 behind pace
        pushed_out_minor=100_000_00,  # 100,000.00 slipped
        committed_minor=115_000_00,  # 20,000.00 above expected
    )
    found = rep_flags(risky, period_start=START, period_end=END, now=HALFWAY, thresholds=DEFAULT_THRESHOLDS)
    assert [(f.kind, f.money_at_risk_minor) for f in found] == [
        (K.SLIPPING, 100_000_00),
        (K.PACING_BEHIND, 40_000_00),
        (K.COVERAGE_SHORT, 23_333_33),  # 90,000.00 to close, the pipeline brings a third of 200,000.00
        (K.COMMIT_ABOVE_PIPELINE, 20_000_00),
        (K.LOW_P_QUOTA, 5_000_00),
    ]


def test_flags_of_many_reps_rank_by_money_then_kind_then_rep():
    def flag(user: str, kind: RepFlagKind, money: int) -> RepFlag:
        return RepFlag(kind, user, "", {}, money)

    ranked = ranked_rep_flags(
        [
            flag("b", K.SLIPPING, 5),
            flag("a", K.SLIPPING, 5),
            flag("z", K.LOW_P_QUOTA, 5),
            flag("c", K.SLIPPING, 6),
        ]
    )
    assert [(f.user_id, f.kind) for f in ranked] == [
        ("c", K.SLIPPING),
        ("z", K.LOW_P_QUOTA),
        ("a", K.SLIPPING),
        ("b", K.SLIPPING),
    ]


def test_a_team_is_judged_on_its_own_distribution_not_its_members_chances():
    strong = replace(HEALTHY, user_id="alice", p_quota=0.9)
    weak = replace(HEALTHY, user_id="bob", p_quota=0.2)
    team = team_figures(
        user_id="manager",
        currency="USD",
        members=[strong, weak],
        quota_minor=200_000_00,
        committed_minor=180_000_00,
        p_quota=0.62,  # the caller's distribution over both reps' deals
        past_commits={},
    )
    assert flagged(team) == {}
    assert K.LOW_P_QUOTA in flagged(replace(team, p_quota=0.49))


amounts = st.integers(0, 10**14)
optional_amounts = st.one_of(st.none(), amounts)
any_figures = st.builds(
    RepFigures,
    user_id=st.sampled_from(["a", "b", "c"]),
    currency=st.just("EUR"),
    quota_minor=optional_amounts,
    closed_won_minor=amounts,
    committed_minor=optional_amounts,
    live_forecast_minor=amounts,
    pipeline_minor=amounts,
    expected_minor=amounts,
    p_quota=st.one_of(st.none(), st.floats(0, 1)),
    pushed_out_minor=amounts,
    history=st.lists(
        st.builds(PastPeriod, st.just("2026-Q3"), amounts, amounts, optional_amounts), max_size=5
    ).map(tuple),
)


@given(st.lists(any_figures, max_size=5), st.datetimes(datetime(2026, 9, 1), datetime(2027, 2, 1)))
def test_flags_never_raise_never_risk_a_negative_amount_and_rank_by_money(many, now):
    every = [
        flag
        for figures in many
        for flag in rep_flags(
            figures,
            period_start=START,
            period_end=END,
            now=now.replace(tzinfo=UTC),
            thresholds=DEFAULT_THRESHOLDS,
        )
    ]
    for figures in many:
        own = rep_flags(
            figures,
            period_start=START,
            period_end=END,
            now=now.replace(tzinfo=UTC),
            thresholds=DEFAULT_THRESHOLDS,
        )
        risks = [f.money_at_risk_minor for f in own]
        assert risks == sorted(risks, reverse=True)
    risks = [f.money_at_risk_minor for f in ranked_rep_flags(every)]
    assert risks == sorted(risks, reverse=True)
    assert all(risk >= 0 for risk in risks)
