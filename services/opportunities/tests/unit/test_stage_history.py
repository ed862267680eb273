from __future__ import annotations

from datetime import UTC, datetime, timedelta

from salesplane_opportunities.domain.stage_history import StageVisit

ENTERED = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_a_past_stage_lasts_until_it_was_left_and_the_current_one_until_now():
    past = StageVisit("Prospecting", ENTERED, ENTERED + timedelta(days=2, seconds=30.9), "alice")
    current = StageVisit("Qualification", ENTERED, None, "alice")
    now = ENTERED + timedelta(hours=5)
    assert past.duration_seconds(now) == 2 * 86_400 + 30
    assert current.duration_seconds(now) == 5 * 3_600


def test_clock_skew_never_gives_a_negative_duration():
    assert StageVisit("Prospecting", ENTERED, None, "alice").duration_seconds(ENTERED - timedelta(1)) == 0
