"""Formulas are exact arithmetic over measures; the fiscal calendar and the relative periods agree
with how forecasting names periods, around every year end."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesplane_reporting.domain.fiscal_calendar import FiscalCalendar, add_months
from salesplane_reporting.domain.formulas import MAX_LENGTH, FormulaError, parse_formula
from salesplane_reporting.domain.relative_dates import (
    RELATIVE_PERIODS,
    RelativeDate,
    parse_date_value,
    period_of,
    point_date,
    point_instant,
)

F = Fraction


def evaluate(text: str, **values: Fraction | int | None) -> Fraction | None:
    return parse_formula(text).evaluate({k: None if v is None else F(v) for k, v in values.items()})


# -- formulas ------------------------------------------------------------------------------------


def test_a_third_stays_an_exact_fraction() -> None:
    assert evaluate("won / deals", won=1, deals=3) == F(1, 3)


def test_exact_fractions_add_back_up_without_drift() -> None:
    assert evaluate("won / deals * deals", won=1, deals=3) == 1
    assert evaluate("a / 3 + a / 3 + a / 3", a=1) == 1
    assert evaluate("1 / 3") == F(1, 3)


def test_decimal_literals_are_their_exact_digits() -> None:
    assert evaluate("0.1 + 0.2") == F(3, 10)
    assert evaluate("amount * 0.1", amount=3) == F(3, 10)
    assert evaluate("1.005 * 1000") == 1005
    assert evaluate("2.5e-3") == F(1, 400)


def test_large_integer_literals_are_exact() -> None:
    assert evaluate("12345678901234567890123 + 1") == 12345678901234567890124


def test_division_by_zero_gives_an_empty_value() -> None:
    assert evaluate("won / (won + lost)", won=0, lost=0) is None
    assert evaluate("a / 0", a=5) is None
    assert evaluate("a / (b - b)", a=5, b=2) is None


def test_an_empty_operand_empties_the_whole_formula() -> None:
    assert evaluate("quota - won", quota=None, won=5) is None
    assert evaluate("-quota", quota=None) is None
    assert evaluate("won / quota", won=None, quota=0) is None
    assert evaluate("won * 0", won=None) is None


def test_a_name_without_a_value_is_empty() -> None:
    assert parse_formula("missing + 1").evaluate({}) is None


def test_unary_signs_and_precedence_follow_arithmetic() -> None:
    assert evaluate("-a + +b * 2", a=1, b=3) == 5
    assert evaluate("(a + b) * 2", a=1, b=3) == 8
    assert evaluate("a - b - c", a=10, b=3, c=2) == 5
    assert evaluate("a / b / c", a=12, b=3, c=2) == 2


def test_a_formula_knows_the_measures_it_references() -> None:
    assert parse_formula("won / (won + lost) * 100").references == frozenset({"won", "lost"})
    assert parse_formula("1 + 2").references == frozenset()


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "__import__('os').system('id')",
        "open('/etc/passwd')",
        "won.real",
        "won.__class__.__mro__",
        "won[0]",
        "won ** 2",
        "won // 2",
        "won % 2",
        "won == 1",
        "won and lost",
        "not won",
        "~won",
        "'a'",
        "b'a'",
        "True",
        "None",
        "1j",
        "lambda: 0",
        "(won, lost)",
        "{won}",
        "f'{won}'",
        "won if lost else 0",
        "(x := 1)",
        "won +",
        "",
    ],
)
def test_anything_but_arithmetic_is_refused_before_it_can_run(text: str) -> None:
    with pytest.raises(FormulaError):
        parse_formula(text)


def test_an_overlong_formula_is_refused() -> None:
    with pytest.raises(FormulaError, match="longer than"):
        parse_formula("1+" * (MAX_LENGTH // 2) + "1")


def test_an_infinite_literal_is_refused_as_a_formula_error() -> None:
    # 1e999 reads as float infinity, which has no exact fraction.
    with pytest.raises(FormulaError):
        parse_formula("won * 1e999")


# -- the fiscal calendar -------------------------------------------------------------------------

# (start month, day, quarter start, quarter id, year label)
CALENDAR_CASES = [
    (1, date(2026, 1, 1), date(2026, 1, 1), "2026-Q1", "FY2026"),
    (1, date(2026, 11, 15), date(2026, 10, 1), "2026-Q4", "FY2026"),
    (1, date(2026, 12, 31), date(2026, 10, 1), "2026-Q4", "FY2026"),
    (2, date(2026, 1, 31), date(2025, 11, 1), "2025-Q4", "FY2025"),
    (2, date(2026, 2, 1), date(2026, 2, 1), "2026-Q1", "FY2026"),
    (2, date(2026, 11, 1), date(2026, 11, 1), "2026-Q4", "FY2026"),
    (2, date(2026, 12, 31), date(2026, 11, 1), "2026-Q4", "FY2026"),
    (2, date(2027, 1, 1), date(2026, 11, 1), "2026-Q4", "FY2026"),
    (4, date(2026, 3, 31), date(2026, 1, 1), "2025-Q4", "FY2025"),
    (4, date(2026, 4, 1), date(2026, 4, 1), "2026-Q1", "FY2026"),
    (4, date(2026, 12, 31), date(2026, 10, 1), "2026-Q3", "FY2026"),
    (4, date(2027, 1, 1), date(2027, 1, 1), "2026-Q4", "FY2026"),
    (10, date(2026, 9, 30), date(2026, 7, 1), "2025-Q4", "FY2025"),
    (10, date(2026, 10, 1), date(2026, 10, 1), "2026-Q1", "FY2026"),
    (10, date(2026, 12, 31), date(2026, 10, 1), "2026-Q1", "FY2026"),
    (10, date(2027, 1, 1), date(2027, 1, 1), "2026-Q2", "FY2026"),
    (10, date(2024, 2, 29), date(2024, 1, 1), "2023-Q2", "FY2023"),
]


@pytest.mark.parametrize(("start", "day", "quarter_start", "quarter_id", "year_label"), CALENDAR_CASES)
def test_quarter_start_id_and_year_label_follow_the_fiscal_start_month(
    start: int, day: date, quarter_start: date, quarter_id: str, year_label: str
) -> None:
    calendar = FiscalCalendar(start)

    assert calendar.quarter_start(day) == quarter_start
    assert calendar.quarter_id(day) == quarter_id
    assert calendar.year_label(day) == year_label


@pytest.mark.parametrize(
    ("start", "quarter", "month"),
    [
        (1, (date(2026, 10, 1), date(2026, 12, 31)), (date(2026, 11, 1), date(2026, 11, 30))),
        (2, (date(2026, 11, 1), date(2027, 1, 31)), (date(2026, 11, 1), date(2026, 11, 30))),
        (4, (date(2027, 1, 1), date(2027, 3, 31)), (date(2026, 11, 1), date(2026, 11, 30))),
        (10, (date(2027, 7, 1), date(2027, 9, 30)), (date(2026, 11, 1), date(2026, 11, 30))),
    ],
)
def test_period_range_of_a_quarter_and_of_a_calendar_month(
    start: int, quarter: tuple[date, date], month: tuple[date, date]
) -> None:
    calendar = FiscalCalendar(start)

    assert calendar.period_range("2026-Q4") == quarter
    assert calendar.period_range("2026-11") == month


def test_period_range_of_february_knows_leap_years() -> None:
    assert FiscalCalendar(1).period_range("2024-02") == (date(2024, 2, 1), date(2024, 2, 29))
    assert FiscalCalendar(1).period_range("2026-02") == (date(2026, 2, 1), date(2026, 2, 28))


@pytest.mark.parametrize(
    "period_id", ["2026-Q5", "2026-Q0", "2026-13", "2026-00", "2026-1", "26-Q1", "FY2026", ""]
)
def test_a_malformed_period_id_has_no_range(period_id: str) -> None:
    assert FiscalCalendar(4).period_range(period_id) is None


def test_add_months_crosses_year_ends_both_ways() -> None:
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 1)
    assert add_months(date(2026, 1, 31), -1) == date(2025, 12, 1)
    assert add_months(date(2026, 5, 15), -17) == date(2024, 12, 1)


@settings(max_examples=300, deadline=None)
@given(
    start=st.sampled_from([1, 2, 4, 10]) | st.integers(1, 12),
    day=st.dates(min_value=date(1901, 1, 1), max_value=date(9000, 12, 31)),
)
def test_quarters_and_years_contain_the_day_and_tile_the_calendar(start: int, day: date) -> None:
    calendar = FiscalCalendar(start)
    first, last = calendar.quarter_range(day)
    year_first, year_last = calendar.year_range(day)

    assert first <= day <= last
    assert first.day == 1 and (first.month - start) % 3 == 0
    assert last + timedelta(days=1) == add_months(first, 3)
    assert year_first <= first and last <= year_last
    assert year_first == date(year_first.year, start, 1)
    assert calendar.period_range(calendar.quarter_id(day)) == (first, last)
    assert calendar.year_label(day) == f"FY{year_first.year}"
    assert calendar.quarter_id(day).startswith(str(year_first.year))


@settings(max_examples=300, deadline=None)
@given(start=st.integers(1, 12), day=st.dates(min_value=date(1901, 1, 1), max_value=date(9000, 12, 31)))
def test_quarter_ids_match_the_forecasting_service_naming(start: int, day: date) -> None:
    periods = pytest.importorskip("salesplane_forecasting.domain.periods")
    forecasting = periods.FiscalCalendar(start)

    assert FiscalCalendar(start).quarter_id(day) == forecasting.quarter_of(day)
    period = forecasting.period(forecasting.quarter_of(day))
    assert FiscalCalendar(start).period_range(period.period_id) == (period.start, period.end)
    month = forecasting.period(forecasting.month_of(day))
    assert FiscalCalendar(start).period_range(month.period_id) == (month.start, month.end)


# -- relative periods ----------------------------------------------------------------------------


def period(name: str, today: date, start: int = 1) -> tuple[date, date]:
    return period_of(RelativeDate(name), today, FiscalCalendar(start))


@pytest.mark.parametrize(
    ("name", "today", "start", "expected"),
    [
        ("this_fiscal_quarter", date(2026, 12, 31), 1, (date(2026, 10, 1), date(2026, 12, 31))),
        ("next_fiscal_quarter", date(2026, 12, 31), 1, (date(2027, 1, 1), date(2027, 3, 31))),
        ("last_fiscal_quarter", date(2027, 1, 1), 1, (date(2026, 10, 1), date(2026, 12, 31))),
        ("this_fiscal_year", date(2026, 12, 31), 1, (date(2026, 1, 1), date(2026, 12, 31))),
        ("next_fiscal_year", date(2026, 12, 31), 1, (date(2027, 1, 1), date(2027, 12, 31))),
        ("last_fiscal_year", date(2027, 1, 1), 1, (date(2026, 1, 1), date(2026, 12, 31))),
        ("this_fiscal_quarter", date(2027, 1, 31), 2, (date(2026, 11, 1), date(2027, 1, 31))),
        ("next_fiscal_quarter", date(2027, 1, 31), 2, (date(2027, 2, 1), date(2027, 4, 30))),
        ("last_fiscal_quarter", date(2027, 2, 1), 2, (date(2026, 11, 1), date(2027, 1, 31))),
        ("this_fiscal_year", date(2027, 1, 31), 2, (date(2026, 2, 1), date(2027, 1, 31))),
        ("next_fiscal_year", date(2027, 1, 31), 2, (date(2027, 2, 1), date(2028, 1, 31))),
        ("last_fiscal_year", date(2027, 2, 1), 2, (date(2026, 2, 1), date(2027, 1, 31))),
        ("this_fiscal_quarter", date(2026, 3, 31), 4, (date(2026, 1, 1), date(2026, 3, 31))),
        ("next_fiscal_quarter", date(2026, 3, 31), 4, (date(2026, 4, 1), date(2026, 6, 30))),
        ("last_fiscal_quarter", date(2026, 4, 1), 4, (date(2026, 1, 1), date(2026, 3, 31))),
        ("this_fiscal_year", date(2026, 3, 31), 4, (date(2025, 4, 1), date(2026, 3, 31))),
        ("next_fiscal_year", date(2026, 3, 31), 4, (date(2026, 4, 1), date(2027, 3, 31))),
        ("last_fiscal_year", date(2026, 1, 15), 4, (date(2024, 4, 1), date(2025, 3, 31))),
        ("this_fiscal_quarter", date(2026, 12, 31), 10, (date(2026, 10, 1), date(2026, 12, 31))),
        ("next_fiscal_quarter", date(2026, 12, 31), 10, (date(2027, 1, 1), date(2027, 3, 31))),
        ("last_fiscal_quarter", date(2026, 10, 1), 10, (date(2026, 7, 1), date(2026, 9, 30))),
        ("this_fiscal_year", date(2026, 9, 30), 10, (date(2025, 10, 1), date(2026, 9, 30))),
        ("next_fiscal_year", date(2027, 1, 1), 10, (date(2027, 10, 1), date(2028, 9, 30))),
        ("last_fiscal_year", date(2026, 10, 1), 10, (date(2025, 10, 1), date(2026, 9, 30))),
    ],
)
def test_fiscal_relative_periods_around_year_ends(
    name: str, today: date, start: int, expected: tuple[date, date]
) -> None:
    assert period(name, today, start) == expected


@pytest.mark.parametrize(
    ("name", "today", "expected"),
    [
        ("today", date(2026, 12, 31), (date(2026, 12, 31), date(2026, 12, 31))),
        ("yesterday", date(2027, 1, 1), (date(2026, 12, 31), date(2026, 12, 31))),
        ("yesterday", date(2024, 3, 1), (date(2024, 2, 29), date(2024, 2, 29))),
        ("last_30_days", date(2027, 1, 10), (date(2026, 12, 12), date(2027, 1, 10))),
        ("last_30_days", date(2026, 3, 1), (date(2026, 1, 31), date(2026, 3, 1))),
        ("last_1_days", date(2026, 3, 1), (date(2026, 3, 1), date(2026, 3, 1))),
        ("next_7_days", date(2026, 12, 28), (date(2026, 12, 28), date(2027, 1, 3))),
        # 2027-01-03 is a Sunday; 2026-12-28 the Monday of its week.
        ("this_week", date(2027, 1, 3), (date(2026, 12, 28), date(2027, 1, 3))),
        ("this_week", date(2026, 12, 28), (date(2026, 12, 28), date(2027, 1, 3))),
        ("this_week", date(2027, 1, 1), (date(2026, 12, 28), date(2027, 1, 3))),
        ("last_week", date(2027, 1, 4), (date(2026, 12, 28), date(2027, 1, 3))),
        ("this_month", date(2026, 12, 31), (date(2026, 12, 1), date(2026, 12, 31))),
        ("next_month", date(2026, 12, 31), (date(2027, 1, 1), date(2027, 1, 31))),
        ("last_month", date(2027, 1, 1), (date(2026, 12, 1), date(2026, 12, 31))),
        ("last_month", date(2024, 3, 31), (date(2024, 2, 1), date(2024, 2, 29))),
    ],
)
def test_calendar_relative_periods_around_year_ends(
    name: str, today: date, expected: tuple[date, date]
) -> None:
    assert period(name, today) == expected


@settings(max_examples=200, deadline=None)
@given(day=st.dates(min_value=date(1901, 1, 1), max_value=date(9000, 12, 31)))
def test_this_week_always_runs_monday_to_sunday_around_today(day: date) -> None:
    monday, sunday = period("this_week", day)

    assert monday.weekday() == 0 and sunday.weekday() == 6
    assert monday <= day <= sunday
    assert period("last_week", day) == (monday - timedelta(days=7), sunday - timedelta(days=7))


@settings(max_examples=200, deadline=None)
@given(start=st.integers(1, 12), day=st.dates(min_value=date(1901, 1, 1), max_value=date(9000, 12, 31)))
def test_last_this_and_next_fiscal_periods_are_adjacent(start: int, day: date) -> None:
    for unit in ("quarter", "year"):
        last = period(f"last_fiscal_{unit}", day, start)
        this = period(f"this_fiscal_{unit}", day, start)
        following = period(f"next_fiscal_{unit}", day, start)

        assert this[0] <= day <= this[1]
        assert last[1] + timedelta(days=1) == this[0]
        assert this[1] + timedelta(days=1) == following[0]


def test_every_named_relative_period_resolves() -> None:
    for name in RELATIVE_PERIODS:
        first, last = period(name, date(2026, 12, 31), 4)
        assert first <= last


def test_date_values_parse_as_days_instants_or_relative_periods() -> None:
    assert parse_date_value("2026-03-10") == date(2026, 3, 10)
    assert parse_date_value("2026-03-10T12:30:00Z") == datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
    assert parse_date_value("2026-03-10T12:30:00+02:00") == datetime(2026, 3, 10, 10, 30, tzinfo=UTC)
    assert parse_date_value("last_90_days") == RelativeDate("last_90_days")
    assert parse_date_value("this_fiscal_year") == RelativeDate("this_fiscal_year")
    assert parse_date_value("2026-03-10T12:30:00") is None
    assert parse_date_value("2026-02-30") is None
    assert parse_date_value("soon") is None
    assert parse_date_value("last_0_days") is None


def test_a_day_as_a_point_is_the_end_of_that_day_and_a_period_as_a_day_is_its_first() -> None:
    calendar = FiscalCalendar(4)
    today = date(2026, 4, 2)

    assert point_instant(date(2026, 3, 10), today, calendar) == datetime(2026, 3, 11, tzinfo=UTC)
    assert point_instant(RelativeDate("yesterday"), today, calendar) == datetime(2026, 4, 2, tzinfo=UTC)
    assert point_date(RelativeDate("this_fiscal_year"), today, calendar) == date(2026, 4, 1)
    instant = datetime(2026, 3, 10, 8, tzinfo=UTC)
    assert point_instant(instant, today, calendar) == instant
    assert point_date(instant, today, calendar) == date(2026, 3, 10)
