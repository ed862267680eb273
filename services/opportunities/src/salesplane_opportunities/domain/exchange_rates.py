"""Dated exchange rates to the base currency, and exact conversion of minor units with them.

Like Salesforce's dated exchange rates, a rate holds from its effective date until the next rate of
the same currency; a deal is valued with the rate in effect on its expected close date.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from salesplane_platform.errors import FailedPrecondition
from salesplane_platform.money import MAX_AMOUNT_MINOR, convert_minor

MAX_RATE_FRACTION_DIGITS = 12
MAX_RATE_INTEGER_DIGITS = 12
# A plain positive decimal: no sign, exponent, spaces or superfluous leading zeros, so that the
# text stored and shown is exactly the one the admin gave.
_RATE_TEXT = re.compile(
    rf"^(0|[1-9][0-9]{{0,{MAX_RATE_INTEGER_DIGITS - 1}}})(\.[0-9]{{1,{MAX_RATE_FRACTION_DIGITS}}})?$"
)


def parse_rate(text: str) -> Decimal | None:
    """The rate as an exact Decimal, or None unless `text` is a positive plain decimal with at most
    12 integer and 12 fractional digits."""
    if not _RATE_TEXT.match(text):
        return None
    value = Decimal(text)
    return value if value > 0 else None


@dataclass(frozen=True)
class AppliedRate:
    """The rate a deal was valued with, as the exact decimal text; `effective_from` is None for the
    base currency itself, whose rate is always 1."""

    rate: str
    effective_from: date | None


BASE_CURRENCY_RATE = AppliedRate("1", None)


@dataclass(frozen=True)
class ExchangeRate:
    """Base-currency units per unit of `currency`, from `effective_from` on."""

    currency: str
    base_currency: str
    rate: str
    effective_from: date
    set_at: datetime
    # Grows when the rate of the same currency and date is set again.
    version: int = 1
    events: list[ExchangeRateChanged] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def put_in_effect(
        cls,
        *,
        currency: str,
        base_currency: str,
        rate: str,
        effective_from: date,
        set_at: datetime,
        replacing: ExchangeRate | None,
    ) -> ExchangeRate:
        """A rate an admin sets: the next version of the one it replaces (same currency and date),
        or the first. It raises ExchangeRateChanged."""
        new = cls(
            currency=currency,
            base_currency=base_currency,
            rate=rate,
            effective_from=effective_from,
            set_at=set_at,
            version=replacing.version + 1 if replacing else 1,
        )
        new.events.append(ExchangeRateChanged(replace(new, events=[])))
        return new

    @property
    def applied(self) -> AppliedRate:
        return AppliedRate(self.rate, self.effective_from)


@dataclass(frozen=True)
class ExchangeRateChanged:
    """Domain event: consumers receive the rate as set."""

    rate: ExchangeRate


def rate_in_effect(rates: Iterable[ExchangeRate], on: date) -> ExchangeRate | None:
    """The rate with the latest effective date on or before `on` (rates of one currency)."""
    candidates = [r for r in rates if r.effective_from <= on]
    return max(candidates, key=lambda r: r.effective_from, default=None)


def dates_governed_by(rate: ExchangeRate, rates: Sequence[ExchangeRate]) -> tuple[date, date | None]:
    """The close dates `rate` values: from its effective date up to (excluding) the next rate of the
    same currency, or open-ended when there is none."""
    later = [r.effective_from for r in rates if r.effective_from > rate.effective_from]
    return rate.effective_from, min(later, default=None)


class RateSource(Protocol):
    def rate_on(self, currency: str, base_currency: str, on: date) -> AppliedRate | None:
        """The rate of `currency` to `base_currency` in effect on `on`, if any."""


class CurrencyConverter:
    """Values amounts in the base currency with the rate in effect on a date."""

    def __init__(self, base_currency: str, rates: RateSource) -> None:
        self.base_currency = base_currency
        self._rates = rates

    def rate_for(self, currency: str, on: date) -> AppliedRate:
        if currency == self.base_currency:
            return BASE_CURRENCY_RATE
        found = self._rates.rate_on(currency, self.base_currency, on)
        if found is None:
            raise FailedPrecondition(
                f"no exchange rate from {currency} to the base currency {self.base_currency} is in "
                f"effect on {on.isoformat()}; an admin sets one with SetExchangeRate",
                reason="EXCHANGE_RATE_MISSING",
            )
        return found


@dataclass(frozen=True)
class Valuation:
    """A deal's amounts in the base currency and the rate they were converted with."""

    base_currency: str
    rate: AppliedRate
    amount_base_minor: int
    best_case_base_minor: int
    worst_case_base_minor: int


def value_in_base(
    *, currency: str, amounts: tuple[int, int, int], rate: AppliedRate, base_currency: str
) -> Valuation | None:
    """Convert (amount, best case, worst case); None when a result exceeds the largest amount."""
    converted = [convert_minor(a, currency, rate.rate, base_currency) for a in amounts]
    if any(c > MAX_AMOUNT_MINOR for c in converted):
        return None
    return Valuation(base_currency, rate, *converted)
