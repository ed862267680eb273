"""The soak's memory bound on made-up series: a cache that fills and levels off passes, a leak at
the load's rate fails, and so does a single jump past the allowed growth."""

from __future__ import annotations

from tests.soak.memory_bound import ALLOWED_GROWTH_MIB, NOISE_MIB, growth, memory_problems

DURATION_S = 600.0
TIMES = [10.0 * i for i in range(1, 61)]


def test_a_cache_that_fills_and_levels_off_is_within_the_bound() -> None:
    # 100 MiB, then 20 MiB more over the first five minutes, then flat with a little noise.
    series = [(t, 100 + min(t, 300) / 15 + (1 if i % 2 else -1)) for i, t in enumerate(TIMES)]
    assert memory_problems({"gateway": series}, DURATION_S) == []


def test_a_leak_at_the_loads_rate_fails_the_second_half_check() -> None:
    # A large process (300 MiB: 45 MiB allowed) leaking 5 MiB a minute: 40 MiB over the window
    # after the warm-up, within the total allowed, but 20 MiB in each half.
    series = [(t, 300 + 5 * t / 60) for t in TIMES]
    measured = growth(series, DURATION_S)
    assert measured is not None and measured.total < measured.allowed
    assert measured.second_half > measured.first_half / 2 + NOISE_MIB
    problems = memory_problems({"reporting": series}, DURATION_S)
    assert problems and all("kept growing" in p for p in problems), problems


def test_a_jump_past_the_allowed_growth_fails_even_if_it_then_stops() -> None:
    series = [(t, 100.0 if t < 200 else 100 + ALLOWED_GROWTH_MIB + 1) for t in TIMES]
    problems = memory_problems({"leads": series}, DURATION_S)
    assert any("more than the 25.0 MiB allowed" in p for p in problems), problems


def test_a_run_too_short_to_judge_is_a_problem_not_a_pass() -> None:
    assert memory_problems({"leads": [(1.0, 100.0), (2.0, 100.0)]}, DURATION_S)
