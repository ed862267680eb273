"""Incremental rollups (sum of per-event deltas) always equal a recomputation from final states."""

from collections import defaultdict

from hypothesis import given
from hypothesis import strategies as st

from salesplane_forecasting.domain.contributions import Contribution, merge_deltas
from salesplane_forecasting.domain.periods import is_period_id, quarter_of

contributions = st.one_of(
    st.none(),
    st.builds(
        Contribution,
        owner_user_id=st.sampled_from(["ann", "bob"]),
        period_id=st.sampled_from(["2026-Q1", "2026-Q2"]),
        currency=st.sampled_from(["EUR", "JPY"]),
        amount_minor=st.integers(0, 10**12),
        probability=st.integers(0, 100),
    ),
)


@given(st.lists(st.tuples(st.integers(0, 5), contributions), max_size=60), st.integers(1, 7))
def test_summing_batched_deltas_equals_recomputing_from_the_final_states(changes, batch_size):
    tracked: dict[int, Contribution | None] = {}
    rollup: defaultdict = defaultdict(lambda: [0, 0, 0])
    for start in range(0, len(changes), batch_size):
        batch: dict[int, Contribution | None] = {}
        for deal, contribution in changes[start : start + batch_size]:
            batch[deal] = contribution  # the newest state in a batch wins
        for key, delta in merge_deltas((tracked.get(d), new) for d, new in batch.items()).items():
            rollup[key][0] += delta.opportunity_count
            rollup[key][1] += delta.amount_minor
            rollup[key][2] += delta.weighted_percent_minor
        tracked.update(batch)
    expected: defaultdict = defaultdict(lambda: [0, 0, 0])
    for contribution in tracked.values():
        if contribution is not None:
            expected[contribution.key][0] += 1
            expected[contribution.key][1] += contribution.amount_minor
            expected[contribution.key][2] += contribution.weighted_percent_minor
    assert {k: v for k, v in rollup.items() if any(v)} == {k: v for k, v in expected.items() if any(v)}


def test_periods_are_calendar_quarters():
    from datetime import date

    assert [quarter_of(date(2026, m, 1)) for m in (1, 3, 4, 9, 10, 12)] == [
        "2026-Q1",
        "2026-Q1",
        "2026-Q2",
        "2026-Q3",
        "2026-Q4",
        "2026-Q4",
    ]
    assert is_period_id("2026-Q4") and not is_period_id("2026-Q5") and not is_period_id("26-Q1")
