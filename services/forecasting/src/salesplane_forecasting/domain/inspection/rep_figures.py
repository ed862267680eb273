"""Where a rep or a team stands in a period, and the measures the rep / team flags judge.

Definitions (amounts in base-currency minor units, ratios exact as Fractions):

* still to close = quota - closed won (None without a quota; nothing is left once it is <= 0).
* coverage = open pipeline closing in the period / still to close (None when nothing is left).
* trailing win rate = won / (won + lost) AMOUNTS over the last `trailing_periods` past periods;
  amounts, not counts, because coverage is measured in money too.
* coverage needed = 1 / trailing win rate, capped at max_coverage_needed; without history (no
  closed amount in the window) the default (3x).
* elapsed share = (now - period start) / (period end - period start), clamped to 0..1; the end
  is exclusive (the instant after the last day).
* pacing = closed won / quota (None without a positive quota), judged against the elapsed share.
* gap = quota - live forecast (closed won plus the included pipeline): positive means short.
* forecast bias = (sum of past commits - sum of their actuals) / sum of actuals over the committed
  periods of the window: signed (positive over-forecasts, negative sandbags), weighted by
  the periods' size, and defined when one period closed nothing (a mean of per-period ratios is not).
* slipping share = pushed out / (open pipeline + pushed out): the share of the pipeline the period
  would have had if nothing had slipped; it needs no state of the pipeline weeks ago.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from salesplane_forecasting.domain.inspection.thresholds import BASIS_POINTS, InspectionThresholds
from salesplane_forecasting.domain.inspection.wording import basis_points_of
from salesplane_platform.money import round_half_up_div


@dataclass(frozen=True)
class PastPeriod:
    period_id: str
    won_minor: int
    lost_minor: int
    # The commit compared with the actual (won_minor); None: nothing was committed. Which commit is
    # the caller's choice; the one in force when the period began keeps late corrections out.
    committed_minor: int | None = None


@dataclass(frozen=True)
class RepFigures:
    user_id: str
    currency: str
    quota_minor: int | None
    closed_won_minor: int
    # The likely figure of the latest commit; None: nothing committed for the period yet.
    committed_minor: int | None
    # Closed won plus the included (commit-stage) likely pipeline, live from the rollups.
    live_forecast_minor: int
    # Open pipeline closing in the period.
    pipeline_minor: int
    # From the probabilistic forecast: its expected closed revenue and P(total >= quota).
    expected_minor: int
    p_quota: float | None
    # Open pipeline pushed out of the period within the slipping lookback (deal_flags.slipped_minor).
    pushed_out_minor: int = 0
    # Past periods, oldest first.
    history: tuple[PastPeriod, ...] = ()


@dataclass(frozen=True)
class Movement:
    """current - earlier for each figure; None where either side has no value."""

    quota_minor: int | None
    closed_won_minor: int
    committed_minor: int | None
    live_forecast_minor: int
    pipeline_minor: int
    expected_minor: int
    p_quota_bp: int | None


def still_to_close_minor(quota_minor: int | None, closed_won_minor: int) -> int | None:
    return None if quota_minor is None else quota_minor - closed_won_minor


def coverage(pipeline_minor: int, quota_minor: int | None, closed_won_minor: int) -> Fraction | None:
    left = still_to_close_minor(quota_minor, closed_won_minor)
    if left is None or left <= 0:
        return None
    return Fraction(pipeline_minor, left)


def trailing_win_rate(history: Sequence[PastPeriod], periods: int) -> Fraction | None:
    """Won / (won + lost) over the last periods; None when they closed nothing."""
    window = history[-periods:] if periods > 0 else ()
    won = sum(p.won_minor for p in window)
    closed = won + sum(p.lost_minor for p in window)
    return Fraction(won, closed) if closed > 0 else None


def coverage_needed(history: Sequence[PastPeriod], thresholds: InspectionThresholds) -> Fraction:
    cap = Fraction(thresholds.max_coverage_needed_bp, BASIS_POINTS)
    rate = trailing_win_rate(history, thresholds.trailing_periods)
    if rate is None:
        return min(Fraction(thresholds.default_coverage_needed_bp, BASIS_POINTS), cap)
    if rate == 0:
        return cap
    return min(1 / rate, cap)


def elapsed_share(start: datetime, end: datetime, now: datetime) -> Fraction:
    """How much of [start, end) has passed at now, 0..1, exact to the microsecond."""
    length = _microseconds(end - start)
    if length <= 0:
        return Fraction(1)
    passed = min(max(_microseconds(now - start), 0), length)
    return Fraction(passed, length)


def pacing(closed_won_minor: int, quota_minor: int | None) -> Fraction | None:
    if quota_minor is None or quota_minor <= 0:
        return None
    return Fraction(closed_won_minor, quota_minor)


def gap_minor(quota_minor: int | None, live_forecast_minor: int) -> int | None:
    return None if quota_minor is None else quota_minor - live_forecast_minor


def forecast_bias(history: Sequence[PastPeriod], thresholds: InspectionThresholds) -> Fraction | None:
    """Signed bias of the committed past periods in the window; None with too few or no actuals."""
    committed = _committed_periods(history, thresholds)
    actual = sum(p.won_minor for p in committed)
    if len(committed) < thresholds.bias_min_periods or actual <= 0:
        return None
    forecast = sum(p.committed_minor or 0 for p in committed)
    return Fraction(forecast - actual, actual)


def mean_miss_minor(history: Sequence[PastPeriod], thresholds: InspectionThresholds) -> int:
    """|sum of commits - sum of actuals| / committed periods in the window: by how much a period's
    commit missed, on average (the bias flag's money at risk)."""
    committed = _committed_periods(history, thresholds)
    if not committed:
        return 0
    miss = abs(sum((p.committed_minor or 0) - p.won_minor for p in committed))
    return half_up(Fraction(miss, len(committed)))


def slipping_share(pushed_out_minor: int, pipeline_minor: int) -> Fraction | None:
    base = pushed_out_minor + pipeline_minor
    return Fraction(pushed_out_minor, base) if base > 0 else None


def team_figures(
    *,
    user_id: str,
    currency: str,
    members: Iterable[RepFigures],
    quota_minor: int | None,
    committed_minor: int | None,
    p_quota: float | None,
    past_commits: Mapping[str, int | None],
) -> RepFigures:
    """A team's figures: what adds up is summed over its members (the manager's own row among them).

    Closed won, live forecast, pipeline, pushed out and each past period's won and lost amounts
    add up, and so does the expected revenue (expectation is linear). The rest does not:
    the team's quota is the manager's assigned target (a plan may be over- or under-allocated);
    its commit is the manager's own commit, adjustments and all; its P(quota) comes from the
    distribution over ALL the team's deals (no mean or product of the members' chances is it),
    which the caller computes; the past commits are the manager's, by period id.
    """
    rows = list(members)
    won: dict[str, int] = {}
    lost: dict[str, int] = {}
    for row in rows:
        for past in row.history:
            won[past.period_id] = won.get(past.period_id, 0) + past.won_minor
            lost[past.period_id] = lost.get(past.period_id, 0) + past.lost_minor
    # Period ids of one kind sort in time order ("2026-Q1" < "2026-Q2", "2026-09" < "2026-10").
    history = tuple(
        PastPeriod(period_id, won[period_id], lost[period_id], past_commits.get(period_id))
        for period_id in sorted(set(won) | set(past_commits))
        if period_id in won
    )
    return RepFigures(
        user_id=user_id,
        currency=currency,
        quota_minor=quota_minor,
        closed_won_minor=sum(r.closed_won_minor for r in rows),
        committed_minor=committed_minor,
        live_forecast_minor=sum(r.live_forecast_minor for r in rows),
        pipeline_minor=sum(r.pipeline_minor for r in rows),
        expected_minor=sum(r.expected_minor for r in rows),
        p_quota=p_quota,
        pushed_out_minor=sum(r.pushed_out_minor for r in rows),
        history=history,
    )


def movement(earlier: RepFigures, current: RepFigures) -> Movement:
    """How the figures moved from earlier (the last commit, a week ago) to current."""
    return Movement(
        quota_minor=_delta(earlier.quota_minor, current.quota_minor),
        closed_won_minor=current.closed_won_minor - earlier.closed_won_minor,
        committed_minor=_delta(earlier.committed_minor, current.committed_minor),
        live_forecast_minor=current.live_forecast_minor - earlier.live_forecast_minor,
        pipeline_minor=current.pipeline_minor - earlier.pipeline_minor,
        expected_minor=current.expected_minor - earlier.expected_minor,
        p_quota_bp=(
            None
            if earlier.p_quota is None or current.p_quota is None
            # The difference of the two figures as shown, so that it adds up on screen.
            else basis_points_of(Fraction(current.p_quota)) - basis_points_of(Fraction(earlier.p_quota))
        ),
    )


def _committed_periods(history: Sequence[PastPeriod], thresholds: InspectionThresholds) -> list[PastPeriod]:
    window = history[-thresholds.trailing_periods :]
    return [p for p in window if p.committed_minor is not None]


def _delta(earlier: int | None, current: int | None) -> int | None:
    return None if earlier is None or current is None else current - earlier


def _microseconds(span: timedelta) -> int:
    return (span.days * 86_400 + span.seconds) * 1_000_000 + span.microseconds


def half_up(value: Fraction) -> int:
    """A Fraction of minor units as whole minor units, halves away from zero."""
    return round_half_up_div(value.numerator, value.denominator)
