"""Exchange rates: exact decimal parsing, conversion between minor units, dated selection."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from salesplane_opportunities.domain.exchange_rates import (
    AppliedRate,
    CurrencyConverter,
    ExchangeRate,
    dates_governed_by,
    parse_rate,
    rate_in_effect,
)
from salesplane_platform.errors import FailedPrecondition
from salesplane_platform.money import convert_minor

SET_AT = datetime(2026, 1, 1, tzinfo=UTC)


def rate(value: str, effective_from: date, currency: str = "EUR") -> ExchangeRate:
    return ExchangeRate(currency, "USD", value, effective_from, SET_AT)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", Decimal(1)),
        ("1.0850", Decimal("1.0850")),
        ("0.000000000001", Decimal("1e-12")),
        ("999999999999.999999999999", Decimal("999999999999.999999999999")),
        ("150.25", Decimal("150.25")),
    ],
)
def test_plain_positive_decimals_are_rates_and_stay_exact(text, expected):
    assert parse_rate(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0",
        "0.000",
        "-1.2",
        "+1.2",
        "1e3",
        "1E-3",
        "NaN",
        "Infinity",
        " 1.2",
        "1.2 ",
        "01.5",
        "1.",
        ".5",
        "1,5",
        "1.0000000000001",  # 13 fractional digits
        "1000000000000",  # 13 integer digits
        "\u0661\u0665",  # Arabic-Indic digits, which Decimal() would read as 15
    ],
)
def test_anything_else_is_not_a_rate(text):
    assert parse_rate(text) is None


@pytest.mark.parametrize(
    ("amount_minor", "currency", "rate_text", "base", "expected"),
    [
        # 1,250.00 EUR at 1.0850 = 1,356.25 USD
        (125_000, "EUR", "1.0850", "USD", 135_625),
        # JPY has no minor unit: 1,000 JPY at 0.0067 = 6.70 USD
        (1_000, "JPY", "0.0067", "USD", 670),
        # BHD has three: 1.500 BHD at 2.65 = 3.975 USD, half up to 3.98
        (1_500, "BHD", "2.65", "USD", 398),
        # into a base without decimals: 10.50 USD at 150.25 = 1,577.625 JPY, half up to 1,578
        (1_050, "USD", "150.25", "JPY", 1_578),
        # into a base with three: 10.00 EUR at 0.41 = 4.100 BHD
        (1_000, "EUR", "0.41", "BHD", 4_100),
        # below one half rounds down, exactly one half rounds up
        (1, "EUR", "0.499999999999", "USD", 0),
        (1, "EUR", "0.5", "USD", 1),
        (3, "EUR", "0.5", "USD", 2),
        (0, "EUR", "1.2345", "USD", 0),
    ],
)
def test_conversion_is_amount_times_rate_in_the_base_minor_unit_rounded_half_up(
    amount_minor, currency, rate_text, base, expected
):
    assert convert_minor(amount_minor, currency, rate_text, base) == expected


def test_conversion_of_huge_amounts_with_long_rates_stays_exact():
    # 9,999,999,999,999,999 x 1.000000000001 = 10,000,000,000,009,998.999999999999; floats say ...010,000.
    assert convert_minor(9_999_999_999_999_999, "EUR", "1.000000000001", "USD") == 10_000_000_000_009_999


def test_the_rate_in_effect_is_the_latest_from_on_or_before_the_date():
    rates = [rate("1.10", date(2026, 7, 1)), rate("1.05", date(2026, 1, 1)), rate("1.20", date(2027, 1, 1))]
    assert rate_in_effect(rates, date(2025, 12, 31)) is None
    assert rate_in_effect(rates, date(2026, 1, 1)).rate == "1.05"
    assert rate_in_effect(rates, date(2026, 6, 30)).rate == "1.05"
    assert rate_in_effect(rates, date(2026, 7, 1)).rate == "1.10"
    assert rate_in_effect(rates, date(2030, 1, 1)).rate == "1.20"


def test_a_rate_governs_the_dates_up_to_the_next_rate_of_its_currency():
    january, july = rate("1.05", date(2026, 1, 1)), rate("1.10", date(2026, 7, 1))
    april = rate("1.07", date(2026, 4, 1))
    assert dates_governed_by(april, [january, july]) == (date(2026, 4, 1), date(2026, 7, 1))
    assert dates_governed_by(july, [january, april]) == (date(2026, 7, 1), None)
    assert dates_governed_by(january, [january, july]) == (date(2026, 1, 1), date(2026, 7, 1))


class Rates:
    def __init__(self, *rates: ExchangeRate) -> None:
        self.rates = rates

    def rate_on(self, currency: str, base_currency: str, on: date) -> AppliedRate | None:
        found = rate_in_effect([r for r in self.rates if r.currency == currency], on)
        return None if found is None else found.applied


def test_the_converter_uses_rate_one_for_the_base_currency_and_refuses_missing_rates():
    converter = CurrencyConverter("USD", Rates(rate("1.05", date(2026, 1, 1))))
    assert converter.rate_for("USD", date(1970, 1, 1)) == AppliedRate("1", None)
    assert converter.rate_for("EUR", date(2026, 2, 1)) == AppliedRate("1.05", date(2026, 1, 1))
    with pytest.raises(FailedPrecondition) as raised:
        converter.rate_for("EUR", date(2025, 2, 1))
    assert "EUR" in raised.value.message and "SetExchangeRate" in raised.value.message
