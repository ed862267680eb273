"""Forecast periods: fiscal quarters and calendar months of a configurable fiscal calendar.

A fiscal year starts on the 1st of a chosen month and is named by the calendar year it starts in:
with a February start, fiscal year 2025 runs 2025-02-01..2026-01-31 and its fourth quarter "2025-Q4"
is 2025-11-01..2026-01-31. Quarters are ids like "2026-Q4"; months are always calendar months like
"2026-11", whatever the fiscal calendar, and belong to the fiscal quarter they fall in.

Only fiscal years lying wholly inside calendar years 1..9999 exist (Python's date range): 1..9999
with a January start, 1..9998 otherwise. Days, ids and years outside them are InvalidArgument.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from salesplane_platform.errors import FieldViolation, InvalidArgument, Validator

QUARTER_ID = re.compile(r"([0-9]{4})-Q([1-4])")
MONTH_ID = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
PERIOD_ID = re.compile(f"{QUARTER_ID.pattern}|{MONTH_ID.pattern}")

MONTHS_PER_QUARTER = 3
QUARTERS_PER_YEAR = 4


class PeriodKind(StrEnum):
    QUARTER = "quarter"
    MONTH = "month"


@dataclass(frozen=True)
class Period:
    period_id: str
    kind: PeriodKind
    # The calendar year in which the fiscal year starts.
    fiscal_year: int
    # 1..4; for a month, the fiscal quarter it belongs to.
    quarter: int
    start: date
    # Inclusive: the last day of the period.
    end: date
    # A month's quarter id; None for a quarter.
    parent_id: str | None

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class FiscalCalendar:
    """Fiscal years starting on the 1st of start_month (1..12; 1 is the calendar year)."""

    start_month: int = 1

    def __post_init__(self) -> None:
        if (
            isinstance(self.start_month, bool)
            or not isinstance(self.start_month, int)
            or not 1 <= self.start_month <= 12
        ):
            raise InvalidArgument(FieldViolation("fiscal_year_start_month", "must be a month 1..12"))

    @property
    def last_fiscal_year(self) -> int:
        # A fiscal year starting after January ends in the next calendar year, and 10000 has no dates.
        return 9999 if self.start_month == 1 else 9998

    def fiscal_year_of(self, day: date) -> int:
        fiscal_year = day.year if day.month >= self.start_month else day.year - 1
        self._check_fiscal_year(fiscal_year, "date", f"{day.isoformat()} is in fiscal year {fiscal_year}")
        return fiscal_year

    def quarter_of(self, day: date) -> str:
        return self.periods_of(day)[0]

    def month_of(self, day: date) -> str:
        return self.periods_of(day)[1]

    def periods_of(self, day: date) -> tuple[str, str]:
        """The quarter and month ids a deal closing on day counts in."""
        fiscal_year = self.fiscal_year_of(day)
        return _quarter_id(fiscal_year, self._quarter_of_month(day.month)), _month_id(day.year, day.month)

    def period(self, period_id: str) -> Period:
        quarter_match = QUARTER_ID.fullmatch(period_id)
        if quarter_match:
            fiscal_year, quarter = int(quarter_match[1]), int(quarter_match[2])
            self._check_fiscal_year(fiscal_year, "period_id", f"{period_id} is in fiscal year {fiscal_year}")
            return self._quarter(fiscal_year, quarter)
        month_match = MONTH_ID.fullmatch(period_id)
        if month_match:
            year, month = int(month_match[1]), int(month_match[2])
            fiscal_year = year if month >= self.start_month else year - 1
            if year >= 1:
                self._check_fiscal_year(
                    fiscal_year, "period_id", f"{period_id} is in fiscal year {fiscal_year}"
                )
                return self._month(fiscal_year, year, month)
        raise InvalidArgument(
            FieldViolation(
                "period_id",
                f"must be a fiscal quarter like 2026-Q4 or a calendar month like 2026-11, got {period_id!r}",
            )
        )

    def year_periods(self, fiscal_year: int) -> list[Period]:
        """Q1, its three months, Q2, its three months, ... in date order."""
        self._check_fiscal_year(fiscal_year, "fiscal_year", f"fiscal year {fiscal_year}")
        periods: list[Period] = []
        for quarter in range(1, QUARTERS_PER_YEAR + 1):
            quarter_period = self._quarter(fiscal_year, quarter)
            periods.append(quarter_period)
            year, month = quarter_period.start.year, quarter_period.start.month
            for _ in range(MONTHS_PER_QUARTER):
                periods.append(self._month(fiscal_year, year, month))
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return periods

    def _quarter_of_month(self, month: int) -> int:
        return (month - self.start_month) % 12 // MONTHS_PER_QUARTER + 1

    def _quarter(self, fiscal_year: int, quarter: int) -> Period:
        first = self.start_month - 1 + (quarter - 1) * MONTHS_PER_QUARTER
        start_year, start_month = fiscal_year + first // 12, first % 12 + 1
        last = first + MONTHS_PER_QUARTER - 1
        end_year, end_month = fiscal_year + last // 12, last % 12 + 1
        return Period(
            period_id=_quarter_id(fiscal_year, quarter),
            kind=PeriodKind.QUARTER,
            fiscal_year=fiscal_year,
            quarter=quarter,
            start=date(start_year, start_month, 1),
            end=_last_day(end_year, end_month),
            parent_id=None,
        )

    def _month(self, fiscal_year: int, year: int, month: int) -> Period:
        quarter = self._quarter_of_month(month)
        return Period(
            period_id=_month_id(year, month),
            kind=PeriodKind.MONTH,
            fiscal_year=fiscal_year,
            quarter=quarter,
            start=date(year, month, 1),
            end=_last_day(year, month),
            parent_id=_quarter_id(fiscal_year, quarter),
        )

    def _check_fiscal_year(self, fiscal_year: int, field: str, what: str) -> None:
        if not 1 <= fiscal_year <= self.last_fiscal_year:
            raise InvalidArgument(
                FieldViolation(
                    field,
                    f"{what}; fiscal years starting in month {self.start_month} "
                    f"are supported from 1 to {self.last_fiscal_year}",
                )
            )


CALENDAR_YEAR = FiscalCalendar(1)


def quarter_of(day: date) -> str:
    """The calendar quarter of day (a fiscal year starting in January)."""
    return CALENDAR_YEAR.quarter_of(day)


PERIOD_ID_RULE = "must be a fiscal quarter like 2026-Q4 or a calendar month like 2026-11"


def check_period_id(check: Validator, field: str, value: str) -> bool:
    """Record a violation on field unless value is a period id; whether it is one."""
    return check.require(is_period_id(value), field, PERIOD_ID_RULE)


def is_period_id(value: str) -> bool:
    """Whether value is shaped like a quarter "2026-Q4" or a month "2026-11" (years 0001..9999)."""
    match = PERIOD_ID.fullmatch(value)
    return match is not None and int(match[1] or match[3]) >= 1


def _quarter_id(fiscal_year: int, quarter: int) -> str:
    return f"{fiscal_year:04d}-Q{quarter}"


def _month_id(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def _last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])
