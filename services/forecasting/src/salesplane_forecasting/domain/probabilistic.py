"""The probabilistic forecast: the distribution of a period's closed revenue.

Each open deal independently closes won with its probability (a Bernoulli trial) and then
contributes its amount; the total is the revenue already won plus the amounts of the winners.

Quantiles are the lower quantiles of that discrete distribution: P10 is the smallest total t with
P(total <= t) >= 0.10, and likewise P50 and P90. The chance of reaching quota is
P(total >= quota).

Two methods, both deterministic (no sampling anywhere):

* "exact": a dynamic programme over the reachable sums, with probabilities kept as exact integer
  weights, used while the number of distinct sums and the work stay small. Results are exact.
* "discretized": amounts are rounded to the nearest multiple of a grid width w (the open
  amounts' sum over about 2**18 cells; their common divisor instead when that is finer, which
  rounds nothing) and the distribution of the rounded sum is the product of the polynomials
  (1 - p + p * z**k), multiplied by divide and conquer (direct convolution when short, FFT when
  long). Each outcome's rounded total differs from its true total by at most
  E = max(sum of positive rounding errors, sum of |negative rounding errors|), so every quantile
  is within E of the true one, and P(total >= quota) lies between the true P(total >= quota + E)
  and P(total >= quota - E). E is reported as max_error_minor.

  Probabilities are float64 in this method, so a CDF within 1e-9 of a quantile level counts as
  reaching it: exact ties, common with whole-percent probabilities, then resolve as the
  definition says despite rounding. Strictly, the reported quantile is within E of the true
  quantile at some level in [q - 1e-9, q]; it differs from the above only if the true CDF lies
  within 1e-9 below a level without touching it.

Money is integer minor units throughout; floats only ever hold probabilities.
"""

from __future__ import annotations

import bisect
import heapq
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import SupportsIndex

import numpy as np
import numpy.typing as npt

from salesplane_forecasting.domain.amounts import weighted_minor
from salesplane_platform.errors import Validator

# The exact attempt gives up past this many distinct reachable sums...
MAX_EXACT_SUMS = 2**16
# ...or past this much work (dict entries visited, weighted by the size of the integer weights),
# which bounds the attempt to a fraction of the time budget even when sums stay few but deals many.
MAX_EXACT_WORK = 2**19
# Grid cells over the open amounts for the discretized method, chosen with
# bench/probabilistic_forecast.py (10,000 deals, one core of the 2-core dev machine): 2**16 takes
# ~0.1 s with a bound of 2.4% of P50, 2**18 ~0.15-0.25 s and 0.6%, 2**19 ~0.25-0.35 s and 0.3%.
# 2**18 keeps half the 0.5 s budget in reserve for a busy machine. The bound grows with the
# number of deals (each is rounded by up to half a cell) and halves with each doubling here.
GRID_CELLS = 2**18
# Direct convolution beats an FFT round trip (~20 us of overhead) for short or small products:
# measured equal at about 400 x 400 on this machine.
DIRECT_CONVOLUTION_MIN = 64
DIRECT_CONVOLUTION_WORK = 150_000
# Allowance for float64 rounding when comparing a CDF with a quantile level (discretized only);
# the CDF of an FFT product of 3,000 deals was measured within 1e-14 of a long-double DP.
LEVEL_TOLERANCE = 1e-9
QUANTILE_PERCENTS = (10, 50, 90)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class OpenDeal:
    amount_minor: int  # base-currency minor units, >= 0
    probability: int  # percent 0..100


@dataclass(frozen=True)
class Distribution:
    closed_won_minor: int  # already won, part of every outcome
    expected_minor: int  # won + sum(amount * p / 100), exact, rounded half-up once
    # Lower quantiles of the total closed revenue (see the module docstring).
    p10_minor: int
    p50_minor: int
    p90_minor: int
    probability_of_reaching_quota: float | None  # P(total >= quota); None without a quota
    method: str  # "exact" or "discretized"
    max_error_minor: int  # 0 when exact; else a bound on any quantile's distance from the true one
    open_deal_count: int


Quantiles = tuple[int, int, int]


def distribution(
    *, open_deals: Sequence[OpenDeal], closed_won_minor: int, quota_minor: int | None
) -> Distribution:
    """The distribution of total closed revenue: closed won plus whichever open deals win."""
    _validate(open_deals, closed_won_minor, quota_minor)
    certain = sum(d.amount_minor for d in open_deals if d.probability == 100)
    # Canonical order: the result must not depend on the order deals were listed in, and float
    # products (FFT path) depend on the order of multiplication.
    uncertain = sorted(
        (d.amount_minor, d.probability) for d in open_deals if 0 < d.probability < 100 and d.amount_minor > 0
    )
    weighted = sum(d.amount_minor * d.probability for d in open_deals)
    offset = closed_won_minor + certain
    exact = _exact(uncertain)
    if exact is not None:
        (p10, p50, p90), reach = _exact_figures(*exact, offset=offset, quota_minor=quota_minor)
        method, max_error = "exact", 0
    else:
        width, cells, max_error = _grid(uncertain)
        (p10, p50, p90), reach = _discretized_figures(width, cells, offset=offset, quota_minor=quota_minor)
        method = "discretized"
    return Distribution(
        closed_won_minor=closed_won_minor,
        expected_minor=closed_won_minor + weighted_minor(weighted),
        p10_minor=p10,
        p50_minor=p50,
        p90_minor=p90,
        probability_of_reaching_quota=reach,
        method=method,
        max_error_minor=max_error,
        open_deal_count=len(open_deals),
    )


def _validate(open_deals: Sequence[OpenDeal], closed_won_minor: int, quota_minor: int | None) -> None:
    check = Validator()
    check.require(_is_int(closed_won_minor) and closed_won_minor >= 0, "closed_won_minor", "must be >= 0")
    if quota_minor is not None:
        check.require(_is_int(quota_minor) and quota_minor >= 0, "quota_minor", "must be >= 0")
    for index, deal in enumerate(open_deals):
        check.require(
            _is_int(deal.amount_minor) and deal.amount_minor >= 0,
            f"open_deals[{index}].amount_minor",
            "must be an integer >= 0",
        )
        check.require(
            _is_int(deal.probability) and 0 <= deal.probability <= 100,
            f"open_deals[{index}].probability",
            "must be an integer percent in 0..100",
        )
    check.raise_if_invalid()


def _is_int(value: object) -> bool:
    # Money and percents must be whole numbers; a float would silently lose minor units.
    if isinstance(value, bool):
        return False
    # ints need no probing; the protocol check is slow (microseconds) and validation sees every deal.
    if isinstance(value, int):
        return True
    # Other integer types (numpy's) convert through __index__.
    if not isinstance(value, SupportsIndex):
        return False
    try:
        operator.index(value)
    except TypeError:  # an __index__ that returns no int
        return False
    return True


def _exact(uncertain: list[tuple[int, int]]) -> tuple[list[int], list[int], int] | None:
    """Sorted reachable sums with integer weights over a common denominator, or None if too costly.

    Integer weights keep ties at a quantile level exact (a float CDF of 0.1 - 1e-17 is not 0.1).
    """
    if not _exact_is_cheap(uncertain):
        return None
    dist: dict[int, int] = {0: 1}
    denominator = 1
    for amount, percent in uncertain:
        shared = math.gcd(percent, 100)
        lose, win = (100 - percent) // shared, percent // shared
        denominator *= 100 // shared
        step: dict[int, int] = {}
        for total, weight in dist.items():
            step[total] = step.get(total, 0) + weight * lose
            step[total + amount] = step.get(total + amount, 0) + weight * win
        dist = step
    sums = sorted(dist)
    return sums, [dist[s] for s in sums], denominator


def _exact_is_cheap(uncertain: list[tuple[int, int]]) -> bool:
    """Whether the reachable sums stay few and the integer DP's work small.

    Counted on sets of sums in numpy first: finding out in the DP itself would cost about as much
    as the whole discretized method when the answer is no.
    """
    total = sum(amount for amount, _ in uncertain)
    # Object arrays hold Python ints, for amounts whose sum int64 cannot.
    sums = np.zeros(1, dtype=np.int64 if total < 2**63 else object)
    bits = 0
    work = 0
    for amount, percent in uncertain:
        bits += (100 // math.gcd(percent, 100)).bit_length()
        # Big integer arithmetic costs grow with the weights' size.
        work += len(sums) * (1 + bits // 512)
        sums = np.concatenate((sums, sums + amount))
        # Two sorted runs: a stable sort merges them in linear time (np.union1d hashes, ~50x slower).
        sums.sort(kind="stable")
        sums = sums[np.concatenate(([True], sums[1:] != sums[:-1]))]
        if len(sums) > MAX_EXACT_SUMS or work > MAX_EXACT_WORK:
            return False
    return True


def _exact_figures(
    sums: list[int], weights: list[int], denominator: int, *, offset: int, quota_minor: int | None
) -> tuple[Quantiles, float | None]:
    p10, p50, p90 = (offset + _exact_quantile(sums, weights, denominator, q) for q in QUANTILE_PERCENTS)
    reach = None
    if quota_minor is not None:
        reaching = sum(w for s, w in zip(sums, weights, strict=True) if offset + s >= quota_minor)
        reach = float(Fraction(reaching, denominator))
    return (p10, p50, p90), reach


def _exact_quantile(sums: list[int], weights: list[int], denominator: int, percent: int) -> int:
    running = 0
    for total, weight in zip(sums, weights, strict=True):
        running += weight
        if running * 100 >= percent * denominator:
            return total
    return sums[-1]


def _discretized_figures(
    width: int, cells: list[tuple[int, int]], *, offset: int, quota_minor: int | None
) -> tuple[Quantiles, float | None]:
    pmf = _product([_leaf(k, percent / 100) for k, percent in cells if k > 0])
    cdf = np.cumsum(pmf)
    # Grid index to money in integers: index * width is exact, a float amount would not be.
    p10, p50, p90 = (
        offset + width * int(np.searchsorted(cdf, q / 100 - LEVEL_TOLERANCE, side="left"))
        for q in QUANTILE_PERCENTS
    )
    reach = None
    if quota_minor is not None:
        first = max(0, -((offset - quota_minor) // width))  # ceil: the first index reaching quota
        # Summing the tail, not 1 - CDF, keeps small chances accurate.
        reach = min(1.0, float(pmf[first:].sum()))
    return (p10, p50, p90), reach


def _grid(uncertain: list[tuple[int, int]]) -> tuple[int, list[tuple[int, int]], int]:
    """Grid width, (cells, percent) per deal, and the proven bound on any outcome's rounding error."""
    total = sum(amount for amount, _ in uncertain)
    divisor = 0
    for amount, _ in uncertain:
        divisor = math.gcd(divisor, amount)
    # When the amounts share a divisor fine enough, a grid on it rounds nothing: no error at all.
    width = divisor if total // divisor <= GRID_CELLS else -(-total // GRID_CELLS)
    cells: list[tuple[int, int]] = []
    up = down = 0
    for amount, percent in uncertain:
        k = (2 * amount + width) // (2 * width)  # nearest multiple, halves up
        error = k * width - amount
        if error > 0:
            up += error
        else:
            down -= error
        cells.append((k, percent))
    # A winner set's rounded total is off by the sum of its errors: within [-down, up].
    return width, cells, max(up, down)


def _leaf(cells: int, p: float) -> FloatArray:
    poly = np.zeros(cells + 1)
    poly[0] = 1 - p
    poly[cells] = p
    return poly


def _product(polys: list[FloatArray]) -> FloatArray:
    """The product of probability polynomials, always multiplying the two shortest next.

    Pairing the shortest keeps every level of the product tree about the same total length,
    so the cost is that of a few FFTs of the final size.
    """
    if not polys:
        return np.ones(1)
    # The counter breaks ties deterministically (arrays are not comparable).
    heap = [(len(poly), index, poly) for index, poly in enumerate(polys)]
    heapq.heapify(heap)
    counter = len(heap)
    while len(heap) > 1:
        _, _, a = heapq.heappop(heap)
        _, _, b = heapq.heappop(heap)
        product = _multiply(a, b)
        heapq.heappush(heap, (len(product), counter, product))
        counter += 1
    result = heap[0][2]
    # numpy types an array's sum() as Any, and so the quotient; a float64 array over a float is one.
    normalised: FloatArray = result / result.sum()
    return normalised


def _multiply(a: FloatArray, b: FloatArray) -> FloatArray:
    if min(len(a), len(b)) <= DIRECT_CONVOLUTION_MIN or len(a) * len(b) <= DIRECT_CONVOLUTION_WORK:
        return np.convolve(a, b)
    size = len(a) + len(b) - 1
    fft_size = _fast_length(size)
    product = np.fft.irfft(np.fft.rfft(a, fft_size) * np.fft.rfft(b, fft_size), fft_size)[:size]
    # FFT round-off leaves tiny negative probabilities; they are noise, not mass.
    np.maximum(product, 0.0, out=product)
    return product


def _smooth_lengths(limit: int) -> list[int]:
    lengths = [
        twos * threes * fives
        for fives in _powers(5, limit)
        for threes in _powers(3, limit // fives)
        for twos in _powers(2, limit // (fives * threes))
    ]
    return sorted(lengths)


def _powers(base: int, limit: int) -> list[int]:
    powers = [1]
    while powers[-1] * base <= limit:
        powers.append(powers[-1] * base)
    return powers


# Lengths 2**a * 3**b * 5**c are the ones pocketfft transforms fastest.
_FAST_LENGTHS = _smooth_lengths(2**26)


def _fast_length(size: int) -> int:
    index = bisect.bisect_left(_FAST_LENGTHS, size)
    return _FAST_LENGTHS[index] if index < len(_FAST_LENGTHS) else 1 << (size - 1).bit_length()
