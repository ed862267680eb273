"""Attribution models: worked examples checked by hand, and the properties every model keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesplane_reporting.domain.attribution import (
    DEAL_SHARE_UNITS,
    Credit,
    Deal,
    Model,
    Touch,
    attribute,
    attribute_counted,
    counted_touches,
    credit_columns,
    credits,
    largest_remainder,
    point_weights,
    split,
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


def test_a_deal_no_touch_counts_for_is_credited_to_its_own_campaign_as_single_touch() -> None:
    assert credits(Model.LINEAR, [], DEAL) == {"B": 10_000}
    late_only = [Touch("A", DEAL.created_at + DAY)]
    assert attribute(Model.U_SHAPED, late_only, DEAL) == [Credit("B", 10_000, DEAL_SHARE_UNITS, 0)]


def test_a_deal_without_touches_or_campaign_is_unattributed() -> None:
    assert credits(Model.LINEAR, [], Deal(10_000, DEAL.created_at)) == {"": 10_000}


def test_each_campaign_gets_its_share_of_the_deal_and_its_touch_count() -> None:
    assert attribute(Model.LINEAR, TOUCHES, DEAL) == [
        Credit("A", 6_667, 666_667, 2),
        Credit("B", 3_333, 333_333, 1),
    ]


def test_time_decay_keeps_its_shares_however_old_the_touches_are() -> None:
    years_back = [Touch(t.campaign_id, t.at - timedelta(days=3650)) for t in TOUCHES]
    old_deal = Deal(10_000, DEAL.created_at, "B")
    assert credits(Model.TIME_DECAY, years_back, old_deal) == {"A": 6_770, "B": 3_230}


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


def reference_shares(model: Model, touches: list[Touch], deal: Deal) -> list[tuple[str, Fraction]]:
    """The rational models as first written, with a Fraction per point: the integer weights must
    give exactly these shares."""
    points = list(touches)
    if model is Model.W_SHAPED:
        anchor = deal.campaign_id or (points[-1].campaign_id if points else "")
        if anchor:
            points.append(Touch(anchor, deal.created_at))
    count = len(points)
    if not count:
        return []

    def anchored(anchors: list[Fraction], middle: Fraction) -> list[Fraction]:
        if count <= len(anchors):
            present = anchors[:count] if count > 1 else [Fraction(1)]
            return [a / sum(present) for a in present]
        between = count - len(anchors)
        return [anchors[0]] + [middle / between] * between + anchors[1:]

    shares = {
        Model.FIRST_TOUCH: lambda: [Fraction(1)] + [Fraction(0)] * (count - 1),
        Model.LAST_TOUCH: lambda: [Fraction(0)] * (count - 1) + [Fraction(1)],
        Model.LINEAR: lambda: [Fraction(1, count)] * count,
        Model.U_SHAPED: lambda: anchored([Fraction(2, 5)] * 2, Fraction(1, 5)),
        Model.W_SHAPED: lambda: anchored([Fraction(3, 10)] * 3, Fraction(1, 10)),
    }[model]()
    return [(p.campaign_id, s) for p, s in zip(points, shares, strict=True)]


@settings(max_examples=300, deadline=None)
@given(
    touches=touch_lists,
    amount=st.integers(0, 10**12),
    model=st.sampled_from([m for m in Model if m is not Model.TIME_DECAY]),
    campaign=st.sampled_from(["", "A", "E"]),
    lookback_days=st.one_of(st.none(), st.integers(1, 60)),
)
def test_the_integer_weights_give_exactly_the_fraction_shares_and_each_campaign_its_share_rounded(
    touches: list[Touch], amount: int, model: Model, campaign: str, lookback_days: int | None
) -> None:
    deal = Deal(amount, T0 + 31 * DAY, campaign)
    lookback = timedelta(days=lookback_days) if lookback_days is not None else None
    counted = counted_touches(touches, deal, lookback)
    expected = reference_shares(model, counted, deal)
    assert weights(model, counted, deal) == expected
    exact: dict[str, Fraction] = {}
    for name, share in expected:
        exact[name] = exact.get(name, Fraction(0)) + share
    found = attribute(model, touches, deal, lookback=lookback)
    assert sum(c.share_units for c in found) == DEAL_SHARE_UNITS
    assert sum(c.amount_minor for c in found) == amount
    if not exact:
        assert [(c.campaign_id, c.amount_minor) for c in found] == [(campaign, amount)]
        return
    for credit in found:
        # Each campaign's exact share of the amount, rounded down or up: never further off.
        assert abs(credit.amount_minor - amount * exact[credit.campaign_id]) < 1
        assert abs(credit.share_units - DEAL_SHARE_UNITS * exact[credit.campaign_id]) < 1
        assert credit.touches == sum(1 for t in counted if t.campaign_id == credit.campaign_id)


@given(amount=st.integers(-(10**15), 10**15), weights_=st.lists(st.integers(0, 10**6), min_size=1))
def test_split_keeps_every_unit_and_never_moves_one_further_than_a_unit(
    amount: int, weights_: list[int]
) -> None:
    if not any(weights_):
        weights_ = [*weights_, 1]
    parts = split(amount, weights_)
    assert sum(parts) == amount
    total = sum(weights_)
    assert all(abs(p - Fraction(amount * w, total)) < 1 for p, w in zip(parts, weights_, strict=True))


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@settings(max_examples=300, deadline=None)
@given(
    touches=touch_lists,
    amount=st.integers(0, 10**12),
    model=st.sampled_from(list(Model)),
    campaign=st.sampled_from(["", "A", "E"]),
    lookback_days=st.one_of(st.none(), st.integers(1, 60)),
    half_life_days=st.integers(1, 90),
)
def test_counted_touches_as_plain_lists_credit_exactly_what_the_touches_do(
    touches: list[Touch],
    amount: int,
    model: Model,
    campaign: str,
    lookback_days: int | None,
    half_life_days: int,
) -> None:
    # What a report reads from SQL: the counted touches' campaigns, and their instants as integer
    # microseconds since the Unix epoch.
    deal = Deal(amount, T0 + 31 * DAY, campaign)
    lookback = timedelta(days=lookback_days) if lookback_days is not None else None
    half_life = timedelta(days=half_life_days)
    counted = counted_touches(touches, deal, lookback)
    campaigns = [t.campaign_id for t in counted]
    micros = [(t.at - EPOCH) // timedelta(microseconds=1) for t in counted]
    expected = attribute(model, touches, deal, lookback=lookback, half_life=half_life)
    found = attribute_counted(model, campaigns, amount, campaign, micros=micros, half_life=half_life)
    assert found == expected
    columns = credit_columns(model, campaigns, amount, campaign, micros=micros, half_life=half_life)
    assert [Credit(*c) for c in zip(*columns, strict=True)] == expected


def test_time_decay_weights_are_the_doubles_of_the_touches_ages_in_half_lives() -> None:
    # The weights as first computed, timedelta / timedelta: microseconds give the same doubles.
    touches = [Touch("A", T0 + timedelta(microseconds=7)), Touch("B", T0 + 2 * DAY), Touch("A", T0 + 9 * DAY)]
    half_life = timedelta(days=2.5)
    newest = touches[-1].at
    expected = [int(float(1 << 52) * 2.0 ** -((newest - t.at) / half_life) + 0.5) for t in touches]
    assert point_weights(Model.TIME_DECAY, touches, DEAL, half_life=half_life) == (["A", "B", "A"], expected)


def test_time_decay_needs_an_instant_per_touch() -> None:
    with pytest.raises(ValueError, match="instant"):
        attribute_counted(Model.TIME_DECAY, ["A", "B"], 100, micros=[1])
