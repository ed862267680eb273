"""Flags on reps and teams, each with its reason, its numbers and the money at risk.

Money at risk, per flag (base-currency minor units, never negative):

* low P(quota): quota - expected closed revenue (what the distribution's mean falls short by).
* coverage short: still to close - pipeline / coverage needed, i.e. the part of the quota the
  pipeline does not bring in at the trailing win rate.
* pacing behind: quota x elapsed share - closed won, the distance to a straight-line pace.
* commit above pipeline: commit - expected closed revenue, the commit the pipeline does not back.
* commit below pipeline (sandbagging): expected closed revenue - commit, the upside the commit
  leaves out of the plan. Not revenue lost, but money the manager cannot plan on: it ranks with
  the others so that a rich pipeline committed low is as visible as a thin one committed high.
* slipping: the pipeline pushed out of the period within the lookback.
* forecast bias: how much a past commit missed its actual, on average (rep_figures.mean_miss_minor):
  that much of today's commit is in doubt, whichever way the rep errs.

A team is inspected as a rep is, from rep_figures.team_figures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from fractions import Fraction

from salesplane_forecasting.domain.inspection.rep_figures import (
    RepFigures,
    coverage,
    coverage_needed,
    elapsed_share,
    forecast_bias,
    gap_minor,
    half_up,
    mean_miss_minor,
    pacing,
    slipping_share,
    still_to_close_minor,
)
from salesplane_forecasting.domain.inspection.thresholds import BASIS_POINTS, InspectionThresholds
from salesplane_forecasting.domain.inspection.wording import basis_points_of, days, multiple, percent
from salesplane_platform.money import format_minor


class RepFlagKind(StrEnum):
    # Ties in money at risk list in this order.
    LOW_P_QUOTA = "low_p_quota"
    COVERAGE_SHORT = "coverage_short"
    PACING_BEHIND = "pacing_behind"
    COMMIT_ABOVE_PIPELINE = "commit_above_pipeline"
    COMMIT_BELOW_PIPELINE = "commit_below_pipeline"
    SLIPPING = "slipping"
    FORECAST_BIAS = "forecast_bias"


_KIND_ORDER = {kind: index for index, kind in enumerate(RepFlagKind)}


@dataclass(frozen=True)
class RepFlag:
    kind: RepFlagKind
    user_id: str
    reason: str
    # The figures behind the reason; the suffix names the unit (_minor, _bp, _count, ...).
    numbers: Mapping[str, int] = field(hash=False)
    money_at_risk_minor: int = 0


@dataclass(frozen=True)
class RepInspection:
    """A rep's (or a team's) standing in the period and its flags, most money at risk first."""

    figures: RepFigures
    still_to_close_minor: int | None
    coverage: Fraction | None
    coverage_needed: Fraction
    elapsed_share: Fraction
    pacing: Fraction | None
    gap_minor: int | None
    slipping_share: Fraction | None
    forecast_bias: Fraction | None
    flags: tuple[RepFlag, ...]


def inspect_rep(
    figures: RepFigures,
    *,
    period_start: datetime,
    period_end: datetime,
    now: datetime,
    thresholds: InspectionThresholds,
) -> RepInspection:
    """period_end is exclusive: the first instant after the period's last day."""
    measured = RepInspection(
        figures=figures,
        still_to_close_minor=still_to_close_minor(figures.quota_minor, figures.closed_won_minor),
        coverage=coverage(figures.pipeline_minor, figures.quota_minor, figures.closed_won_minor),
        coverage_needed=coverage_needed(figures.history, thresholds),
        elapsed_share=elapsed_share(period_start, period_end, now),
        pacing=pacing(figures.closed_won_minor, figures.quota_minor),
        gap_minor=gap_minor(figures.quota_minor, figures.live_forecast_minor),
        slipping_share=slipping_share(figures.pushed_out_minor, figures.pipeline_minor),
        forecast_bias=forecast_bias(figures.history, thresholds),
        flags=(),
    )
    rules: tuple[Callable[[RepInspection, InspectionThresholds], RepFlag | None], ...] = (
        _low_p_quota,
        _coverage_short,
        _pacing_behind,
        _commit_above_pipeline,
        _commit_below_pipeline,
        _slipping,
        _forecast_bias,
    )
    found = [flag for rule in rules if (flag := rule(measured, thresholds)) is not None]
    return replace(measured, flags=tuple(ranked_rep_flags(found)))


def rep_flags(
    figures: RepFigures,
    *,
    period_start: datetime,
    period_end: datetime,
    now: datetime,
    thresholds: InspectionThresholds,
) -> list[RepFlag]:
    """The flags of inspect_rep alone, most money at risk first."""
    inspected = inspect_rep(
        figures, period_start=period_start, period_end=period_end, now=now, thresholds=thresholds
    )
    return list(inspected.flags)


def ranked_rep_flags(flags: Iterable[RepFlag]) -> list[RepFlag]:
    """Most money at risk first; equal amounts by kind, then by user, so the order is stable."""
    return sorted(flags, key=lambda f: (-f.money_at_risk_minor, _KIND_ORDER[f.kind], f.user_id))


def _bp(value: int) -> Fraction:
    return Fraction(value, BASIS_POINTS)


def _money(amount_minor: int, figures: RepFigures) -> str:
    return f"{format_minor(amount_minor, figures.currency)} {figures.currency}"


def _low_p_quota(measured: RepInspection, thresholds: InspectionThresholds) -> RepFlag | None:
    figures = measured.figures
    if figures.p_quota is None or figures.quota_minor is None or figures.quota_minor <= 0:
        return None
    chance = Fraction(figures.p_quota)  # the float's exact value: the comparison rounds nothing
    if chance >= _bp(thresholds.low_p_quota_bp):
        return None
    return RepFlag(
        RepFlagKind.LOW_P_QUOTA,
        figures.user_id,
        f"{percent(chance)} chance of reaching the quota of {_money(figures.quota_minor, figures)} "
        f"(flagged below {percent(_bp(thresholds.low_p_quota_bp))}); "
        f"expected {_money(figures.expected_minor, figures)}",
        {
            "p_quota_bp": basis_points_of(chance),
            "threshold_bp": thresholds.low_p_quota_bp,
            "quota_minor": figures.quota_minor,
            "expected_minor": figures.expected_minor,
        },
        max(0, figures.quota_minor - figures.expected_minor),
    )


def _coverage_short(measured: RepInspection, thresholds: InspectionThresholds) -> RepFlag | None:
    figures, have, need = measured.figures, measured.coverage, measured.coverage_needed
    left = measured.still_to_close_minor
    if have is None or left is None:
        return None
    if have >= need * (1 - _bp(thresholds.coverage_tolerance_bp)):
        return None
    return RepFlag(
        RepFlagKind.COVERAGE_SHORT,
        figures.user_id,
        f"pipeline {_money(figures.pipeline_minor, figures)} covers {multiple(have)} of the "
        f"{_money(left, figures)} still to close; {multiple(need)} needed",
        {
            "coverage_bp": basis_points_of(have),
            "coverage_needed_bp": basis_points_of(need),
            "pipeline_minor": figures.pipeline_minor,
            "still_to_close_minor": left,
        },
        max(0, half_up(left - figures.pipeline_minor / need)),
    )


def _pacing_behind(measured: RepInspection, thresholds: InspectionThresholds) -> RepFlag | None:
    figures, pace, elapsed = measured.figures, measured.pacing, measured.elapsed_share
    if pace is None or figures.quota_minor is None:
        return None
    if pace >= elapsed - _bp(thresholds.pacing_tolerance_bp):
        return None
    return RepFlag(
        RepFlagKind.PACING_BEHIND,
        figures.user_id,
        f"closed {percent(pace)} of the quota with {percent(elapsed)} of the period gone",
        {
            "pacing_bp": basis_points_of(pace),
            "elapsed_bp": basis_points_of(elapsed),
            "tolerance_bp": thresholds.pacing_tolerance_bp,
            "closed_won_minor": figures.closed_won_minor,
            "quota_minor": figures.quota_minor,
        },
        max(0, half_up(figures.quota_minor * elapsed - figures.closed_won_minor)),
    )


def _commit_above_pipeline(measured: RepInspection, thresholds: InspectionThresholds) -> RepFlag | None:
    figures = measured.figures
    commit = figures.committed_minor
    if commit is None:
        return None
    if commit * BASIS_POINTS <= figures.expected_minor * (BASIS_POINTS + thresholds.commit_excess_bp):
        return None
    return RepFlag(
        RepFlagKind.COMMIT_ABOVE_PIPELINE,
        figures.user_id,
        f"commit {_money(commit, figures)} is above the {_money(figures.expected_minor, figures)} "
        "the closed and open deals are expected to bring",
        {
            "committed_minor": commit,
            "expected_minor": figures.expected_minor,
            "threshold_bp": thresholds.commit_excess_bp,
        },
        commit - figures.expected_minor,
    )


def _commit_below_pipeline(measured: RepInspection, thresholds: InspectionThresholds) -> RepFlag | None:
    figures = measured.figures
    commit = figures.committed_minor
    if commit is None:
        return None
    if commit * BASIS_POINTS >= figures.expected_minor * (BASIS_POINTS - thresholds.commit_shortfall_bp):
        return None
    return RepFlag(
        RepFlagKind.COMMIT_BELOW_PIPELINE,
        figures.user_id,
        f"commit {_money(commit, figures)} is below the {_money(figures.expected_minor, figures)} "
        "the closed and open deals are expected to bring",
        {
            "committed_minor": commit,
            "expected_minor": figures.expected_minor,
            "threshold_bp": thresholds.commit_shortfall_bp,
        },
        figures.expected_minor - commit,
    )


def _slipping(measured: RepInspection, thresholds: InspectionThresholds) -> RepFlag | None:
    figures, share = measured.figures, measured.slipping_share
    if share is None or share <= _bp(thresholds.slipping_share_bp):
        return None
    return RepFlag(
        RepFlagKind.SLIPPING,
        figures.user_id,
        f"{_money(figures.pushed_out_minor, figures)} ({percent(share)} of the pipeline) pushed out "
        f"of the period in the last {days(thresholds.slipping_lookback_days)}",
        {
            "pushed_out_minor": figures.pushed_out_minor,
            "slipping_bp": basis_points_of(share),
            "threshold_bp": thresholds.slipping_share_bp,
        },
        figures.pushed_out_minor,
    )


def _forecast_bias(measured: RepInspection, thresholds: InspectionThresholds) -> RepFlag | None:
    figures, bias = measured.figures, measured.forecast_bias
    if bias is None or abs(bias) <= _bp(thresholds.bias_tolerance_bp):
        return None
    direction = "over" if bias > 0 else "under"
    miss = mean_miss_minor(figures.history, thresholds)
    return RepFlag(
        RepFlagKind.FORECAST_BIAS,
        figures.user_id,
        f"past commits {direction}-forecast the actuals by {percent(abs(bias))}, "
        f"{_money(miss, figures)} a period on average",
        {
            "bias_bp": basis_points_of(bias),
            "threshold_bp": thresholds.bias_tolerance_bp,
            "mean_miss_minor": miss,
        },
        miss,
    )
