"""How the inspection's exact ratios read in a flag's reason (rounded for people, never for rules)."""

from __future__ import annotations

from fractions import Fraction

from salesplane_platform.money import round_half_up_div

SECONDS_PER_DAY = 86_400


def percent(ratio: Fraction) -> str:
    """0.4567 -> "45.7 %", 0.5 -> "50 %" (one decimal, half away from zero)."""
    return _tenths(ratio * 100) + " %"


def multiple(ratio: Fraction) -> str:
    """2.45 -> "2.5x", 3 -> "3x"."""
    return _tenths(ratio) + "x"


def basis_points_of(ratio: Fraction) -> int:
    """A ratio in basis points (10000 = 100 % or 1x), half away from zero: the numbers of a flag."""
    return round_half_up_div(ratio.numerator * 10_000, ratio.denominator)


def whole_days(seconds: int) -> int:
    return seconds // SECONDS_PER_DAY


def _tenths(value: Fraction) -> str:
    tenths = round_half_up_div(value.numerator * 10, value.denominator)
    sign = "-" if tenths < 0 else ""
    whole, tenth = divmod(abs(tenths), 10)
    return f"{sign}{whole}" if tenth == 0 else f"{sign}{whole}.{tenth}"


def days(count: int) -> str:
    """1 -> "1 day", 3 -> "3 days"."""
    return f"{count} day" if count == 1 else f"{count} days"
