from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesplane_platform.errors import InvalidArgument
from salesplane_reporting.domain.schedules import (
    Frequency,
    Schedule,
    email_address_problem,
    next_run_after,
    validate_schedule,
)

RECIPIENTS = ("ana@example.com",)


def daily(at: time, zone: str) -> Schedule:
    return Schedule(Frequency.DAILY, at, zone, None, None, RECIPIENTS)


def weekly(weekday: int, at: time, zone: str) -> Schedule:
    return Schedule(Frequency.WEEKLY, at, zone, weekday, None, RECIPIENTS)


def monthly(day: int, at: time, zone: str) -> Schedule:
    return Schedule(Frequency.MONTHLY, at, zone, None, day, RECIPIENTS)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def violated_fields(schedule: Schedule) -> list[str]:
    with pytest.raises(InvalidArgument) as raised:
        validate_schedule(schedule)
    return [v.field for v in raised.value.violations]


# --- next runs ------------------------------------------------------------------------------------


def test_daily_schedule_runs_later_the_same_day_when_its_time_is_still_ahead():
    schedule = daily(time(8, 0), "Europe/Warsaw")
    assert next_run_after(schedule, utc(2025, 1, 15, 6, 0)) == utc(2025, 1, 15, 7, 0)


def test_daily_schedule_runs_the_next_day_once_todays_time_has_passed():
    schedule = daily(time(8, 0), "Europe/Warsaw")
    assert next_run_after(schedule, utc(2025, 1, 15, 7, 30)) == utc(2025, 1, 16, 7, 0)


def test_an_instant_exactly_at_a_run_time_gets_the_following_run():
    schedule = daily(time(8, 0), "Europe/Warsaw")
    assert next_run_after(schedule, utc(2025, 1, 15, 7, 0)) == utc(2025, 1, 16, 7, 0)


def test_the_local_date_decides_the_day_not_the_utc_date():
    # 23:30 UTC on the 15th is already 00:30 on the 16th in Warsaw.
    schedule = daily(time(0, 15), "Europe/Warsaw")
    assert next_run_after(schedule, utc(2025, 1, 15, 23, 30)) == utc(2025, 1, 16, 23, 15)


def test_weekly_schedule_runs_on_its_next_weekday():
    schedule = weekly(0, time(9, 0), "America/New_York")  # Mondays 09:00
    # Wednesday 2025-01-15 -> Monday 2025-01-20, 09:00 EST = 14:00 UTC.
    assert next_run_after(schedule, utc(2025, 1, 15, 12, 0)) == utc(2025, 1, 20, 14, 0)


def test_weekly_schedule_runs_the_same_day_when_it_is_the_weekday_and_the_time_is_ahead():
    schedule = weekly(0, time(9, 0), "America/New_York")
    assert next_run_after(schedule, utc(2025, 1, 20, 13, 59)) == utc(2025, 1, 20, 14, 0)


def test_weekly_schedule_skips_a_week_once_its_run_has_passed():
    schedule = weekly(0, time(9, 0), "America/New_York")
    assert next_run_after(schedule, utc(2025, 1, 20, 14, 0)) == utc(2025, 1, 27, 14, 0)


def test_monthly_schedule_runs_on_its_day_of_the_month():
    schedule = monthly(15, time(6, 0), "UTC")
    assert next_run_after(schedule, utc(2025, 1, 3)) == utc(2025, 1, 15, 6, 0)
    assert next_run_after(schedule, utc(2025, 1, 15, 6, 0)) == utc(2025, 2, 15, 6, 0)


def test_monthly_schedule_moves_into_the_next_year_after_december():
    schedule = monthly(15, time(6, 0), "UTC")
    assert next_run_after(schedule, utc(2025, 12, 20)) == utc(2026, 1, 15, 6, 0)


@pytest.mark.parametrize(
    ("year", "last_day"), [(2025, 28), (2024, 29), (2100, 28)], ids=["non-leap", "leap", "century"]
)
def test_monthly_schedule_on_the_31st_runs_on_the_last_day_of_february(year, last_day):
    schedule = monthly(31, time(7, 0), "UTC")
    assert next_run_after(schedule, utc(year, 1, 31, 7, 0)) == utc(year, 2, last_day, 7, 0)
    assert next_run_after(schedule, utc(year, 2, last_day, 7, 0)) == utc(year, 3, 31, 7, 0)


def test_monthly_schedule_on_the_31st_runs_on_the_30th_in_a_30_day_month():
    schedule = monthly(31, time(7, 0), "UTC")
    assert next_run_after(schedule, utc(2025, 4, 1)) == utc(2025, 4, 30, 7, 0)


def test_an_instant_in_another_offset_is_read_as_the_same_moment_and_the_answer_is_utc():
    schedule = daily(time(8, 0), "Europe/Warsaw")
    tokyo_morning = datetime(2025, 1, 15, 15, 0, tzinfo=timezone(timedelta(hours=9)))  # 06:00 UTC
    run = next_run_after(schedule, tokyo_morning)
    assert run == utc(2025, 1, 15, 7, 0)
    assert run.utcoffset() == timedelta(0)


def test_a_naive_instant_is_refused():
    with pytest.raises(ValueError, match="aware"):
        next_run_after(daily(time(8, 0), "UTC"), datetime(2025, 1, 15, 6, 0))


def test_an_invalid_schedule_has_no_next_run():
    with pytest.raises(InvalidArgument):
        next_run_after(daily(time(8, 0), "Nowhere/Atlantis"), utc(2025, 1, 15))


# --- daylight saving time -------------------------------------------------------------------------


def test_warsaw_report_keeps_its_wall_time_across_spring_forward():
    schedule = daily(time(8, 0), "Europe/Warsaw")
    assert next_run_after(schedule, utc(2025, 3, 29, 0, 0)) == utc(2025, 3, 29, 7, 0)  # CET
    assert next_run_after(schedule, utc(2025, 3, 29, 7, 0)) == utc(2025, 3, 30, 6, 0)  # CEST


def test_warsaw_report_in_the_spring_gap_runs_shifted_forward_by_the_gap():
    # 2025-03-30 02:00 CET jumps to 03:00 CEST: 02:30 does not exist and runs at 03:30 CEST.
    schedule = daily(time(2, 30), "Europe/Warsaw")
    run = next_run_after(schedule, utc(2025, 3, 29, 12, 0))
    assert run == utc(2025, 3, 30, 1, 30)
    assert run.astimezone(ZoneInfo("Europe/Warsaw")).time() == time(3, 30)
    assert next_run_after(schedule, run) == utc(2025, 3, 31, 0, 30)  # 02:30 CEST again


def test_warsaw_report_in_the_autumn_overlap_runs_once_at_the_first_occurrence():
    # 2025-10-26 03:00 CEST falls back to 02:00 CET: 02:30 happens at 00:30 and 01:30 UTC.
    schedule = daily(time(2, 30), "Europe/Warsaw")
    first = next_run_after(schedule, utc(2025, 10, 25, 12, 0))
    assert first == utc(2025, 10, 26, 0, 30)
    assert next_run_after(schedule, first) == utc(2025, 10, 27, 1, 30)


def test_warsaw_report_keeps_its_wall_time_across_fall_back():
    schedule = daily(time(8, 0), "Europe/Warsaw")
    assert next_run_after(schedule, utc(2025, 10, 25, 12, 0)) == utc(2025, 10, 26, 7, 0)  # CET


def test_new_york_report_in_the_spring_gap_runs_shifted_forward_by_the_gap():
    # 2025-03-09 02:00 EST jumps to 03:00 EDT: 02:30 runs at 03:30 EDT = 07:30 UTC.
    schedule = daily(time(2, 30), "America/New_York")
    assert next_run_after(schedule, utc(2025, 3, 8, 12, 0)) == utc(2025, 3, 9, 7, 30)


def test_new_york_report_in_the_autumn_overlap_runs_once_at_the_first_occurrence():
    # 2025-11-02 02:00 EDT falls back to 01:00 EST: 01:30 happens at 05:30 and 06:30 UTC.
    schedule = daily(time(1, 30), "America/New_York")
    first = next_run_after(schedule, utc(2025, 11, 1, 12, 0))
    assert first == utc(2025, 11, 2, 5, 30)
    assert next_run_after(schedule, first) == utc(2025, 11, 3, 6, 30)


def test_new_york_weekly_report_keeps_its_wall_time_in_the_week_the_clocks_change():
    schedule = weekly(0, time(9, 0), "America/New_York")
    assert next_run_after(schedule, utc(2025, 3, 3, 14, 0)) == utc(2025, 3, 10, 13, 0)  # EDT


def test_a_zone_that_skipped_a_whole_day_runs_once_on_the_day_after():
    # Samoa skipped 2011-12-30 entirely (UTC-10 -> UTC+14): the runs of the 30th and the 31st
    # are one and the same instant, delivered once.
    samoa = ZoneInfo("Pacific/Apia")
    schedule = daily(time(10, 0), "Pacific/Apia")
    after_the_29th = next_run_after(schedule, utc(2011, 12, 29, 12, 0))
    assert after_the_29th.astimezone(samoa) == datetime(2011, 12, 29, 10, 0, tzinfo=samoa)
    skipped_day = next_run_after(schedule, after_the_29th)
    assert skipped_day.astimezone(samoa) == datetime(2011, 12, 31, 10, 0, tzinfo=samoa)
    assert next_run_after(schedule, skipped_day).astimezone(samoa) == datetime(
        2012, 1, 1, 10, 0, tzinfo=samoa
    )


# --- validation -----------------------------------------------------------------------------------


def test_a_valid_schedule_passes_validation():
    validate_schedule(weekly(4, time(17, 30), "Europe/Warsaw"))
    validate_schedule(monthly(31, time(6, 0), "America/New_York"))
    validate_schedule(daily(time(0, 0), "UTC"))


def test_a_weekly_schedule_without_a_weekday_names_schedule_weekday():
    assert violated_fields(weekly(None, time(9, 0), "UTC")) == ["schedule.weekday"]  # type: ignore[arg-type]


@pytest.mark.parametrize("weekday", [-1, 7, True])
def test_a_weekday_outside_monday_to_sunday_names_schedule_weekday(weekday):
    assert violated_fields(weekly(weekday, time(9, 0), "UTC")) == ["schedule.weekday"]


def test_a_daily_schedule_with_a_weekday_and_a_day_of_month_names_both():
    schedule = Schedule(Frequency.DAILY, time(9, 0), "UTC", 2, 10, RECIPIENTS)
    assert violated_fields(schedule) == ["schedule.weekday", "schedule.day_of_month"]


@pytest.mark.parametrize("day", [None, 0, 32])
def test_a_monthly_schedule_needs_a_day_from_1_to_31(day):
    assert violated_fields(monthly(day, time(9, 0), "UTC")) == ["schedule.day_of_month"]


@pytest.mark.parametrize(
    "zone",
    [
        "Nowhere/Atlantis",
        "",
        "../../etc/passwd",
        "/usr/share/zoneinfo/UTC",
        # Found by the malformed-request runs (tests/fuzz): OSError "File name too long", INTERNAL.
        pytest.param("9" * 5000, id="longer-than-a-file-name"),
    ],
)
def test_an_unknown_time_zone_names_schedule_time_zone(zone):
    assert violated_fields(daily(time(9, 0), zone)) == ["schedule.time_zone"]


def test_a_time_of_day_with_its_own_offset_names_schedule_time_of_day():
    assert violated_fields(daily(time(9, 0, tzinfo=UTC), "Europe/Warsaw")) == ["schedule.time_of_day"]


def test_a_bad_address_is_named_by_its_index_in_schedule_recipients():
    schedule = Schedule(
        Frequency.DAILY, time(9, 0), "UTC", None, None, ("a@example.com", "b@example.com", "not-an-address")
    )
    with pytest.raises(InvalidArgument) as raised:
        validate_schedule(schedule)
    assert [v.field for v in raised.value.violations] == ["schedule.recipients[2]"]
    assert "@" in raised.value.violations[0].description


def test_every_bad_field_is_reported_at_once():
    schedule = Schedule(
        Frequency.WEEKLY,
        time(9, 0),
        "Mars/Olympus_Mons",
        None,
        3,
        ("ok@example.com", "bad address@example.com", "ok@example.com", "x@y"),
    )
    assert violated_fields(schedule) == [
        "schedule.time_zone",
        "schedule.weekday",
        "schedule.day_of_month",
        "schedule.recipients[1]",
        "schedule.recipients[2]",
        "schedule.recipients[3]",
    ]


def test_a_repeated_recipient_is_reported_as_a_repeat_of_the_first():
    schedule = Schedule(
        Frequency.DAILY, time(9, 0), "UTC", None, None, ("Ana@Example.com", "ana@example.com")
    )
    with pytest.raises(InvalidArgument) as raised:
        validate_schedule(schedule)
    assert raised.value.violations[0].field == "schedule.recipients[1]"
    assert "schedule.recipients[0]" in raised.value.violations[0].description


@pytest.mark.parametrize("count", [0, 51])
def test_a_schedule_needs_1_to_50_recipients(count):
    recipients = tuple(f"user{i}@example.com" for i in range(count))
    schedule = Schedule(Frequency.DAILY, time(9, 0), "UTC", None, None, recipients)
    assert violated_fields(schedule) == ["schedule.recipients"]


def test_fifty_recipients_are_allowed():
    recipients = tuple(f"user{i}@example.com" for i in range(50))
    validate_schedule(Schedule(Frequency.DAILY, time(9, 0), "UTC", None, None, recipients))


def test_a_frequency_given_as_text_names_schedule_frequency():
    schedule = Schedule("DAILY", time(9, 0), "UTC", None, None, RECIPIENTS)  # type: ignore[arg-type]
    assert violated_fields(schedule) == ["schedule.frequency"]


def test_the_field_prefix_can_name_where_the_schedule_sits_in_a_request():
    with pytest.raises(InvalidArgument) as raised:
        validate_schedule(weekly(9, time(9, 0), "UTC"), field="report.schedule")
    assert [v.field for v in raised.value.violations] == ["report.schedule.weekday"]


@pytest.mark.parametrize(
    "address",
    ["ana@example.com", "ana.kowalska+reports@mail.example.co.uk", "a@b.io", "żółw@przykład.pl"],
)
def test_plain_addresses_are_accepted(address):
    assert email_address_problem(address) is None


@pytest.mark.parametrize(
    "address",
    [
        "",
        "ana",
        "ana@",
        "@example.com",
        "ana@example",
        "ana@@example.com",
        "ana@b@example.com",
        "ana smith@example.com",
        "ana@example.com\r\nBcc: eve@example.com",
        "Ana <ana@example.com>",
        "ana@example.com,eve@example.com",
        "ana@.example.com",
        "ana@example..com",
        "ana@example.com.",
        "a" * 243 + "@example.com",
    ],
)
def test_malformed_addresses_are_refused(address):
    assert email_address_problem(address) is not None


def test_an_address_of_254_characters_is_the_longest_accepted():
    address = "a" * 242 + "@example.com"
    assert len(address) == 254
    assert email_address_problem(address) is None


# --- properties -----------------------------------------------------------------------------------

ZONES = sorted(available_timezones())


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    frequency = draw(st.sampled_from(Frequency))
    return Schedule(
        frequency=frequency,
        time_of_day=draw(st.times()),
        time_zone=draw(st.sampled_from(ZONES)),
        weekday=draw(st.integers(0, 6)) if frequency is Frequency.WEEKLY else None,
        day_of_month=draw(st.integers(1, 31)) if frequency is Frequency.MONTHLY else None,
        recipients=RECIPIENTS,
    )


instants = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)


def is_run_date(schedule: Schedule, day: date) -> bool:
    if schedule.frequency is Frequency.DAILY:
        return True
    if schedule.frequency is Frequency.WEEKLY:
        return day.weekday() == schedule.weekday
    assert schedule.day_of_month is not None
    return day.day == min(schedule.day_of_month, calendar.monthrange(day.year, day.month)[1])


def wall_time_exists(day: date, at: time, zone: ZoneInfo) -> bool:
    local = datetime.combine(day, at, tzinfo=zone)
    return local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None)


@settings(max_examples=400)
@given(schedules(), instants)
def test_the_next_run_is_after_the_instant_on_a_run_date_at_the_wall_time_unless_in_a_gap(schedule, instant):
    run = next_run_after(schedule, instant)
    assert run > instant
    assert run.utcoffset() == timedelta(0)

    zone = ZoneInfo(schedule.time_zone)
    local = run.astimezone(zone)
    if local.time() == schedule.time_of_day:
        assert is_run_date(schedule, local.date())
        # The first occurrence of an ambiguous time, never the repeat.
        assert local.replace(fold=0).astimezone(UTC) == run
    else:
        # Only a wall time that does not exist moves, and only forward past the gap (which can
        # cross local midnight, so the scheduled day may be the day before).
        scheduled_days = [
            d for d in (local.date(), local.date() - timedelta(days=1)) if is_run_date(schedule, d)
        ]
        assert any(not wall_time_exists(d, schedule.time_of_day, zone) for d in scheduled_days)


@settings(max_examples=200)
@given(schedules(), instants, st.data())
def test_no_run_is_skipped_between_the_instant_and_the_next_run(schedule, instant, data):
    run = next_run_after(schedule, instant)
    span_us = (run - instant) // timedelta(microseconds=1)
    between = instant + timedelta(microseconds=data.draw(st.integers(0, span_us - 1)))
    assert next_run_after(schedule, between) == run


@settings(max_examples=200)
@given(schedules(), instants)
def test_consecutive_runs_are_at_most_one_period_and_a_day_apart(schedule, instant):
    first = next_run_after(schedule, instant)
    second = next_run_after(schedule, first)
    longest = {Frequency.DAILY: 1, Frequency.WEEKLY: 7, Frequency.MONTHLY: 31}[schedule.frequency]
    # The extra day covers offset changes (Samoa moved by a whole day).
    assert timedelta(0) < second - first <= timedelta(days=longest + 1, hours=1)
