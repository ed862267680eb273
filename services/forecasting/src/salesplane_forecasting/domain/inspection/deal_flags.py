"""Flags on deals: why a deal of a period deserves a look, with the numbers behind it.

A deal is inspected in a period when it is open and closes in the period; one that closed in the
period until someone pushed it out (since the period began) is inspected too, for that push only.
The money at stake of every deal flag is the deal's current amount (base currency): it is the
deal, not the size of one change, that may be lost. `now` carries the organisation's time zone:
"today", the period's start and every "N days" are read in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from fractions import Fraction

from salesplane_forecasting.domain.inspection.deal_history import CloseDateChange, DealFacts, SetbackKind
from salesplane_forecasting.domain.inspection.thresholds import BASIS_POINTS, InspectionThresholds
from salesplane_forecasting.domain.inspection.wording import (
    SECONDS_PER_DAY,
    basis_points_of,
    days,
    percent,
    whole_days,
)
from salesplane_forecasting.domain.periods import Period


class DealFlagKind(StrEnum):
    # In the order a deal's own flags are listed.
    PUSHED = "pushed"
    PAST_DUE = "past_due"
    STALLED = "stalled"
    MOVED_BACKWARD = "moved_backward"
    LARGE = "large"
    UNLIKELY = "unlikely"
    NO_CHANGE = "no_change"
    NO_NEXT_STEP = "no_next_step"


_KIND_ORDER = {kind: index for index, kind in enumerate(DealFlagKind)}


@dataclass(frozen=True)
class DealFlag:
    kind: DealFlagKind
    opportunity_id: str
    reason: str
    # The figures behind the reason; the suffix names the unit (_minor, _days, _bp, _count, ...).
    numbers: Mapping[str, int] = field(hash=False)
    money_at_stake_minor: int = 0


def deal_flags(
    facts: DealFacts,
    *,
    period: Period,
    now: datetime,
    thresholds: InspectionThresholds,
    rep_commit_minor: int | None,
    stage_percentiles: Mapping[str, int],
) -> list[DealFlag]:
    """The deal's flags in the period at now, in DealFlagKind order."""
    if not facts.is_open:
        return []
    in_period = period.contains(facts.close_date)
    if not in_period and facts.close_date < period.start:
        return []
    found = [_pushed(facts, period, now, thresholds, in_period)]
    if in_period:
        found += [
            _past_due(facts, now),
            _stalled(facts, now, stage_percentiles, thresholds),
            _moved_backward(facts, now, thresholds),
            _large(facts, rep_commit_minor, thresholds),
            _unlikely(facts, thresholds),
            _no_change(facts, now, thresholds),
            _no_next_step(facts),
        ]
    return [flag for flag in found if flag is not None]


def ranked_deal_flags(flags: Iterable[DealFlag]) -> list[DealFlag]:
    """Most money at stake first; then by deal and kind, so equal stakes list in a stable order."""
    return sorted(flags, key=lambda f: (-f.money_at_stake_minor, f.opportunity_id, _KIND_ORDER[f.kind]))


def slipped_minor(facts: DealFacts, *, period: Period, since: datetime, now: datetime) -> int:
    """The deal's amount when it is open pipeline pushed out of the period between since and now,
    else 0: what a rep's "slipping" sums over the lookback."""
    if not facts.is_open or facts.close_date <= period.end:
        return 0
    return facts.amount_minor if last_push_out(facts, period, since=since, now=now) else 0


def last_push_out(
    facts: DealFacts, period: Period, *, since: datetime, now: datetime
) -> CloseDateChange | None:
    """The latest close-date change between since and now from a date in the period to one after it."""
    return next(
        (
            change
            for change in reversed(facts.close_date_changes)
            if since <= change.at <= now and period.contains(change.old) and change.new > period.end
        ),
        None,
    )


def period_start(period: Period, now: datetime) -> datetime:
    """The period's first instant in now's time zone."""
    return datetime.combine(period.start, time(), tzinfo=now.tzinfo)


def _flag(facts: DealFacts, kind: DealFlagKind, reason: str, numbers: dict[str, int]) -> DealFlag:
    return DealFlag(kind, facts.opportunity_id, reason, numbers, facts.amount_minor)


def _pushed(
    facts: DealFacts, period: Period, now: datetime, thresholds: InspectionThresholds, in_period: bool
) -> DealFlag | None:
    out = last_push_out(facts, period, since=period_start(period, now), now=now)
    pushed_out = out is not None and not in_period
    if not (pushed_out or (in_period and facts.push_count >= thresholds.pushes_to_flag)):
        return None
    parts = [f"close date pushed {_times(facts.push_count)}"]
    if out is not None and pushed_out:
        parts.append(
            f"out of {period.period_id} on {out.at.date().isoformat()} "
            f"({out.old.isoformat()} to {out.new.isoformat()})"
        )
    return _flag(
        facts,
        DealFlagKind.PUSHED,
        "; ".join(parts),
        {"push_count": facts.push_count, "pushed_out_of_period": int(pushed_out)},
    )


def _past_due(facts: DealFacts, now: datetime) -> DealFlag | None:
    overdue = (now.date() - facts.close_date).days
    if overdue <= 0:
        return None
    return _flag(
        facts,
        DealFlagKind.PAST_DUE,
        f"still open {days(overdue)} after its close date {facts.close_date.isoformat()}",
        {"days_overdue": overdue},
    )


def _stalled(
    facts: DealFacts, now: datetime, stage_percentiles: Mapping[str, int], thresholds: InspectionThresholds
) -> DealFlag | None:
    limit = stage_percentiles.get(facts.sales_stage)
    if limit is None:
        return None
    in_stage = int((now - facts.stage_entered_at).total_seconds())
    if in_stage <= limit:
        return None
    return _flag(
        facts,
        DealFlagKind.STALLED,
        f"{days(whole_days(in_stage))} in {facts.sales_stage}; won deals' "
        f"{thresholds.stalled_percentile}th percentile there is {days(whole_days(limit))}",
        {
            "seconds_in_stage": in_stage,
            "percentile_seconds": limit,
            "days_in_stage": whole_days(in_stage),
            "percentile_days": whole_days(limit),
            "percentile": thresholds.stalled_percentile,
        },
    )


def _moved_backward(facts: DealFacts, now: datetime, thresholds: InspectionThresholds) -> DealFlag | None:
    since = now - timedelta(days=thresholds.backward_lookback_days)
    recent = [s for s in facts.setbacks if since <= s.at <= now]
    if not recent:
        return None
    parts: list[str] = []
    numbers = {"stage_regressions": 0, "amount_cut_minor": 0, "probability_cut_points": 0}
    for setback in recent:
        if setback.kind is SetbackKind.STAGE:
            numbers["stage_regressions"] += 1
            parts.append(f"stage moved back from {setback.old_stage} to {setback.new_stage}")
        elif setback.kind is SetbackKind.AMOUNT:
            numbers["amount_cut_minor"] += setback.old - setback.new
            parts.append(f"amount cut by {percent(Fraction(setback.old - setback.new, setback.old))}")
        else:
            numbers["probability_cut_points"] += setback.old - setback.new
            parts.append(f"probability cut from {setback.old} % to {setback.new} %")
    reason = "; ".join(parts) + f" in the last {days(thresholds.backward_lookback_days)}"
    return _flag(facts, DealFlagKind.MOVED_BACKWARD, reason, numbers)


def _large(
    facts: DealFacts, rep_commit_minor: int | None, thresholds: InspectionThresholds
) -> DealFlag | None:
    if rep_commit_minor is None or rep_commit_minor <= 0:
        return None
    if facts.amount_minor * BASIS_POINTS <= thresholds.large_deal_share_bp * rep_commit_minor:
        return None
    share = Fraction(facts.amount_minor, rep_commit_minor)
    return _flag(
        facts,
        DealFlagKind.LARGE,
        f"{percent(share)} of the rep's commit (more than "
        f"{percent(Fraction(thresholds.large_deal_share_bp, BASIS_POINTS))})",
        {"share_of_commit_bp": basis_points_of(share), "commit_minor": rep_commit_minor},
    )


def _unlikely(facts: DealFacts, thresholds: InspectionThresholds) -> DealFlag | None:
    by_probability = facts.probability <= thresholds.unlikely_max_probability
    max_order = thresholds.unlikely_max_stage_order
    by_stage = max_order is not None and facts.stage_order <= max_order
    if not (by_probability or by_stage):
        return None
    why = (
        f"stage {facts.sales_stage}" if by_stage else f"a probability of {facts.probability} %"
    ) + " is early for a deal closing this period"
    return _flag(
        facts,
        DealFlagKind.UNLIKELY,
        f"closes {facts.close_date.isoformat()} from {why}",
        {"probability": facts.probability, "stage_order": facts.stage_order},
    )


def _no_change(facts: DealFacts, now: datetime, thresholds: InspectionThresholds) -> DealFlag | None:
    quiet = int((now - facts.last_changed_at).total_seconds())
    if quiet < thresholds.no_change_days * SECONDS_PER_DAY:
        return None
    return _flag(
        facts,
        DealFlagKind.NO_CHANGE,
        f"unchanged for {days(whole_days(quiet))} (since {facts.last_changed_at.date().isoformat()})",
        {"days_since_change": whole_days(quiet)},
    )


def _no_next_step(facts: DealFacts) -> DealFlag | None:
    if not facts.next_step_empty:
        return None
    return _flag(facts, DealFlagKind.NO_NEXT_STEP, "no next step recorded", {})


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"
