"""The probabilistic forecast against brute force, against simulation, and at its edges."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from fractions import Fraction
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesplane_forecasting.domain import probabilistic
from salesplane_forecasting.domain.probabilistic import Distribution, OpenDeal, distribution
from salesplane_platform.errors import InvalidArgument

LEVELS = (Fraction(10, 100), Fraction(50, 100), Fraction(90, 100))
# The discretized method counts a CDF within this of a level as reaching it (float rounding).
TOLERANCE = Fraction(1, 10**9)


def brute_force(deals: list[OpenDeal], closed_won: int) -> dict[int, Fraction]:
    """Every one of the 2**n win/lose outcomes, with its exact probability."""
    outcomes: dict[int, Fraction] = defaultdict(Fraction)

    def visit(index: int, total: int, chance: Fraction) -> None:
        # Depth first, so each outcome's probability costs one multiplication, not n.
        if index == len(deals):
            outcomes[total] += chance
            return
        deal = deals[index]
        p = Fraction(deal.probability, 100)
        visit(index + 1, total, chance * (1 - p))
        visit(index + 1, total + deal.amount_minor, chance * p)

    visit(0, closed_won, Fraction(1))
    return outcomes


def lower_quantile(outcomes: dict[int, Fraction], level: Fraction) -> int:
    """The definition: the smallest total t with P(total <= t) >= level."""
    running = Fraction(0)
    for total in sorted(outcomes):
        running += outcomes[total]
        if running >= level:
            return total
    return max(outcomes)


def chance_of_at_least(outcomes: dict[int, Fraction], quota: int) -> Fraction:
    return sum((p for total, p in outcomes.items() if total >= quota), Fraction(0))


def quantiles(result: Distribution) -> tuple[int, int, int]:
    return (result.p10_minor, result.p50_minor, result.p90_minor)


# Whole-percent probabilities of 10/50/90 make CDF ties at the quantile levels common; amounts from
# a small range make equal sums common. Both are where an off-by-one in the definition shows.
small_deals = st.lists(
    st.builds(
        OpenDeal,
        amount_minor=st.one_of(st.integers(0, 20), st.integers(0, 10**9)),
        probability=st.one_of(st.sampled_from([0, 10, 50, 90, 100]), st.integers(0, 100)),
    ),
    max_size=12,
)


@settings(max_examples=120, deadline=None)
@given(small_deals, st.integers(0, 10**6), st.one_of(st.none(), st.integers(0, 10**10)))
def test_exact_method_matches_brute_force_enumeration(deals, closed_won, quota):
    outcomes = brute_force(deals, closed_won)
    result = distribution(open_deals=deals, closed_won_minor=closed_won, quota_minor=quota)

    assert result.method == "exact"
    assert result.max_error_minor == 0
    assert quantiles(result) == tuple(lower_quantile(outcomes, level) for level in LEVELS)
    expected = closed_won + Fraction(sum(d.amount_minor * d.probability for d in deals), 100)
    assert result.expected_minor == math.floor(expected + Fraction(1, 2))
    if quota is None:
        assert result.probability_of_reaching_quota is None
    else:
        assert result.probability_of_reaching_quota == pytest.approx(
            float(chance_of_at_least(outcomes, quota)), abs=1e-9
        )
    assert result.closed_won_minor == closed_won
    assert result.open_deal_count == len(deals)


@settings(max_examples=120, deadline=None)
@given(small_deals, st.integers(0, 10**6), st.integers(0, 10**10), st.sampled_from([1, 4, 16, 256]))
def test_discretized_quantiles_stay_within_the_reported_error_of_brute_force(deals, closed_won, quota, cells):
    # A coarse grid forces large rounding errors, so the bound is tested where it matters.
    with (
        patch.object(probabilistic, "MAX_EXACT_SUMS", 0),
        patch.object(probabilistic, "GRID_CELLS", cells),
    ):
        result = distribution(open_deals=deals, closed_won_minor=closed_won, quota_minor=quota)
    outcomes = brute_force(deals, closed_won)
    error = result.max_error_minor

    if any(0 < d.probability < 100 and d.amount_minor > 0 for d in deals):
        assert result.method == "discretized"
    for level, reported in zip(LEVELS, quantiles(result), strict=True):
        # Proven: within E of the true quantile at a level in [level - tolerance, level].
        assert lower_quantile(outcomes, level - TOLERANCE) - error <= reported
        assert reported <= lower_quantile(outcomes, level) + error
    # Every outcome moves by at most E, so P(total >= quota) is bracketed by quota -/+ E.
    assert result.probability_of_reaching_quota is not None
    assert float(chance_of_at_least(outcomes, quota + error)) - 1e-9 <= result.probability_of_reaching_quota
    assert result.probability_of_reaching_quota <= float(chance_of_at_least(outcomes, quota - error)) + 1e-9


def realistic_pipeline(seed: int, count: int) -> list[OpenDeal]:
    rng = np.random.default_rng(seed)
    amounts = np.rint(rng.lognormal(math.log(5_000_000), 1.0, count)).astype(np.int64)
    percents = rng.choice([10, 20, 25, 40, 50, 60, 75, 80, 90], count)
    return [OpenDeal(int(a), int(p)) for a, p in zip(amounts, percents, strict=True)]


def simulate(deals: list[OpenDeal], closed_won: int, trials: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    amounts = np.array([d.amount_minor for d in deals], dtype=np.int64)
    chances = np.array([d.probability for d in deals]) / 100
    totals = []
    for _ in range(trials // 1000):  # chunks keep the win matrix small
        wins = rng.random((1000, len(deals))) < chances
        totals.append(closed_won + wins.astype(np.int64) @ amounts)
    return np.sort(np.concatenate(totals))


def empirical_quantile(sorted_totals: np.ndarray, level: float) -> int:
    """The lower quantile of the empirical distribution (same definition as the forecast)."""
    index = math.ceil(level * len(sorted_totals)) - 1
    return int(sorted_totals[min(len(sorted_totals) - 1, max(0, index))])


@pytest.mark.parametrize(("seed", "count"), [(7, 2000), (11, 5000)])
def test_discretized_method_agrees_with_monte_carlo_simulation(seed, count):
    deals = realistic_pipeline(seed, count)
    closed_won = 123_456_789
    trials = 20_000
    totals = simulate(deals, closed_won, trials, seed)
    quota = int(np.median(totals))
    result = distribution(open_deals=deals, closed_won_minor=closed_won, quota_minor=quota)
    # DKW: P(sup_t |F_n(t) - F(t)| > eps) <= 2 exp(-2 n eps^2). With n = 20,000 trials and a
    # failure chance of 1e-6, eps = sqrt(ln(2e6) / (2n)) ~ 0.019: a correct implementation would
    # fail this on about one seed in a million. (Seeded, so the outcome is fixed anyway.)
    eps = math.sqrt(math.log(2 / 1e-6) / (2 * trials))
    error = result.max_error_minor

    assert result.method == "discretized"
    assert 0 < error < 0.01 * result.p50_minor  # the bound is not vacuous
    for level, reported in zip((0.1, 0.5, 0.9), quantiles(result), strict=True):
        # F within eps of F_n brackets the true quantile between empirical ones at level -/+ eps,
        # and the reported one is within E of the true one (at a level up to 1e-9 lower).
        assert empirical_quantile(totals, level - eps - 1e-9) - error <= reported
        assert reported <= empirical_quantile(totals, level + eps) + error
    reach = result.probability_of_reaching_quota
    assert reach is not None
    assert np.mean(totals >= quota + error) - eps <= reach <= np.mean(totals >= quota - error) + eps
    expected = closed_won + Fraction(sum(d.amount_minor * d.probability for d in deals), 100)
    assert result.expected_minor == math.floor(expected + Fraction(1, 2))


def test_equal_amounts_on_their_own_grid_are_discretized_without_error():
    deals = [OpenDeal(250_000, p) for p in range(1, 100)] * 3
    exact = distribution(open_deals=deals, closed_won_minor=5, quota_minor=30_000_000)
    with patch.object(probabilistic, "MAX_EXACT_SUMS", 0):
        discretized = distribution(open_deals=deals, closed_won_minor=5, quota_minor=30_000_000)

    assert (exact.method, discretized.method) == ("exact", "discretized")
    assert discretized.max_error_minor == 0
    assert quantiles(discretized) == quantiles(exact)
    assert discretized.probability_of_reaching_quota == pytest.approx(
        exact.probability_of_reaching_quota, abs=1e-9
    )


def test_no_open_deals_leaves_only_the_closed_won_revenue():
    result = distribution(open_deals=[], closed_won_minor=1_000, quota_minor=1_000)

    assert result == Distribution(
        closed_won_minor=1_000,
        expected_minor=1_000,
        p10_minor=1_000,
        p50_minor=1_000,
        p90_minor=1_000,
        probability_of_reaching_quota=1.0,
        method="exact",
        max_error_minor=0,
        open_deal_count=0,
    )
    assert (
        distribution(open_deals=[], closed_won_minor=1_000, quota_minor=1_001).probability_of_reaching_quota
        == 0
    )


def test_deals_at_zero_percent_contribute_nothing():
    result = distribution(open_deals=[OpenDeal(500, 0)] * 3, closed_won_minor=7, quota_minor=8)

    assert quantiles(result) == (7, 7, 7)
    assert result.expected_minor == 7
    assert result.probability_of_reaching_quota == 0
    assert result.open_deal_count == 3


def test_deals_at_one_hundred_percent_are_certain():
    deals = [OpenDeal(500, 100), OpenDeal(1_000_000_000_000, 100)]
    result = distribution(open_deals=deals, closed_won_minor=7, quota_minor=1_000_000_000_507)

    assert quantiles(result) == (1_000_000_000_507,) * 3
    assert result.expected_minor == 1_000_000_000_507
    assert result.probability_of_reaching_quota == 1


def test_certain_deals_shift_a_large_discretized_distribution_exactly():
    deals = realistic_pipeline(3, 1000)
    base = distribution(open_deals=deals, closed_won_minor=0, quota_minor=None)
    shifted = distribution(
        open_deals=[*deals, OpenDeal(1_234_567, 100)], closed_won_minor=0, quota_minor=None
    )

    assert base.method == shifted.method == "discretized"
    assert quantiles(shifted) == tuple(q + 1_234_567 for q in quantiles(base))
    assert shifted.max_error_minor == base.max_error_minor


def test_no_quota_gives_no_chance_of_reaching_it():
    for deals in ([], [OpenDeal(100, 50)], realistic_pipeline(1, 500)):
        assert (
            distribution(open_deals=deals, closed_won_minor=0, quota_minor=None).probability_of_reaching_quota
            is None
        )


def test_a_zero_quota_is_always_reached():
    for deals in ([], [OpenDeal(100, 50)], realistic_pipeline(1, 500)):
        assert (
            distribution(open_deals=deals, closed_won_minor=0, quota_minor=0).probability_of_reaching_quota
            == 1
        )


def test_zero_amounts_change_nothing_but_the_deal_count():
    deals = [OpenDeal(100, 50), OpenDeal(300, 25)]
    with_zeros = distribution(
        open_deals=[*deals, OpenDeal(0, 50), OpenDeal(0, 100)], closed_won_minor=1, quota_minor=101
    )
    without = distribution(open_deals=deals, closed_won_minor=1, quota_minor=101)

    assert with_zeros.open_deal_count == 4
    assert with_zeros == Distribution(**{**without.__dict__, "open_deal_count": 4})


def test_a_one_deal_tie_at_the_level_takes_the_lower_total():
    # P(total <= 0) is exactly 0.10: by the definition P10 is 0, not the deal's amount.
    result = distribution(open_deals=[OpenDeal(1_000, 90)], closed_won_minor=0, quota_minor=None)

    assert quantiles(result) == (0, 1_000, 1_000)


@pytest.mark.parametrize(
    "deals", [realistic_pipeline(5, 12), realistic_pipeline(5, 3000)], ids=["exact", "discretized"]
)
def test_the_same_pipeline_in_any_order_gives_identical_results(deals):
    first = distribution(open_deals=deals, closed_won_minor=99, quota_minor=10**10)
    again = distribution(open_deals=list(deals), closed_won_minor=99, quota_minor=10**10)
    shuffled = list(deals)
    random.Random(1).shuffle(shuffled)
    reordered = distribution(open_deals=shuffled, closed_won_minor=99, quota_minor=10**10)

    assert first == again == reordered


@pytest.mark.parametrize(
    ("deals", "closed_won", "quota", "field"),
    [
        ([OpenDeal(100, 50), OpenDeal(-1, 50)], 0, None, "open_deals[1].amount_minor"),
        ([OpenDeal(100, 101)], 0, None, "open_deals[0].probability"),
        ([OpenDeal(100, -1)], 0, None, "open_deals[0].probability"),
        ([OpenDeal(100.5, 50)], 0, None, "open_deals[0].amount_minor"),  # type: ignore[arg-type]
        ([OpenDeal(100, 50)], -1, None, "closed_won_minor"),
        ([OpenDeal(100, 50)], 0, -1, "quota_minor"),
    ],
)
def test_invalid_input_is_rejected_with_the_offending_field(deals, closed_won, quota, field):
    with pytest.raises(InvalidArgument) as raised:
        distribution(open_deals=deals, closed_won_minor=closed_won, quota_minor=quota)

    assert [v.field for v in raised.value.violations] == [field]
