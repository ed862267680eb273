"""The stalled rule's yardstick: nearest-rank percentiles of won deals' stays, with few samples too."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesplane_forecasting.domain.inspection.deal_history import StageStay
from salesplane_forecasting.domain.inspection.stage_percentiles import (
    durations_by_stage,
    nearest_rank,
    stage_percentiles,
)


@pytest.mark.parametrize(
    ("samples", "percentile", "expected"),
    [
        ([7], 75, 7),  # one sample is every percentile
        ([10, 20], 75, 20),  # ceil(1.5) = 2nd
        ([10, 20], 50, 10),  # ceil(1.0) = 1st: no value between them is invented
        ([40, 10, 30, 20], 75, 30),  # ceil(3.0) = 3rd, whatever the input order
        ([10, 20, 30, 40, 50], 75, 40),  # ceil(3.75) = 4th
        ([10, 20, 30, 40, 50], 100, 50),
        ([10, 20, 30, 40, 50], 1, 10),
        ([5, 5, 5, 9], 75, 5),
    ],
)
def test_the_nearest_rank_is_the_least_sample_with_that_share_at_or_below_it(samples, percentile, expected):
    assert nearest_rank(samples, percentile) == expected


@pytest.mark.parametrize(("samples", "percentile"), [([], 75), ([1], 0), ([1], 101)])
def test_a_percentile_needs_samples_and_a_level_of_1_to_100(samples, percentile):
    with pytest.raises(ValueError):
        nearest_rank(samples, percentile)


def test_stages_with_fewer_won_stays_than_the_minimum_are_left_out():
    durations = {"Proposal": [1, 2, 3, 4, 5], "Negotiation": [1, 2, 3, 4], "Discovery": []}
    assert stage_percentiles(durations, percentile=75, min_samples=5) == {"Proposal": 4}
    assert stage_percentiles(durations, percentile=75, min_samples=4) == {"Proposal": 4, "Negotiation": 3}
    assert stage_percentiles(durations, percentile=75, min_samples=0) == {"Proposal": 4, "Negotiation": 3}


def test_stays_group_by_stage():
    stays = [StageStay("Proposal", 5), StageStay("Discovery", 1), StageStay("Proposal", 3)]
    assert durations_by_stage(stays) == {"Proposal": [5, 3], "Discovery": [1]}


@given(st.lists(st.integers(0, 10**8), min_size=1, max_size=50), st.integers(1, 100))
def test_at_least_p_percent_are_at_or_below_it_and_fewer_below_it(samples, percentile):
    value = nearest_rank(samples, percentile)
    assert value in samples
    n = len(samples)
    assert sum(s <= value for s in samples) * 100 >= percentile * n
    assert sum(s < value for s in samples) * 100 < percentile * n
