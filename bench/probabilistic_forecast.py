"""The probabilistic forecast: seconds to compute one distribution, and how tight its error bound is.

    python bench/probabilistic_forecast.py                        # 10,000 open deals, 5 repeats
    python bench/probabilistic_forecast.py --deals 2000 --repeat 9
    python bench/probabilistic_forecast.py --grid-cells 524288    # try another grid size

The pipeline is seeded and realistic: amounts lognormal around 5,000,000 minor units (sigma 1, so
from a few hundred thousand to tens of millions), probabilities taken from typical stage
percentages, some revenue already won, quota at the expected total. Each repeat times one call of
distribution() in this process (one core), validation included; the first call is a warm-up and
not counted. max_error is the proven bound on any quantile's distance from the true one.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np

from salesplane_forecasting.domain import probabilistic
from salesplane_forecasting.domain.probabilistic import Distribution, OpenDeal, distribution
from salesplane_testing import bench_results

STAGE_PERCENTS = [10, 20, 25, 40, 50, 60, 75, 80, 90]
# The time budget of one distribution that the domain module's GRID_CELLS was chosen for (10,000
# deals, one core); this benchmark measures no ceiling, so the figures stand beside the budget only.
BUDGET_SECONDS = 0.5


def pipeline(deals: int, seed: int) -> list[OpenDeal]:
    rng = np.random.default_rng(seed)
    amounts = np.rint(rng.lognormal(math.log(5_000_000), 1.0, deals)).astype(np.int64)
    percents = rng.choice(STAGE_PERCENTS, deals)
    return [OpenDeal(int(a), int(p)) for a, p in zip(amounts, percents, strict=True)]


def money(minor: int) -> str:
    return f"{minor / 100:,.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deals", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--grid-cells", type=int, default=probabilistic.GRID_CELLS)
    options = parser.parse_args()
    probabilistic.GRID_CELLS = options.grid_cells
    deals = pipeline(options.deals, options.seed)
    closed_won = 25_000_000_000
    quota = closed_won + sum(d.amount_minor * d.probability for d in deals) // 100

    def once() -> tuple[float, Distribution]:
        start = time.perf_counter()
        result = distribution(open_deals=deals, closed_won_minor=closed_won, quota_minor=quota)
        return time.perf_counter() - start, result

    once()
    timings = []
    for _ in range(options.repeat):
        seconds, result = once()
        timings.append(seconds)

    print(f"deals:          {result.open_deal_count:,}")
    print(f"method:         {result.method} (grid cells {options.grid_cells:,})")
    print(
        f"seconds:        best {min(timings):.3f}, median {statistics.median(timings):.3f} of {len(timings)}"
    )
    print(
        f"max error:      {money(result.max_error_minor)} "
        f"({100 * result.max_error_minor / result.p50_minor:.3f}% of P50)"
    )
    print(
        f"P10 / P50 / P90: {money(result.p10_minor)} / {money(result.p50_minor)} / {money(result.p90_minor)}"
    )
    print(f"expected:       {money(result.expected_minor)} (closed won {money(closed_won)})")
    print(f"P(>= quota):    {result.probability_of_reaching_quota:.4f} (quota {money(quota)})")
    bench_results.record(
        "probabilistic",
        [
            bench_results.Figure(
                name="distribution() median",
                value=statistics.median(timings),
                unit="s",
                target=bench_results.Target(at_most=BUDGET_SECONDS),
                lower_is_better=True,
            ),
            bench_results.Figure(
                name="max error, share of P50",
                value=100 * result.max_error_minor / result.p50_minor,
                unit="%",
                lower_is_better=True,
            ),
        ],
        notes=[
            f"{result.open_deal_count:,} deals, method {result.method}, grid cells {options.grid_cells:,}, "
            f"{len(timings)} timed calls"
        ],
    )


if __name__ == "__main__":
    main()
