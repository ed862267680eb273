"""period_start on SQLite, for dates and UTC timestamps, against a plain Python oracle over many
days: every grain, every fiscal start month."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Table,
    create_engine,
    insert,
    literal,
    select,
)
from sqlalchemy.pool import StaticPool

from salesplane_reporting.adapters.sql_dates import GRAINS, period_start
from salesplane_reporting.domain.fiscal_calendar import FiscalCalendar

START_MONTHS = range(1, 13)
DAYS = st.dates(min_value=date(1970, 1, 1), max_value=date(2199, 12, 31))

metadata = MetaData()
samples = Table(
    "samples",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("day", Date, nullable=False),
    Column("moment", DateTime(timezone=True), nullable=False),
)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://", poolclass=StaticPool)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def first_of_month(day: date) -> date:
    return day.replace(day=1)


def previous_month(first: date) -> date:
    return (first - timedelta(days=1)).replace(day=1)


def expected(day: date, grain: str, start_month: int) -> date:
    """The oracle: walked back month by month, not computed the way either dialect does it."""
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    first = first_of_month(day)
    if grain == "month":
        return first
    if grain == "fiscal_quarter":
        while (first.month - start_month) % 3:
            first = previous_month(first)
        return first
    while first.month != start_month:
        first = previous_month(first)
    return first


def every_period_start(column: Any) -> list[Any]:
    return [
        period_start(column, grain, start_month).label(f"{grain}_{start_month}")
        for grain in GRAINS
        for start_month in START_MONTHS
    ]


def check(row: Any, day: date) -> None:
    found = row._mapping
    wrong = {
        key: (found[key], expected(day, grain, start_month))
        for grain in GRAINS
        for start_month in START_MONTHS
        if found[(key := f"{grain}_{start_month}")] != expected(day, grain, start_month)
    }
    assert wrong == {}, f"{day}: {wrong}"


CLOCKS = st.times() | st.sampled_from([time(0), time(23, 59, 59, 999_999), time(23, 59, 59, 999_600)])
YEAR_ENDS_AND_LEAP_DAYS = [
    (date(2024, 2, 29), time(12)),
    (date(2025, 12, 29), time(0)),
    (date(2026, 1, 1), time(0)),
    (date(2026, 12, 31), time(23, 59, 59, 999_999)),
    # A Sunday: its last instant is still in the week that began on Monday 2026-12-28.
    (date(2027, 1, 3), time(23, 59, 59, 999_999)),
    (date(2027, 1, 4), time(0)),
    (date(2000, 2, 29), time(23, 59, 59, 999_500)),
    (date(2100, 3, 1), time(0, 0, 0, 1)),
]


def group_and_check(engine: Engine, samples_at: list[tuple[date, time]]) -> None:
    """Stores the days and UTC timestamps, groups both columns by every period in one query each,
    and compares every cell with the oracle."""
    with engine.begin() as connection:
        connection.execute(samples.delete())
        connection.execute(
            insert(samples),
            [
                {"id": n, "day": day, "moment": datetime.combine(day, clock, tzinfo=UTC)}
                for n, (day, clock) in enumerate(samples_at)
            ],
        )
        by_day = connection.execute(select(samples.c.id, *every_period_start(samples.c.day))).all()
        by_moment = connection.execute(select(samples.c.id, *every_period_start(samples.c.moment))).all()

    assert len(by_day) == len(by_moment) == len(samples_at)
    for row in [*by_day, *by_moment]:
        check(row, samples_at[row.id][0])


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.large_base_example])
@given(samples_at=st.lists(st.tuples(DAYS, CLOCKS), min_size=300, max_size=300))
def test_the_period_starts_of_300_random_dates_and_timestamps_match_the_oracle(
    engine: Engine, samples_at: list[tuple[date, time]]
) -> None:
    group_and_check(engine, samples_at)


def test_the_period_starts_around_year_ends_leap_days_and_midnights_match_the_oracle(engine: Engine) -> None:
    group_and_check(engine, YEAR_ENDS_AND_LEAP_DAYS)


def test_a_timestamp_in_the_last_millisecond_of_a_sunday_stays_in_its_week(engine: Engine) -> None:
    # SQLite rounds fractional seconds to milliseconds once a modifier does day arithmetic.
    sunday_night = literal(datetime(2001, 2, 25, 23, 59, 59, 999_999, tzinfo=UTC), DateTime(timezone=True))
    with engine.connect() as connection:
        week = connection.execute(select(period_start(sunday_night, "week", 1))).scalar_one()

    assert week == date(2001, 2, 19)


def test_a_bound_date_is_grouped_like_a_stored_one(engine: Engine) -> None:
    day = date(2027, 1, 3)
    with engine.connect() as connection:
        row = connection.execute(select(*every_period_start(literal(day, Date)))).one()

    check(row, day)


@pytest.mark.parametrize("start_month", [1, 2, 4, 10])
def test_fiscal_periods_agree_with_the_fiscal_calendar(engine: Engine, start_month: int) -> None:
    calendar = FiscalCalendar(start_month)
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(0, 800, 3)]
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                *(
                    column
                    for day in days
                    for column in (
                        period_start(literal(day, Date), "fiscal_quarter", start_month),
                        period_start(literal(day, Date), "fiscal_year", start_month),
                    )
                )
            )
        ).one()

    found = list(rows)
    assert found[0::2] == [calendar.quarter_start(d) for d in days]
    assert found[1::2] == [calendar.year_start(d) for d in days]


@pytest.mark.parametrize(
    ("grain", "start_month"), [("quarter", 1), ("fiscal_quarter", 0), ("fiscal_year", 13)]
)
def test_an_unknown_grain_or_start_month_is_refused(grain: str, start_month: int) -> None:
    with pytest.raises(ValueError, match="no period"):
        period_start(literal(date(2026, 1, 1), Date), grain, start_month)
