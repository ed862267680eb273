"""The fiscal calendar: quarters of a fiscal year starting in any month, calendar months within them."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesplane_forecasting.domain.periods import (
    FiscalCalendar,
    Period,
    PeriodKind,
    is_period_id,
    quarter_of,
)
from salesplane_platform.errors import InvalidArgument

FEBRUARY = FiscalCalendar(2)


def test_a_january_fiscal_year_is_the_calendar_year():
    assert FiscalCalendar().periods_of(date(2026, 11, 15)) == ("2026-Q4", "2026-11")
    assert FiscalCalendar().fiscal_year_of(date(2026, 1, 1)) == 2026


def test_the_module_level_quarter_of_still_gives_calendar_quarters():
    assert quarter_of(date(2026, 12, 31)) == "2026-Q4"
    assert quarter_of(date(2026, 4, 1)) == "2026-Q2"


def test_a_february_fiscal_year_puts_january_in_the_previous_years_fourth_quarter():
    assert FEBRUARY.fiscal_year_of(date(2026, 1, 31)) == 2025
    assert FEBRUARY.periods_of(date(2026, 1, 31)) == ("2025-Q4", "2026-01")
    assert FEBRUARY.periods_of(date(2026, 2, 1)) == ("2026-Q1", "2026-02")


def test_a_fiscal_quarter_can_span_two_calendar_years():
    assert FEBRUARY.period("2025-Q4") == Period(
        period_id="2025-Q4",
        kind=PeriodKind.QUARTER,
        fiscal_year=2025,
        quarter=4,
        start=date(2025, 11, 1),
        end=date(2026, 1, 31),
        parent_id=None,
    )


def test_a_month_is_a_calendar_month_whose_parent_is_its_fiscal_quarter():
    assert FEBRUARY.period("2026-01") == Period(
        period_id="2026-01",
        kind=PeriodKind.MONTH,
        fiscal_year=2025,
        quarter=4,
        start=date(2026, 1, 1),
        end=date(2026, 1, 31),
        parent_id="2025-Q4",
    )


def test_a_month_ends_on_its_last_day_including_leap_days():
    assert FiscalCalendar().period("2028-02").end == date(2028, 2, 29)
    assert FiscalCalendar().period("2026-02").end == date(2026, 2, 28)


def test_a_fiscal_year_lists_each_quarter_followed_by_its_three_months():
    periods = FiscalCalendar(10).year_periods(2026)
    assert [p.period_id for p in periods] == [
        "2026-Q1", "2026-10", "2026-11", "2026-12",
        "2026-Q2", "2027-01", "2027-02", "2027-03",
        "2026-Q3", "2027-04", "2027-05", "2027-06",
        "2026-Q4", "2027-07", "2027-08", "2027-09",
    ]  # fmt: skip
    assert all(p.fiscal_year == 2026 for p in periods)


@pytest.mark.parametrize("value", ["2026-Q1", "2026-Q4", "2026-01", "2026-12", "0001-Q1", "9999-12"])
def test_period_ids_are_fiscal_quarters_or_calendar_months(value):
    assert is_period_id(value)


@pytest.mark.parametrize(
    "value",
    ["2026-Q5", "2026-Q0", "26-Q1", "2026-13", "2026-00", "2026-1", "2026-q1", "0000-Q1", "0000-01",
     "2026-Q4\n", " 2026-Q4", "\uff12\uff10\uff12\uff16-Q4", "", "2026"],
)  # fmt: skip
def test_other_strings_are_not_period_ids(value):
    assert not is_period_id(value)
    with pytest.raises(InvalidArgument) as raised:
        FiscalCalendar().period(value)
    assert [v.field for v in raised.value.violations] == ["period_id"]


@pytest.mark.parametrize("start_month", [0, 13, -1, True])
def test_a_fiscal_year_starts_in_a_month_from_1_to_12(start_month):
    with pytest.raises(InvalidArgument) as raised:
        FiscalCalendar(start_month)
    assert [v.field for v in raised.value.violations] == ["fiscal_year_start_month"]


def test_the_calendar_year_supports_every_date_python_has():
    assert FiscalCalendar().periods_of(date.min) == ("0001-Q1", "0001-01")
    assert FiscalCalendar().periods_of(date.max) == ("9999-Q4", "9999-12")
    assert FiscalCalendar().period("9999-Q4").end == date.max
    assert len(FiscalCalendar().year_periods(9999)) == 16


def test_fiscal_years_reaching_past_the_year_9999_or_before_the_year_1_are_invalid_not_a_crash():
    with pytest.raises(InvalidArgument, match="date"):
        FEBRUARY.periods_of(date(1, 1, 31))
    with pytest.raises(InvalidArgument, match="date"):
        FEBRUARY.quarter_of(date(9999, 12, 31))
    for period_id in ("9999-Q4", "9999-Q1", "9999-12", "0001-01"):
        with pytest.raises(InvalidArgument, match="period_id"):
            FEBRUARY.period(period_id)
    for fiscal_year in (0, -5, 9999, 10000):
        with pytest.raises(InvalidArgument, match="fiscal_year"):
            FEBRUARY.year_periods(fiscal_year)
    assert FEBRUARY.period("9998-Q4").end == date(9999, 1, 31)
    assert FEBRUARY.period("0001-02").parent_id == "0001-Q1"


@st.composite
def calendars_and_days(draw: st.DrawFn) -> tuple[FiscalCalendar, date]:
    fiscal_calendar = FiscalCalendar(draw(st.integers(1, 12)))
    # Only the days whose fiscal year lies inside the supported range.
    first = date(1, fiscal_calendar.start_month, 1)
    if fiscal_calendar.start_month == 1:
        last = date.max
    else:
        last = date(fiscal_calendar.last_fiscal_year + 1, fiscal_calendar.start_month, 1) - timedelta(days=1)
    return fiscal_calendar, draw(st.dates(min_value=first, max_value=last))


@given(calendars_and_days())
def test_every_day_lies_in_its_quarter_and_its_month_and_the_month_lies_in_the_quarter(case):
    fiscal_calendar, day = case
    quarter_id, month_id = fiscal_calendar.periods_of(day)
    quarter = fiscal_calendar.period(quarter_id)
    month = fiscal_calendar.period(month_id)
    assert (quarter_id, month_id) == (fiscal_calendar.quarter_of(day), fiscal_calendar.month_of(day))
    assert is_period_id(quarter_id) and is_period_id(month_id)
    assert quarter.contains(day) and month.contains(day)
    assert quarter.kind is PeriodKind.QUARTER and month.kind is PeriodKind.MONTH
    assert month.parent_id == quarter_id
    assert quarter.start <= month.start and month.end <= quarter.end
    assert quarter.fiscal_year == month.fiscal_year == fiscal_calendar.fiscal_year_of(day)


@given(st.integers(1, 12), st.integers(1, 9998))
def test_a_fiscal_years_periods_tile_it_without_gaps_or_overlaps(start_month, fiscal_year):
    fiscal_calendar = FiscalCalendar(start_month)
    periods = fiscal_calendar.year_periods(fiscal_year)
    quarters = [p for p in periods if p.kind is PeriodKind.QUARTER]
    months = [p for p in periods if p.kind is PeriodKind.MONTH]
    assert len(quarters) == 4 and len(months) == 12
    assert quarters[0].start == date(fiscal_year, start_month, 1)
    for tiling in (quarters, months):
        for before, after in pairwise(tiling):
            assert after.start == before.end + timedelta(days=1)
        assert tiling[-1].end == quarters[-1].end
    assert [q.quarter for q in quarters] == [1, 2, 3, 4]
    for index, quarter in enumerate(quarters):
        own_months = periods[index * 4 + 1 : index * 4 + 4]
        assert [m.parent_id for m in own_months] == [quarter.period_id] * 3
        assert own_months[0].start == quarter.start and own_months[-1].end == quarter.end
    assert all(fiscal_calendar.period(p.period_id) == p for p in periods)
    if fiscal_year < fiscal_calendar.last_fiscal_year:
        assert fiscal_calendar.fiscal_year_of(quarters[-1].end + timedelta(days=1)) == fiscal_year + 1
