"""How long won deals stayed in each stage: the yardstick of the stalled rule.

The percentile is the nearest-rank one: the p-th percentile of n samples is the smallest sample
such that at least p % of the samples are at or below it, i.e. the ceil(p x n / 100)-th smallest.
Chosen over linear interpolation because it is always a stay some won deal really had, is exact in
integers, and with few samples it does not invent a value between two of them. "Above the 75th
percentile" therefore means longer than at least three quarters of the won deals stayed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from salesplane_forecasting.domain.inspection.deal_history import StageStay


def nearest_rank(samples: Sequence[int], percentile: int) -> int:
    """The nearest-rank percentile (1..100) of a non-empty sequence of samples."""
    if not samples:
        raise ValueError("a percentile needs at least one sample")
    if not 1 <= percentile <= 100:
        raise ValueError(f"percentile must be 1..100, got {percentile}")
    rank = -(-percentile * len(samples) // 100)  # ceil
    return sorted(samples)[rank - 1]


def stage_percentiles(
    durations: Mapping[str, Sequence[int]], *, percentile: int, min_samples: int
) -> dict[str, int]:
    """{stage: seconds}: the percentile of the won deals' stays per stage, for the stages with at
    least min_samples stays (the others are left out: the stalled rule does not apply to them)."""
    return {
        stage: nearest_rank(samples, percentile)
        for stage, samples in durations.items()
        if len(samples) >= max(1, min_samples)
    }


def durations_by_stage(stays: Iterable[StageStay]) -> dict[str, list[int]]:
    """Stays grouped by stage, as stage_percentiles takes them."""
    grouped: dict[str, list[int]] = {}
    for stay in stays:
        grouped.setdefault(stay.sales_stage, []).append(stay.seconds)
    return grouped
