"""How exact amounts become the figures people read: rounded once, half-up, here and nowhere else."""

from __future__ import annotations

from salesplane_platform.money import round_half_up_div


def weighted_minor(weighted_percent_minor: int) -> int:
    """A weighted amount kept exact as amount x percent (so sums lose nothing), in minor units."""
    return round_half_up_div(weighted_percent_minor, 100)


def basis_points(numerator_minor: int, denominator_minor: int | None) -> int:
    """numerator / denominator in basis points (10000 = 100 %), rounded half-up; 0 when the
    denominator is missing or not positive."""
    if denominator_minor is None or denominator_minor <= 0:
        return 0
    return round_half_up_div(numerator_minor * 10_000, denominator_minor)
