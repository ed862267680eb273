"""Money as integer minor units plus an ISO 4217 currency. Never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# Active ISO 4217 currencies (funds and precious metals excluded) and their minor-unit exponent.
_THREE_DECIMALS = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}
_FOUR_DECIMALS = {"CLF", "UYW"}
_NO_DECIMALS = {
    "BIF",
    "CLP",
    "DJF",
    "GNF",
    "ISK",
    "JPY",
    "KMF",
    "KRW",
    "PYG",
    "RWF",
    "UGX",
    "UYI",
    "VND",
    "VUV",
    "XAF",
    "XOF",
    "XPF",
}
_TWO_DECIMALS = set(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BMD",
        "BND",
        "BOB",
        "BOV",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHE",
        "CHF",
        "CHW",
        "CNY",
        "COP",
        "COU",
        "CRC",
        "CUP",
        "CVE",
        "CZK",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IRR",
        "JMD",
        "KES",
        "KGS",
        "KHR",
        "KPW",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MXV",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "USD",
        "USN",
        "UYU",
        "UZS",
        "VED",
        "VES",
        "WST",
        "XCD",
        "XCG",
        "YER",
        "ZAR",
        "ZMW",
        "ZWG",
    ]
)

CURRENCY_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(_TWO_DECIMALS, 2),
    **dict.fromkeys(_NO_DECIMALS, 0),
    **dict.fromkeys(_THREE_DECIMALS, 3),
    **dict.fromkeys(_FOUR_DECIMALS, 4),
}

# Large enough for any real deal, small enough that amount x 100 (percent) never leaves int64.
MAX_AMOUNT_MINOR = 10**16


def is_currency(code: str) -> bool:
    return code in CURRENCY_EXPONENTS


@dataclass(frozen=True, order=True)
class Money:
    currency: str
    amount_minor: int

    def __post_init__(self) -> None:
        if not is_currency(self.currency):
            raise ValueError(f"unknown ISO 4217 currency {self.currency!r}")
        if not isinstance(self.amount_minor, int) or isinstance(self.amount_minor, bool):
            raise TypeError("amount_minor must be an int")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.currency, self.amount_minor + other.amount_minor)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.currency, self.amount_minor - other.amount_minor)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")


def round_half_up_div(numerator: int, denominator: int) -> int:
    """Integer division rounding halves away from zero, as accountants expect."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    quotient, remainder = divmod(abs(numerator), denominator)
    if remainder * 2 >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def convert_minor(amount_minor: int, currency: str, rate: str, base_currency: str) -> int:
    """amount x rate in the base currency's minor units, rounded half up; integers only, so exact.
    The opportunities service values deals with it and reporting converts campaign costs with it,
    so that both round every amount alike.

    base_minor = amount_minor x rate x 10^(exponent(base) - exponent(currency))."""
    sign, digits, exponent = Decimal(rate).as_tuple()
    if sign or not isinstance(exponent, int):
        raise ValueError(f"not a positive finite rate: {rate!r}")
    coefficient = int("".join(map(str, digits)))
    shift = CURRENCY_EXPONENTS[base_currency] - CURRENCY_EXPONENTS[currency] + exponent
    numerator = amount_minor * coefficient
    if shift >= 0:
        # int ** int is typed Any (a negative exponent gives a float); shift >= 0 here.
        scale: int = 10**shift
        return numerator * scale
    return round_half_up_div(numerator, 10**-shift)


def format_minor(amount_minor: int, currency: str) -> str:
    """An amount for people to read: thousands separators and the currency's decimals, no symbol
    (12345678 USD is "123,456.78", 1234 JPY is "1,234", -5 USD is "-0.05")."""
    exponent = CURRENCY_EXPONENTS.get(currency)
    if exponent is None:
        raise ValueError(f"unknown ISO 4217 currency {currency!r}")
    sign = "-" if amount_minor < 0 else ""
    units, fraction = divmod(abs(amount_minor), 10**exponent)
    if exponent == 0:
        return f"{sign}{units:,}"
    return f"{sign}{units:,}.{fraction:0{exponent}d}"


@dataclass(frozen=True)
class MoneyInput:
    """An amount as a caller sent it, before it is known to be valid (checked into Money)."""

    currency: str
    amount_minor: int
