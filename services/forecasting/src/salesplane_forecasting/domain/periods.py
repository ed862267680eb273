"""Forecast periods. Until the fiscal calendar is configurable, periods are calendar quarters."""

from __future__ import annotations

import re
from datetime import date

PERIOD_ID = re.compile(r"^(\d{4})-Q([1-4])$")


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def is_period_id(value: str) -> bool:
    return bool(PERIOD_ID.match(value))
