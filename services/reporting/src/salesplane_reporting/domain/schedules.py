"""When a scheduled report is delivered, and to whom: a cadence in the owner's own time zone.

Time-zone rules follow RFC 5545 (iCalendar) section 3.3.5, which is also what PEP 495's `fold=0`
gives with `zoneinfo`:

* the local wall time is kept across DST changes (an 08:00 report stays at 08:00 local time);
* a wall time that does not exist (the spring-forward gap) is read with the UTC offset from before
  the gap, so it runs shifted forward by the gap's length (02:30 in a 02:00 -> 03:00 gap runs at
  03:30);
* a wall time that exists twice (the autumn fall-back) runs once, at its first occurrence.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from salesplane_platform.errors import Validator

MAX_RECIPIENTS = 50
MAX_ADDRESS_LENGTH = 254
# Characters that would let one "address" become several, or a header of its own, once it is
# written into a To: header; a plain addr-spec does not need them.
_ADDRESS_SPECIALS = frozenset('<>()[]\\,;:"')


class Frequency(Enum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


@dataclass(frozen=True)
class Schedule:
    frequency: Frequency
    # Local wall time in `time_zone`; naive (a tzinfo here would contradict `time_zone`).
    time_of_day: time
    # IANA name, e.g. "Europe/Warsaw".
    time_zone: str
    # 0 = Monday .. 6 = Sunday; WEEKLY only.
    weekday: int | None
    # 1..31; MONTHLY only. A month shorter than it runs on its last day.
    day_of_month: int | None
    recipients: tuple[str, ...]
    # A paused schedule keeps its cadence; whether to deliver is the caller's decision.
    active: bool = True


def validate_schedule(schedule: Schedule, *, field: str = "schedule") -> None:
    """Raise InvalidArgument naming every bad field (`schedule.weekday`, `schedule.recipients[2]`)."""
    check = Validator()
    frequency_ok = check.require(
        isinstance(schedule.frequency, Frequency),
        f"{field}.frequency",
        "must be one of " + ", ".join(f.name for f in Frequency),
    )
    if not isinstance(schedule.time_of_day, time):
        check.fail(f"{field}.time_of_day", "must be a time of day")
    else:
        check.require(
            schedule.time_of_day.tzinfo is None,
            f"{field}.time_of_day",
            "must be a local wall time without a UTC offset (the schedule's time_zone gives it)",
        )
    zone_problem = _time_zone_problem(schedule.time_zone)
    if zone_problem:
        check.fail(f"{field}.time_zone", zone_problem)

    weekly = frequency_ok and schedule.frequency is Frequency.WEEKLY
    monthly = frequency_ok and schedule.frequency is Frequency.MONTHLY
    if weekly:
        check.require(
            _is_int_in(schedule.weekday, 0, 6),
            f"{field}.weekday",
            "a weekly schedule needs a weekday from 0 (Monday) to 6 (Sunday)",
        )
    else:
        check.require(schedule.weekday is None, f"{field}.weekday", "only a weekly schedule has a weekday")
    if monthly:
        check.require(
            _is_int_in(schedule.day_of_month, 1, 31),
            f"{field}.day_of_month",
            "a monthly schedule needs a day of the month from 1 to 31",
        )
    else:
        check.require(
            schedule.day_of_month is None,
            f"{field}.day_of_month",
            "only a monthly schedule has a day of the month",
        )

    _check_recipients(check, schedule.recipients, f"{field}.recipients")
    check.require(isinstance(schedule.active, bool), f"{field}.active", "must be true or false")
    check.raise_if_invalid()


def email_address_problem(address: object) -> str | None:
    """Why `address` is not a deliverable plain address (`name@example.com`), or None if it is.

    Deliberately simple, not RFC 5322: exactly one "@", a non-empty local part, a domain with a dot
    and no empty labels, no whitespace or control characters, none of `<>()[]\\,;:"` (no display
    names, quoting or address lists), at most 254 characters (RFC 5321's path limit). The mail
    server remains the judge of whether the mailbox exists.
    """
    if not isinstance(address, str):
        return "must be a string"
    if not address:
        return "must not be empty"
    if len(address) > MAX_ADDRESS_LENGTH:
        return f"must be at most {MAX_ADDRESS_LENGTH} characters"
    if any(c.isspace() or not c.isprintable() for c in address):
        return "must not contain spaces or control characters"
    if any(c in _ADDRESS_SPECIALS for c in address):
        return "must be a plain address like name@example.com, without a display name or brackets"
    if address.count("@") != 1:
        return "must contain exactly one @"
    local, domain = address.split("@")
    if not local:
        return "needs a name before the @"
    labels = domain.split(".")
    if len(labels) < 2 or not all(labels):
        return "needs a domain with a dot after the @, like example.com"
    return None


def next_run_after(schedule: Schedule, instant: datetime) -> datetime:
    """The first run strictly after `instant` (aware), as an aware UTC datetime.

    Raises InvalidArgument if the schedule is invalid and ValueError if `instant` is naive.
    """
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("instant must be an aware datetime")
    validate_schedule(schedule)
    zone = ZoneInfo(schedule.time_zone)
    # Two days back: a run whose wall time sits in a gap can be pushed past local midnight (a zone
    # that skipped a whole day, Pacific/Apia in 2011, pushes it by 24 h), so a run dated before
    # the instant's local date may still lie after the instant.
    start = instant.astimezone(zone).date() - timedelta(days=2)
    for run_date in _run_dates(schedule, start):
        run = _resolve(run_date, schedule.time_of_day, zone)
        if run > instant:
            return run
    raise AssertionError("unreachable: run dates are unbounded")  # pragma: no cover


def _resolve(run_date: date, wall_time: time, zone: ZoneInfo) -> datetime:
    # fold=0 is exactly the RFC 5545 reading: the earlier offset for an ambiguous time, the offset
    # from before the gap for a missing one (which lands it shifted forward by the gap).
    local = datetime.combine(run_date, wall_time.replace(fold=0), tzinfo=zone)
    return local.astimezone(UTC)


def _run_dates(schedule: Schedule, start: date) -> Iterator[date]:
    """The schedule's run dates from `start` on, ascending, without end."""
    if schedule.frequency is Frequency.DAILY:
        day = start
        while True:
            yield day
            day += timedelta(days=1)
    elif schedule.frequency is Frequency.WEEKLY:
        assert schedule.weekday is not None
        day = start + timedelta(days=(schedule.weekday - start.weekday()) % 7)
        while True:
            yield day
            day += timedelta(weeks=1)
    else:
        assert schedule.day_of_month is not None
        year, month = start.year, start.month
        while True:
            last = calendar.monthrange(year, month)[1]
            day = date(year, month, min(schedule.day_of_month, last))
            if day >= start:
                yield day
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _time_zone_problem(name: object) -> str | None:
    if not isinstance(name, str) or not name:
        return "must be an IANA time zone name like Europe/Warsaw"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError: names that are not even valid keys ("../etc/passwd", absolute paths);
        # OSError: names too long for a file name (ZoneInfo looks them up as files).
        return f"unknown time zone {name!r}; use an IANA name like Europe/Warsaw"
    return None


def _is_int_in(value: object, low: int, high: int) -> bool:
    # bool is an int subclass, but True is not a weekday.
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _check_recipients(check: Validator, recipients: object, field: str) -> None:
    if not isinstance(recipients, tuple):
        check.fail(field, "must be a tuple of e-mail addresses")
        return
    if not check.require(
        1 <= len(recipients) <= MAX_RECIPIENTS, field, f"must list 1 to {MAX_RECIPIENTS} addresses"
    ):
        return
    first_index: dict[str, int] = {}
    for index, address in enumerate(recipients):
        problem = email_address_problem(address)
        if problem:
            check.fail(f"{field}[{index}]", problem)
            continue
        # Domains are case-insensitive and in practice so are mailboxes: one person, one copy.
        key = str(address).lower()
        if key in first_index:
            check.fail(f"{field}[{index}]", f"repeats {field}[{first_index[key]}]")
        else:
            first_index[key] = index
