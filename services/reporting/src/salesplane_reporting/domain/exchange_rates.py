"""Campaign costs in the base currency: each cost entry converted with the exchange rate in effect
on the day it was incurred.

The opportunities service owns the rates and values deals with them; reporting receives the rates
as events and converts exactly the way that service does (services do not import each other):
amount x rate in the base currency's minor units, rounded half up, in integers."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from salesplane_platform.errors import FailedPrecondition
from salesplane_platform.money import CURRENCY_EXPONENTS, round_half_up_div


def convert_minor(amount_minor: int, currency: str, rate: str, base_currency: str) -> int:
    """amount x rate in the base currency's minor units, rounded half up; integers only, so exact.

    base_minor = amount_minor x rate x 10^(exponent(base) - exponent(currency))."""
    sign, digits, exponent = Decimal(rate).as_tuple()
    if sign or not isinstance(exponent, int):
        raise ValueError(f"not a positive finite rate: {rate!r}")
    coefficient = int("".join(map(str, digits)))
    shift = CURRENCY_EXPONENTS[base_currency] - CURRENCY_EXPONENTS[currency] + exponent
    numerator = amount_minor * coefficient
    if shift >= 0:
        scale: int = 10**shift
        return numerator * scale
    return round_half_up_div(numerator, 10**-shift)


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
