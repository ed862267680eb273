"""Campaign costs in the base currency: each cost entry converted with the exchange rate in effect
on the day it was incurred.

The opportunities service owns the rates and values deals with them; reporting receives the rates
as events and converts with the platform's convert_minor, as that service does: amount x rate in
the base currency's minor units, rounded half up, in integers."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import date

from salesplane_platform.errors import FailedPrecondition
from salesplane_platform.money import convert_minor


class BaseCurrencyConverter:
    """Converts amounts to `base_currency` with the rate in effect on a day: the rate with the
    latest effective date on or before it."""

    def __init__(self, base_currency: str, rates: Iterable[tuple[str, date, str]]) -> None:
        self.base_currency = base_currency
        by_currency: dict[str, list[tuple[date, str]]] = {}
        for currency, effective_from, rate in rates:
            by_currency.setdefault(currency, []).append((effective_from, rate))
        self._days: dict[str, list[date]] = {}
        self._rates: dict[str, list[str]] = {}
        for currency, held in by_currency.items():
            held.sort()
            self._days[currency] = [day for day, _ in held]
            self._rates[currency] = [rate for _, rate in held]

    def to_base(self, amount_minor: int, currency: str, on: date) -> int:
        if currency == self.base_currency:
            return amount_minor
        days = self._days.get(currency, [])
        index = bisect.bisect_right(days, on) - 1
        if index < 0:
            raise FailedPrecondition(
                f"no exchange rate from {currency} to the base currency {self.base_currency} is in "
                f"effect on {on.isoformat()}; an admin sets one with SetExchangeRate",
                reason="EXCHANGE_RATE_MISSING",
            )
        return convert_minor(amount_minor, currency, self._rates[currency][index], self.base_currency)
