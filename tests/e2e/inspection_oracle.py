"""What the pipeline inspection must say, computed here from the story's deals, quotas and commits
alone (not from the service's code): elapsed share, pacing, coverage, P(reaching quota) by
enumerating every outcome of the open deals, the expected closed revenue, and which team flags
the defaults (with the story's thresholds) raise."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

BP = 10_000


@dataclass(frozen=True)
class OpenDeal:
    amount_minor: int
    probability: int  # percent


def quarter_of(day: date) -> tuple[str, date, date]:
    """(period id, first day, last day) of the calendar quarter (fiscal year starting in January)."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    following = date(day.year + (first_month == 10), 1 if first_month == 10 else first_month + 3, 1)
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}", start, following - timedelta(days=1)


def elapsed(start: date, last: date, now: datetime) -> Fraction:
    begin = datetime(start.year, start.month, start.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    return Fraction(
        max(0, min((now - begin) // timedelta(microseconds=1), (end - begin) // timedelta(microseconds=1))),
        (end - begin) // timedelta(microseconds=1),
    )


def bp(ratio: Fraction) -> int:
    """Basis points, halves away from zero."""
    scaled = ratio * BP
    whole = scaled.numerator // scaled.denominator
    rest = scaled - whole
    return whole + (1 if rest >= Fraction(1, 2) else 0) if scaled >= 0 else -bp(-ratio)


def half_up(value: Fraction) -> int:
    whole = value.numerator // value.denominator
    return whole + (1 if value - whole >= Fraction(1, 2) else 0)


def expected_minor(won_minor: int, deals: Sequence[OpenDeal]) -> int:
    return won_minor + half_up(Fraction(sum(d.amount_minor * d.probability for d in deals), 100))


def p_reaching(quota_minor: int, won_minor: int, deals: Sequence[OpenDeal]) -> Fraction:
    """P(won + the open deals that win >= quota), every deal independent, by enumeration."""
    total = Fraction(0)
    for outcome in itertools.product((True, False), repeat=len(deals)):
        chance = Fraction(1)
        closed = won_minor
        for deal, wins in zip(deals, outcome, strict=True):
            p = Fraction(deal.probability, 100)
            chance *= p if wins else 1 - p
            closed += deal.amount_minor if wins else 0
        if closed >= quota_minor:
            total += chance
    return total


def rep_kinds(
    *,
    quota_minor: int,
    won_minor: int,
    deals: Sequence[OpenDeal],
    committed_minor: int | None,
    pushed_out_minor: int,
    share: Fraction,
) -> set[str]:
    """The rep or team flags under the story's thresholds: defaults, pacing tolerance 0, no past
    periods (so coverage needed is the default 3x and no bias)."""
    kinds: set[str] = set()
    pipeline = sum(d.amount_minor for d in deals)
    expected = expected_minor(won_minor, deals)
    if p_reaching(quota_minor, won_minor, deals) < Fraction(1, 2):
        kinds.add("low_p_quota")
    left = quota_minor - won_minor
    if left > 0 and Fraction(pipeline, left) < 3 * Fraction(9, 10):
        kinds.add("coverage_short")
    if Fraction(won_minor, quota_minor) < share:
        kinds.add("pacing_behind")
    if committed_minor is not None and committed_minor * 10 > expected * 11:
        kinds.add("commit_above_pipeline")
    if committed_minor is not None and committed_minor * 10 < expected * 8:
        kinds.add("commit_below_pipeline")
    # The share of the pipeline the period had: what is left plus what was pushed out.
    if pipeline + pushed_out_minor and Fraction(pushed_out_minor, pipeline + pushed_out_minor) > Fraction(
        1, 5
    ):
        kinds.add("slipping")
    return kinds
