"""The fiscal calendar reports group and filter by, as forecasting defines it.

A fiscal year starts on the 1st of a configured month and is named by the calendar year it starts
in ("2025-Q4" with a February start is 2025-11-01..2026-01-31); months are calendar months
("2026-11"). Reporting receives the start month with the forecast settings events."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

QUARTER_ID = re.compile(r"([0-9]{4})-Q([1-4])")
MONTH_ID = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


def add_months(day: date, months: int) -> date:
    """The first of the month `months` after day's month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class FiscalCalendar:
    start_month: int = 1

    def quarter_start(self, day: date) -> date:
        offset = (day.month - self.start_month) % 3
        return add_months(date(day.year, day.month, 1), -offset)

    def year_start(self, day: date) -> date:
        year = day.year if day.month >= self.start_month else day.year - 1
        return date(year, self.start_month, 1)

    def quarter_range(self, day: date) -> tuple[date, date]:
        start = self.quarter_start(day)
        return start, add_months(start, 3) - timedelta(days=1)

    def year_range(self, day: date) -> tuple[date, date]:
        start = self.year_start(day)
        return start, add_months(start, 12) - timedelta(days=1)

    def quarter_id(self, day: date) -> str:
        start = self.quarter_start(day)
        fiscal_year = self.year_start(start).year
        quarter = ((start.month - self.start_month) % 12) // 3 + 1
        return f"{fiscal_year}-Q{quarter}"

    def year_label(self, day: date) -> str:
        return f"FY{self.year_start(day).year}"

    def period_range(self, period_id: str) -> tuple[date, date] | None:
        """The first and last day of a quarter ("2026-Q4") or month ("2026-11"); None if malformed."""
        quarter = QUARTER_ID.fullmatch(period_id)
        if quarter:
            start = add_months(date(int(quarter[1]), self.start_month, 1), 3 * (int(quarter[2]) - 1))
            return start, add_months(start, 3) - timedelta(days=1)
        month = MONTH_ID.fullmatch(period_id)
        if month:
            start = date(int(month[1]), int(month[2]), 1)
            return start, add_months(start, 1) - timedelta(days=1)
        return None
