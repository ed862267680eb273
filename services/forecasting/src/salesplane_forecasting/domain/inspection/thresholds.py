"""The thresholds of the pipeline inspection, which an admin may change; every rule reads them here.

Shares and multiples are integer basis points: 10000 bp is 100 % (a share) or 1x (a multiple), so
"3x coverage" is 30000. Rules compare exactly (integers or Fractions), never through floats.
Unless a field says otherwise, a flag fires only when its measure is strictly beyond the threshold,
so a value exactly at the threshold is not flagged; counts and "at most" limits say so where they
differ.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from salesplane_platform.errors import Validator

BASIS_POINTS = 10_000
# Past ten times coverage a target is unreachable in any practical sense; larger values only hide typos.
MAX_COVERAGE_BP = 100 * BASIS_POINTS
# A commit or a past forecast may miss by more than 100 %; beyond 100x it is a data error.
MAX_EXCESS_BP = 100 * BASIS_POINTS
MAX_LOOKBACK_DAYS = 366
MAX_TRAILING_PERIODS = 12
MAX_PROBABILITY = 100


@dataclass(frozen=True)
class InspectionThresholds:
    # Rep / team: flag when P(reaching quota) is below this.
    low_p_quota_bp: int = 5_000
    # Rep / team: flag when coverage is below coverage needed x (1 - this); 1000 lets a pipeline
    # within 10 % of the need pass, since the need itself comes from a noisy trailing win rate.
    coverage_tolerance_bp: int = 1_000
    # Rep / team: flag when closed / quota is below the elapsed share of the period minus this.
    pacing_tolerance_bp: int = 1_000
    # Rep / team: flag when the commit exceeds the expected closed revenue by more than this share.
    commit_excess_bp: int = 1_000
    # Rep / team: flag when the commit is below the expected closed revenue by more than this share
    # (sandbagging: a rich pipeline committed low hides upside the company could plan on).
    commit_shortfall_bp: int = 2_000
    # Rep / team: flag when more than this share of the pipeline was pushed out of the period
    # within slipping_lookback_days.
    slipping_share_bp: int = 2_000
    # Rep / team: flag when the signed bias of past commits against actuals exceeds this, either way.
    bias_tolerance_bp: int = 2_000
    # Rep / team: bias is judged only with at least this many committed past periods.
    bias_min_periods: int = 2
    # Rep / team: past periods that give the win rate (and the bias).
    trailing_periods: int = 4
    # Rep / team: the coverage needed without a usable win-rate history (3x = a 33 % win rate).
    default_coverage_needed_bp: int = 30_000
    # Rep / team: the coverage needed never exceeds this, even for a trailing win rate of zero.
    max_coverage_needed_bp: int = 100_000
    # Deal: stalled when days in its stage exceed this percentile of won deals' days there.
    stalled_percentile: int = 75
    # Deal: the stalled rule applies to a stage only with at least this many won deals' stays in it.
    stalled_min_samples: int = 5
    # Deal: large when its amount exceeds this share of the rep's commit.
    large_deal_share_bp: int = 2_500
    # Deal: unlikely when it closes in the period at or below this probability (percent)...
    unlikely_max_probability: int = 20
    # ...or at or below this stage order (None: by probability only; orders are catalogue-specific).
    unlikely_max_stage_order: int | None = None
    # Deal: pushed when its close date moved later at least this many times (or out of the period).
    pushes_to_flag: int = 2
    # Deal: no change for at least this many days.
    no_change_days: int = 14
    # Deal: a stage regression or an amount or probability cut counts this many days back.
    backward_lookback_days: int = 28
    # Rep / team: "slipping" looks this many days back.
    slipping_lookback_days: int = 28
    # Rep / team: figures are compared with their values this many days back ("a week ago").
    movement_lookback_days: int = 7


DEFAULT_THRESHOLDS = InspectionThresholds()

# Each field's inclusive (low, high): what validate accepts (and an admin form may show).
RANGES: dict[str, tuple[int, int]] = {
    "low_p_quota_bp": (0, BASIS_POINTS),
    "coverage_tolerance_bp": (0, BASIS_POINTS - 1),
    "pacing_tolerance_bp": (0, BASIS_POINTS),
    "commit_excess_bp": (0, MAX_EXCESS_BP),
    "commit_shortfall_bp": (0, BASIS_POINTS),
    "slipping_share_bp": (0, BASIS_POINTS),
    "bias_tolerance_bp": (0, MAX_EXCESS_BP),
    "bias_min_periods": (1, MAX_TRAILING_PERIODS),
    "trailing_periods": (1, MAX_TRAILING_PERIODS),
    "default_coverage_needed_bp": (BASIS_POINTS, MAX_COVERAGE_BP),
    "max_coverage_needed_bp": (BASIS_POINTS, MAX_COVERAGE_BP),
    "stalled_percentile": (1, 100),
    "stalled_min_samples": (1, 10_000),
    "large_deal_share_bp": (1, MAX_EXCESS_BP),
    "unlikely_max_probability": (0, MAX_PROBABILITY),
    "unlikely_max_stage_order": (0, 1_000),
    "pushes_to_flag": (1, 100),
    "no_change_days": (1, MAX_LOOKBACK_DAYS),
    "backward_lookback_days": (1, MAX_LOOKBACK_DAYS),
    "slipping_lookback_days": (1, MAX_LOOKBACK_DAYS),
    "movement_lookback_days": (1, MAX_LOOKBACK_DAYS),
}
_OPTIONAL = {"unlikely_max_stage_order"}


def validate(thresholds: InspectionThresholds, *, prefix: str = "thresholds") -> None:
    """Raise InvalidArgument listing every out-of-range value at once (fields "thresholds.<name>")."""
    check = Validator()
    usable: dict[str, int] = {}
    for spec in fields(thresholds):
        value = getattr(thresholds, spec.name)
        if value is None and spec.name in _OPTIONAL:
            continue
        low, high = RANGES[spec.name]
        if check.require(
            _is_int(value) and low <= value <= high,
            f"{prefix}.{spec.name}",
            f"must be a whole number {low}..{high}" + (" or unset" if spec.name in _OPTIONAL else ""),
        ):
            usable[spec.name] = value
    _check_order(check, prefix, usable, "default_coverage_needed_bp", "max_coverage_needed_bp")
    _check_order(check, prefix, usable, "bias_min_periods", "trailing_periods")
    check.raise_if_invalid()


def _check_order(check: Validator, prefix: str, usable: dict[str, int], lower: str, upper: str) -> None:
    if lower in usable and upper in usable:
        check.require(
            usable[lower] <= usable[upper],
            f"{prefix}.{lower}",
            f"must be at most {upper} ({usable[upper]})",
        )


def _is_int(value: object) -> bool:
    # bool is an int to Python, but True is no threshold.
    return isinstance(value, int) and not isinstance(value, bool)
