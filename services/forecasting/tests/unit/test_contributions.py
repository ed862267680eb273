"""Incremental rollups (batched deltas carried up the chains) always equal a recomputation."""

from collections import defaultdict

from hypothesis import given
from hypothesis import strategies as st

from salesplane_forecasting.domain.contributions import (
    MEASURES,
    Contribution,
    merge_deltas,
    move_team,
)
from salesplane_forecasting.domain.periods import is_period_id, quarter_of

CHAINS = {
    "rep-a": ["rep-a", "mgr-1", "vp"],
    "rep-b": ["rep-b", "mgr-1", "vp"],
    "rep-c": ["rep-c", "mgr-2", "vp"],
    "mgr-1": ["mgr-1", "vp"],
    "mgr-2": ["mgr-2", "vp"],
    "vp": ["vp"],
}

contributions = st.one_of(
    st.none(),
    st.builds(
        Contribution,
        owner_user_id=st.sampled_from(sorted(CHAINS)),
        period_ids=st.sampled_from([("2026-Q1", "2026-01"), ("2026-Q1", "2026-02"), ("2026-Q2", "2026-04")]),
        measures=st.lists(st.integers(-(10**9), 10**12), min_size=len(MEASURES), max_size=len(MEASURES)).map(
            tuple
        ),
    ),
)


# A rollup row holds the own measures at OWN, then the team measures at TEAM.
WIDTH = len(MEASURES)
OWN, TEAM = 0, WIDTH


def recompute(tracked, chains) -> dict:
    """(user, period) -> own measures then team measures, summed deal by deal and level by level."""
    expected: defaultdict = defaultdict(lambda: [0] * (2 * WIDTH))
    for contribution in tracked.values():
        if contribution is None:
            continue
        for period in contribution.period_ids:
            cells = [(contribution.owner_user_id, OWN)]
            cells += [(user, TEAM) for user in chains[contribution.owner_user_id]]
            for user, offset in cells:
                for index, value in enumerate(contribution.measures):
                    expected[(user, period)][offset + index] += value
    return {k: v for k, v in expected.items() if any(v)}


@given(st.lists(st.tuples(st.integers(0, 5), contributions), max_size=60), st.integers(1, 7))
def test_summing_batched_deltas_up_the_chains_equals_recomputing_from_the_final_states(changes, batch_size):
    tracked: dict[int, Contribution | None] = {}
    rollup: defaultdict = defaultdict(lambda: [0] * (2 * WIDTH))
    for start in range(0, len(changes), batch_size):
        batch: dict[int, Contribution | None] = {}
        for deal, contribution in changes[start : start + batch_size]:
            batch[deal] = contribution  # the newest state in a batch wins
        pairs = [(tracked.get(d), new) for d, new in batch.items()]
        for key, delta in merge_deltas(pairs, CHAINS).items():
            assert len(delta) == 2 * WIDTH and any(delta), (key, delta)
            for index, value in enumerate(delta):
                rollup[key][index] += value
        tracked.update(batch)
    assert {k: v for k, v in rollup.items() if any(v)} == recompute(tracked, CHAINS)


@given(st.lists(contributions, max_size=20))
def test_moving_a_manager_moves_their_whole_team_to_the_new_chain(states):
    tracked = dict(enumerate(states))
    before = recompute(tracked, CHAINS)
    moved = {
        **CHAINS,
        "mgr-1": ["mgr-1", "mgr-2", "vp"],
        "rep-a": ["rep-a", "mgr-1", "mgr-2", "vp"],
        "rep-b": ["rep-b", "mgr-1", "mgr-2", "vp"],
    }
    team_of_mgr1 = {period: tuple(v[TEAM:]) for (u, period), v in before.items() if u == "mgr-1"}
    rollup = defaultdict(lambda: [0] * (2 * WIDTH), {k: list(v) for k, v in before.items()})
    for key, delta in move_team(team_of_mgr1, CHAINS["mgr-1"][1:], moved["mgr-1"][1:]).items():
        # Nobody's own deals change hands: only the team half of a row moves.
        assert len(delta) == 2 * WIDTH and not any(delta[:TEAM]) and any(delta[TEAM:]), (key, delta)
        for index, value in enumerate(delta):
            rollup[key][index] += value
    assert {k: v for k, v in rollup.items() if any(v)} == recompute(tracked, moved)


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
