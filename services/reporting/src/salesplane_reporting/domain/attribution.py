"""Multi-touch attribution: how much of a deal's amount each campaign that touched its lead earns.

Models (HubSpot's and Salesforce Marketing Intelligence's definitions, see the reporting notes):
first touch, last touch, linear, U-shaped (40 / 20 / 40), W-shaped (30 / 30 / 30 / 10, the
opportunity's creation being the third anchor) and time decay (a touch's weight halves every
half-life before the opportunity was created). Touches older than the lookback window before the
opportunity's creation, or after it, do not count.

A deal's credits under a model always sum to exactly its amount in minor units: exact shares are
rounded down and the units left over go to the largest remainders (earlier touches first on a tie),
so no cent is created or lost however many campaigns share a deal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction

DEFAULT_HALF_LIFE = timedelta(days=7)


class Model(StrEnum):
    FIRST_TOUCH = "first_touch"
    LAST_TOUCH = "last_touch"
    LINEAR = "linear"
    U_SHAPED = "u_shaped"
    W_SHAPED = "w_shaped"
    TIME_DECAY = "time_decay"


@dataclass(frozen=True)
class Touch:
    campaign_id: str
    at: datetime


@dataclass(frozen=True)
class Deal:
    amount_minor: int
    created_at: datetime
    # The campaign the opportunity itself names (W-shaped credits its creation to it); "" if none.
    campaign_id: str = ""


def counted_touches(touches: Sequence[Touch], deal: Deal, lookback: timedelta | None) -> list[Touch]:
    """The touches that may earn credit, oldest first (stable for touches at the same instant)."""
    earliest = deal.created_at - lookback if lookback is not None else None
    kept = [t for t in touches if t.at <= deal.created_at and (earliest is None or t.at >= earliest)]
    return sorted(kept, key=lambda t: t.at)


def weights(
    model: Model, touches: Sequence[Touch], deal: Deal, *, half_life: timedelta = DEFAULT_HALF_LIFE
) -> list[tuple[str, Fraction]]:
    """(campaign, share) per credited touch, shares summing to 1; empty when nothing counts. The
    touches must already be the counted ones, oldest first."""
    if half_life <= timedelta(0):
        raise ValueError("the half-life must be positive")
    points = list(touches)
    if model is Model.W_SHAPED:
        # The opportunity's creation is a touch point of its own, credited to the deal's campaign
        # (or, without one, to the campaign of the last touch before it).
        anchor = deal.campaign_id or (points[-1].campaign_id if points else "")
        if anchor:
            points.append(Touch(anchor, deal.created_at))
    if not points:
        return []
    count = len(points)
    if model is Model.FIRST_TOUCH:
        shares = [Fraction(1)] + [Fraction(0)] * (count - 1)
    elif model is Model.LAST_TOUCH:
        shares = [Fraction(0)] * (count - 1) + [Fraction(1)]
    elif model is Model.LINEAR:
        shares = [Fraction(1, count)] * count
    elif model is Model.U_SHAPED:
        shares = _anchored(count, [Fraction(2, 5), Fraction(2, 5)], Fraction(1, 5))
    elif model is Model.W_SHAPED:
        shares = _anchored(count, [Fraction(3, 10)] * 3, Fraction(1, 10))
    else:
        decay = [Fraction(0.5 ** ((deal.created_at - p.at) / half_life)) for p in points]
        total = sum(decay, Fraction(0))
        if total == 0:
            # Every touch lies so many half-lives back that its weight underflows: the latest wins.
            decay, total = [Fraction(0)] * (count - 1) + [Fraction(1)], Fraction(1)
        shares = [d / total for d in decay]
    return [(p.campaign_id, share) for p, share in zip(points, shares, strict=True)]


def _anchored(count: int, anchors: Sequence[Fraction], middle: Fraction) -> list[Fraction]:
    """Shares for anchor touches (the first, the last, and for W the one before the last) and an
    even split of `middle` over the touches between; with too few touches the anchors present share
    everything in proportion."""
    if count <= len(anchors):
        present = list(anchors[:count]) if count > 1 else [Fraction(1)]
        total = sum(present, Fraction(0))
        return [a / total for a in present]
    between = count - len(anchors)
    head, tail = anchors[0], list(anchors[1:])
    return [head] + [middle / between] * between + tail


def credits(
    model: Model,
    touches: Sequence[Touch],
    deal: Deal,
    *,
    lookback: timedelta | None = None,
    half_life: timedelta = DEFAULT_HALF_LIFE,
) -> dict[str, int]:
    """Minor units per campaign, summing exactly to the deal's amount; a deal no touch counts for
    credits its whole amount to "" (unattributed)."""
    shares = weights(model, counted_touches(touches, deal, lookback), deal, half_life=half_life)
    if not shares:
        return {"": deal.amount_minor}
    units = largest_remainder(deal.amount_minor, [share for _, share in shares])
    result: dict[str, int] = {}
    for (campaign, _), amount in zip(shares, units, strict=True):
        result[campaign] = result.get(campaign, 0) + amount
    return {campaign: amount for campaign, amount in result.items() if amount}


def largest_remainder(amount: int, shares: Sequence[Fraction]) -> list[int]:
    """`amount` split by `shares` (summing to 1) into integers summing exactly to `amount`."""
    sign = -1 if amount < 0 else 1
    exact = [abs(amount) * share for share in shares]
    floors = [int(e) for e in exact]
    left = abs(amount) - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for index in order[:left]:
        floors[index] += 1
    return [sign * f for f in floors]
