"""The touch rules: what a touch needs, how far ahead of our clock it may be, its derived key, and
a lead's history in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from salesplane_leads.domain.touches import (
    ALLOWED_CLOCK_SKEW,
    MAX_TOUCHES_PER_REQUEST,
    Touch,
    TouchHistory,
    TouchInput,
    TouchKind,
    check_touch,
    checked_touches,
    derived_touch_key,
    ensure_lead_takes_touches,
)
from salesplane_platform.errors import FailedPrecondition, InvalidArgument, Validator

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
CAMPAIGN = "7d1f0c2a-3b4e-4f5a-8b6c-9d0e1f2a3b4c"
LEAD = "2b0e9c1d-8a7f-4e6d-9c5b-4a3f2e1d0c9b"


def given(**values: object) -> TouchInput:
    defaults: dict[str, object] = {
        "campaign_id": CAMPAIGN,
        "kind": TouchKind.FORM,
        "touch_time": NOW - timedelta(hours=1),
    }
    return TouchInput(**{**defaults, **values})  # type: ignore[arg-type]


def violations(touch: TouchInput, prefix: str = "touch.") -> dict[str, str]:
    check = Validator()
    assert check_touch(check, touch, now=NOW, prefix=prefix) is None
    return {v.field: v.description for v in check.violations}


def test_a_touch_without_campaign_kind_or_time_reports_each_missing_field() -> None:
    assert violations(TouchInput(campaign_id=" ", kind=None, touch_time=None)) == {
        "touch.campaign_id": "must be set",
        "touch.kind": "must be set",
        "touch.touch_time": "must be set",
    }


def test_a_campaign_id_that_is_no_uuid_is_invalid() -> None:
    assert list(violations(given(campaign_id="Spring webinar"))) == ["touch.campaign_id"]


def test_a_touch_time_a_little_ahead_of_our_clock_is_tolerated_but_not_more() -> None:
    check = Validator()
    assert check_touch(check, given(touch_time=NOW + ALLOWED_CLOCK_SKEW), now=NOW) is not None
    assert violations(given(touch_time=NOW + ALLOWED_CLOCK_SKEW + timedelta(seconds=1))) == {
        "touch.touch_time": "must not be in the future (more than 5 minutes ahead)"
    }


def test_a_touch_time_without_offset_or_before_1970_is_invalid() -> None:
    assert violations(given(touch_time=datetime(2030, 1, 1))) == {
        "touch.touch_time": "must have a time zone offset"
    }
    assert list(violations(given(touch_time=datetime(1969, 12, 31, tzinfo=UTC)))) == ["touch.touch_time"]


def test_key_and_note_are_bounded_and_single_line_keys_only() -> None:
    assert list(violations(given(touch_key="k" * 129, note="n" * 501))) == ["touch.touch_key", "touch.note"]
    assert list(violations(given(touch_key="a\nb"))) == ["touch.touch_key"]
    check = Validator()
    checked = check_touch(check, given(touch_key="k" * 128, note="line one\nline two"), now=NOW)
    assert checked is not None and checked.note == "line one\nline two"


def test_without_a_key_the_key_is_derived_from_campaign_kind_and_the_instant_in_utc() -> None:
    paris = timezone(timedelta(hours=2))
    check = Validator()
    in_utc = check_touch(check, given(touch_time=datetime(2030, 5, 1, 9, 0, tzinfo=UTC)), now=NOW)
    in_paris = check_touch(check, given(touch_time=datetime(2030, 5, 1, 11, 0, tzinfo=paris)), now=NOW)

    assert in_utc is not None and in_paris is not None
    assert in_utc.touch_key == in_paris.touch_key == f"{CAMPAIGN}|form|2030-05-01T09:00:00.000000Z"
    assert in_paris.touch_time == datetime(2030, 5, 1, 9, 0, tzinfo=UTC)
    assert in_paris.touch_time.tzinfo is UTC
    assert len(in_utc.touch_key) <= 128


def test_derived_keys_differ_by_campaign_kind_and_time() -> None:
    at = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)
    keys = {
        derived_touch_key(CAMPAIGN, TouchKind.FORM, at),
        derived_touch_key(LEAD, TouchKind.FORM, at),
        derived_touch_key(CAMPAIGN, TouchKind.AD, at),
        derived_touch_key(CAMPAIGN, TouchKind.FORM, at + timedelta(microseconds=1)),
    }
    assert len(keys) == 4


def test_a_given_key_is_kept_trimmed() -> None:
    checked = check_touch(Validator(), given(touch_key="  crm-123 ", note=" hi "), now=NOW)
    assert checked is not None and (checked.touch_key, checked.note) == ("crm-123", "hi")


def test_several_touches_are_reported_by_index_and_a_repeated_key_is_pointed_out() -> None:
    with pytest.raises(InvalidArgument) as error:
        checked_touches(
            [
                given(),
                given(kind=None),
                given(),
                given(touch_key="x"),
                given(touch_key="x", kind=TouchKind.AD),
            ],
            now=NOW,
        )
    assert [(v.field, v.description) for v in error.value.violations] == [
        ("touches[1].kind", "must be set"),
        ("touches[2].touch_key", "is the key of touches[0] too"),
        ("touches[4].touch_key", "is the key of touches[3] too"),
    ]


def test_at_most_a_hundred_touches_come_with_one_request() -> None:
    times = [NOW - timedelta(minutes=n) for n in range(MAX_TOUCHES_PER_REQUEST + 1)]
    assert len(checked_touches([given(touch_time=t) for t in times[:-1]], now=NOW)) == 100
    with pytest.raises(InvalidArgument) as error:
        checked_touches([given(touch_time=t) for t in times], now=NOW)
    assert [v.field for v in error.value.violations] == ["touches"]


def test_a_recorded_touch_raises_lead_touched_with_its_state() -> None:
    checked = check_touch(Validator(), given(), now=NOW)
    assert checked is not None

    touch = Touch.record(lead_id=LEAD, touch=checked, now=NOW)

    [event] = touch.events
    assert event.touch == touch and event.touch.events == []
    assert (touch.lead_id, touch.version, touch.recorded_at) == (LEAD, 1, NOW)
    with pytest.raises(AttributeError):
        touch.note = "changed"  # type: ignore[misc]


def test_the_history_runs_by_touch_time_then_record_time() -> None:
    def touch(key: str, hours_ago: int, recorded_minutes_ago: int) -> Touch:
        checked = check_touch(
            Validator(), given(touch_key=key, touch_time=NOW - timedelta(hours=hours_ago)), now=NOW
        )
        assert checked is not None
        return Touch.record(lead_id=LEAD, touch=checked, now=NOW - timedelta(minutes=recorded_minutes_ago))

    history = TouchHistory.of([touch("late", 1, 5), touch("tie-second", 3, 1), touch("tie-first", 3, 9)])

    assert [t.touch_key for t in history.touches] == ["tie-first", "tie-second", "late"]
    assert history.first is not None and history.first.touch_key == "tie-first"
    assert history.last is not None and history.last.touch_key == "late"
    assert TouchHistory.of([]).first is None and TouchHistory.of([]).last is None


def test_a_merged_lead_takes_no_touches() -> None:
    ensure_lead_takes_touches(LEAD, "")
    with pytest.raises(FailedPrecondition) as error:
        ensure_lead_takes_touches(LEAD, CAMPAIGN)
    assert error.value.reason == "LEAD_MERGED"
