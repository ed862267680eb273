"""Checks for the money amounts and calendar dates callers send (budgets, costs, timelines)."""

from __future__ import annotations

from datetime import date

from salesplane_platform.errors import Validator
from salesplane_platform.money import MAX_AMOUNT_MINOR, Money, MoneyInput, is_currency

EARLIEST_DATE = date(1970, 1, 1)
LATEST_DATE = date(2199, 12, 31)


def check_money(check: Validator, field: str, value: MoneyInput, *, positive: bool = False) -> Money | None:
    """Validate currency and amount (non-negative, or positive; bounded); return the Money when valid."""
    valid_currency = check.require(
        is_currency(value.currency), f"{field}.currency_code", "must be an ISO 4217 currency code like EUR"
    )
    lowest = 1 if positive else 0
    valid_amount = check.require(
        lowest <= value.amount_minor <= MAX_AMOUNT_MINOR,
        f"{field}.amount_minor",
        f"must be between {lowest} and {MAX_AMOUNT_MINOR} minor units",
    )
    return Money(value.currency, value.amount_minor) if valid_currency and valid_amount else None


def check_date(check: Validator, field: str, value: date | None) -> bool:
    """`value` None means an impossible date (30 February); callers pass only dates that were given."""
    if value is None:
        return check.require(False, field, "must be a valid calendar date")
    return check.require(
        EARLIEST_DATE <= value <= LATEST_DATE, field, f"must be between {EARLIEST_DATE} and {LATEST_DATE}"
    )
