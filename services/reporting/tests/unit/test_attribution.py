"""Attribution models: worked examples checked by hand, and the properties every model keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesplane_reporting.domain.attribution import (
    Deal,
    Model,
    Touch,
    credits,
    largest_remainder,
    weights,
)

DAY = timedelta(days=1)
T0 = datetime(2026, 11, 1, tzinfo=UTC)
# Three touches of two campaigns, then the deal (100.00, naming campaign B) on day 10.
TOUCHES = [Touch("A", T0), Touch("B", T0 + 5 * DAY), Touch("A", T0 + 9 * DAY)]
DEAL = Deal(amount_minor=10_000, created_at=T0 + 10 * DAY, campaign_id="B")


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        # All to the first touch (A on day 0).
        (Model.FIRST_TOUCH, {"A": 10_000}),
        # All to the last touch before the deal (A on day 9).
        (Model.LAST_TOUCH, {"A": 10_000}),
        # A third per touch: 3,333.33 each; the left-over cent goes to the earliest (A).
        (Model.LINEAR, {"A": 6_667, "B": 3_333}),
        # 40 % first (A), 20 % the middle one (B), 40 % last (A).
        (Model.U_SHAPED, {"A": 8_000, "B": 2_000}),
        # The deal's creation is the fourth point (B): 30 % A day 0, 10 % B day 5, 30 % A day 9,
        # 30 % B at creation.
        (Model.W_SHAPED, {"A": 6_000, "B": 4_000}),
        # Weights 2^(-10/7) = 0.3715, 2^(-5/7) = 0.6095, 2^(-1/7) = 0.9057 (sum 1.8867): A gets
        # (0.3715 + 0.9057) / 1.8867 = 67.695 % = 6,769.5 units, B 3,230.5; the tie goes to A's
        # earlier touch.
        (Model.TIME_DECAY, {"A": 6_770, "B": 3_230}),
    ],
)
def test_each_model_credits_the_worked_example_as_computed_by_hand(
    model: Model, expected: dict[str, int]
) -> None:
    assert credits(model, TOUCHES, DEAL) == expected


def test_a_lookback_window_drops_touches_older_than_it() -> None:
    assert credits(Model.LINEAR, TOUCHES, DEAL, lookback=6 * DAY) == {"B": 5_000, "A": 5_000}


def test_touches_after_the_deal_was_created_earn_nothing() -> None:
    late = [*TOUCHES, Touch("C", DEAL.created_at + DAY)]
    assert credits(Model.LAST_TOUCH, late, DEAL) == {"A": 10_000}


def test_a_deal_no_touch_counts_for_is_unattributed() -> None:
    assert credits(Model.LINEAR, [], DEAL) == {"": 10_000}


def test_a_longer_half_life_flattens_time_decay_towards_linear() -> None:
    slow = credits(Model.TIME_DECAY, TOUCHES, DEAL, half_life=timedelta(days=3650))
    linear = credits(Model.LINEAR, TOUCHES, DEAL)
    # Nearly equal weights: the same split but for where the left-over unit lands.
    assert slow.keys() == linear.keys()
    assert all(abs(slow[c] - linear[c]) <= 1 for c in slow)


def test_a_half_life_must_be_positive() -> None:
    with pytest.raises(ValueError, match="half-life"):
        weights(Model.TIME_DECAY, TOUCHES, DEAL, half_life=timedelta(0))


def test_largest_remainder_keeps_every_unit_and_its_sign() -> None:
    thirds = [Fraction(1, 3)] * 3
    assert largest_remainder(100, thirds) == [34, 33, 33]
    assert largest_remainder(-100, thirds) == [-34, -33, -33]


touch_lists = st.lists(
    st.builds(
        Touch,
        st.sampled_from(["A", "B", "C", "D"]),
        st.integers(0, 60 * 24).map(lambda minutes: T0 + timedelta(minutes=minutes * 30)),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(
    touches=touch_lists,
    amount=st.integers(0, 10**12),
    model=st.sampled_from(list(Model)),
    campaign=st.sampled_from(["", "A", "E"]),
    lookback_days=st.one_of(st.none(), st.integers(1, 60)),
    half_life_days=st.integers(1, 90),
)
def test_credits_are_never_negative_and_sum_to_the_amount_exactly(
    touches: list[Touch],
    amount: int,
    model: Model,
    campaign: str,
    lookback_days: int | None,
    half_life_days: int,
) -> None:
    deal = Deal(amount, T0 + 31 * DAY, campaign)
    lookback = timedelta(days=lookback_days) if lookback_days is not None else None
    given_credits = credits(model, touches, deal, lookback=lookback, half_life=timedelta(days=half_life_days))
    assert all(value >= 0 for value in given_credits.values())
    assert sum(given_credits.values()) == amount
    if model in (Model.FIRST_TOUCH, Model.LAST_TOUCH) and amount:
        assert len(given_credits) == 1
