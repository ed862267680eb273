"""Multi-touch attribution: how much of a deal's amount each campaign that touched its lead earns.

Models (HubSpot's and Salesforce Marketing Intelligence's definitions, see the reporting notes):
first touch, last touch, linear, U-shaped (40 / 20 / 40), W-shaped (30 / 30 / 30 / 10, the
opportunity's creation being the third anchor) and time decay (a touch's weight halves every
half-life before the opportunity was created). Touches older than the lookback window before the
opportunity's creation, or after it, do not count.

Each model gives every credited point an integer weight over a common denominator (U-shaped over
n touches: 2(n-2), 1, ..., 1, 2(n-2) out of 5(n-2)), so the rational models are exact without a
Fraction per touch, which a report over a million touches could not afford. Time decay's weights
are irrational; they are taken relative to the newest touch and scaled to 2^52, which keeps a
double's precision, and are exact from there on.

A deal's credits under a model always sum to exactly its amount in minor units: each campaign's
exact share is rounded down and the units left over go to the largest remainders (the campaign
credited first on a tie), so no cent is created or lost and each campaign gets its exact share
rounded down or up. The same split of DEAL_SHARE_UNITS gives each campaign's share of the deal,
so shares summed over the campaigns of any set of deals count those deals exactly.

A deal no touch counts for is credited in full to the campaign the opportunity itself names, as
SugarCRM's single-touch attribution does, and to UNATTRIBUTED ("") when it names none.

`attribute` takes Touch values; `attribute_counted` is the same computation for touches already
counted and ordered, given as plain lists (campaigns, and instants in microseconds for time
decay), which is how a report over a million touches reads them from SQL.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from typing import NamedTuple

DEFAULT_HALF_LIFE = timedelta(days=7)
UNATTRIBUTED = ""
# A deal's share is counted in millionths: the shares of one deal sum to exactly this.
DEAL_SHARE_PLACES = 6
DEAL_SHARE_UNITS = 10**DEAL_SHARE_PLACES
# Time-decay weights are scaled so that the newest touch weighs 2^52 (a double's mantissa).
_DECAY_SCALE_BITS = 52
_MICROSECOND = timedelta(microseconds=1)


class Model(StrEnum):
    FIRST_TOUCH = "first_touch"
    LAST_TOUCH = "last_touch"
    LINEAR = "linear"
    U_SHAPED = "u_shaped"
    W_SHAPED = "w_shaped"
    TIME_DECAY = "time_decay"


# Slots: a report builds a million of these.
@dataclass(frozen=True, slots=True)
class Touch:
    campaign_id: str
    at: datetime


@dataclass(frozen=True)
class Deal:
    amount_minor: int
    created_at: datetime
    # The campaign the opportunity itself names (W-shaped credits its creation to it); "" if none.
    campaign_id: str = ""


# A named tuple, not a dataclass: a report makes one per deal and campaign, and a tuple is made
# several times faster than a frozen dataclass.
class Credit(NamedTuple):
    """What one campaign earns of one deal."""

    campaign_id: str
    amount_minor: int
    # The campaign's share of the deal in DEAL_SHARE_UNITS.
    share_units: int
    # How many of the deal's counted touches were this campaign's.
    touches: int


def counted_touches(touches: Sequence[Touch], deal: Deal, lookback: timedelta | None) -> list[Touch]:
    """The touches that may earn credit, oldest first (stable for touches at the same instant)."""
    earliest = deal.created_at - lookback if lookback is not None else None
    kept = [t for t in touches if t.at <= deal.created_at and (earliest is None or t.at >= earliest)]
    return sorted(kept, key=lambda t: t.at)


def point_weights(
    model: Model, touches: Sequence[Touch], deal: Deal, *, half_life: timedelta = DEFAULT_HALF_LIFE
) -> tuple[list[str], list[int]]:
    """The campaign of each credited point and its integer weight (the share is the weight over
    their sum); empty when nothing counts. The touches must be the counted ones, oldest first."""
    return _point_weights(
        model,
        [t.campaign_id for t in touches],
        _micros(touches, deal) if model is Model.TIME_DECAY else (),
        deal.campaign_id,
        half_life,
    )


def _micros(touches: Sequence[Touch], deal: Deal) -> list[int]:
    # Relative to the deal's creation: only differences between instants matter, and integer
    # microseconds keep them exact (timedelta / timedelta divides the same integers).
    return [(t.at - deal.created_at) // _MICROSECOND for t in touches]


def _point_weights(
    model: Model,
    touch_campaigns: Sequence[str],
    micros: Sequence[int],
    deal_campaign: str,
    half_life: timedelta,
) -> tuple[list[str], list[int]]:
    if half_life <= timedelta(0):
        raise ValueError("the half-life must be positive")
    campaigns = list(touch_campaigns)
    if model is Model.W_SHAPED:
        # The opportunity's creation is a touch point of its own, credited to the deal's campaign
        # (or, without one, to the campaign of the last touch before it).
        anchor = deal_campaign or (campaigns[-1] if campaigns else "")
        if anchor:
            campaigns.append(anchor)
    count = len(campaigns)
    if not count:
        return [], []
    if model is Model.FIRST_TOUCH:
        weights = [1] + [0] * (count - 1)
    elif model is Model.LAST_TOUCH:
        weights = [0] * (count - 1) + [1]
    elif model is Model.LINEAR:
        weights = [1] * count
    elif model is Model.U_SHAPED:
        weights = _anchored(count, head=1, tail=1, anchor_tenths=4, middle_tenths=2)
    elif model is Model.W_SHAPED:
        weights = _anchored(count, head=1, tail=2, anchor_tenths=3, middle_tenths=1)
    else:
        if len(micros) != count:
            raise ValueError("time decay needs the instant of every touch")
        weights = _decayed(micros, half_life // _MICROSECOND)
    return campaigns, weights


def _anchored(count: int, *, head: int, tail: int, anchor_tenths: int, middle_tenths: int) -> list[int]:
    """Integer weights for `head` anchors first, `tail` anchors last, each earning anchor_tenths,
    and middle_tenths split evenly over the points between; with no point between, the anchors
    present share everything equally (they all weigh the same)."""
    anchors = head + tail
    if count <= anchors:
        return [1] * count
    between = count - anchors
    # anchor_tenths / 10 = anchor_tenths x between / (10 x between); middle_tenths / 10 / between
    # = middle_tenths / (10 x between): one denominator for all.
    anchor = anchor_tenths * between
    return [anchor] * head + [middle_tenths] * between + [anchor] * tail


def _decayed(micros: Sequence[int], half_life_micros: int) -> list[int]:
    # 2^(-(created - t) / h) relative to the newest touch is 2^(-(newest - t) / h): the same shares
    # without underflow however old the touches are; weights too small to show become zero.
    newest = micros[-1]
    scale = float(1 << _DECAY_SCALE_BITS)
    return [int(scale * 2.0 ** -((newest - at) / half_life_micros) + 0.5) for at in micros]


def weights(
    model: Model, touches: Sequence[Touch], deal: Deal, *, half_life: timedelta = DEFAULT_HALF_LIFE
) -> list[tuple[str, Fraction]]:
    """(campaign, share) per credited point, shares summing to 1; empty when nothing counts. The
    touches must already be the counted ones, oldest first."""
    campaigns, integer = point_weights(model, touches, deal, half_life=half_life)
    total = sum(integer)
    return [(campaign, Fraction(w, total)) for campaign, w in zip(campaigns, integer, strict=True)]


def attribute(
    model: Model,
    touches: Sequence[Touch],
    deal: Deal,
    *,
    lookback: timedelta | None = None,
    half_life: timedelta = DEFAULT_HALF_LIFE,
) -> list[Credit]:
    """What each credited campaign earns of the deal, in the order the campaigns were first
    credited: amounts summing exactly to the deal's, shares to DEAL_SHARE_UNITS."""
    counted = counted_touches(touches, deal, lookback)
    return attribute_counted(
        model,
        [t.campaign_id for t in counted],
        deal.amount_minor,
        deal.campaign_id,
        micros=_micros(counted, deal) if model is Model.TIME_DECAY else (),
        half_life=half_life,
    )


def attribute_counted(
    model: Model,
    campaigns: Sequence[str],
    amount_minor: int,
    deal_campaign: str = "",
    *,
    micros: Sequence[int] = (),
    half_life: timedelta = DEFAULT_HALF_LIFE,
) -> list[Credit]:
    """`attribute` for the campaigns of the counted touches, oldest first (stable for touches at
    the same instant), of a deal of `amount_minor` naming `deal_campaign`; time decay also needs
    each touch's instant in integer microseconds (from any common origin)."""
    columns = credit_columns(
        model, campaigns, amount_minor, deal_campaign, micros=micros, half_life=half_life
    )
    return [Credit(*credit) for credit in zip(*columns, strict=True)]


def credit_columns(
    model: Model,
    campaigns: Sequence[str],
    amount_minor: int,
    deal_campaign: str = "",
    *,
    micros: Sequence[int] = (),
    half_life: timedelta = DEFAULT_HALF_LIFE,
) -> tuple[list[str], list[int], list[int], list[int]]:
    """`attribute_counted` as four parallel lists (campaign, amount, share units, touches), for a
    caller that sums credits over many deals and needs no Credit for each."""
    point_campaigns, point = _point_weights(model, campaigns, micros, deal_campaign, half_life)
    per_campaign: dict[str, int] = {}
    for campaign, weight in zip(point_campaigns, point, strict=True):
        if weight:
            per_campaign[campaign] = per_campaign.get(campaign, 0) + weight
    if not per_campaign:
        return [deal_campaign or UNATTRIBUTED], [amount_minor], [DEAL_SHARE_UNITS], [0]
    if len(per_campaign) == 1:
        # One campaign earns everything (every first- or last-touch deal): nothing to split.
        (name,) = per_campaign
        return [name], [amount_minor], [DEAL_SHARE_UNITS], [campaigns.count(name)]
    touched = Counter(campaigns)
    names, campaign_weights = list(per_campaign), list(per_campaign.values())
    return (
        names,
        split(amount_minor, campaign_weights),
        split(DEAL_SHARE_UNITS, campaign_weights),
        [touched[name] for name in names],
    )


def credits(
    model: Model,
    touches: Sequence[Touch],
    deal: Deal,
    *,
    lookback: timedelta | None = None,
    half_life: timedelta = DEFAULT_HALF_LIFE,
) -> dict[str, int]:
    """Minor units per campaign, summing exactly to the deal's amount (campaigns earning nothing
    left out)."""
    found = attribute(model, touches, deal, lookback=lookback, half_life=half_life)
    return {c.campaign_id: c.amount_minor for c in found if c.amount_minor}


def split(amount: int, weights: Sequence[int]) -> list[int]:
    """`amount` split in proportion to non-negative integer `weights` (not all zero) into integers
    summing exactly to `amount`: floors, then one unit each to the largest remainders, the earlier
    weight first on a tie. Integers only, so exact."""
    total = sum(weights)
    sign, magnitude = (-1, -amount) if amount < 0 else (1, amount)
    parts = [divmod(magnitude * weight, total) for weight in weights]
    floors = [quotient for quotient, _ in parts]
    left = magnitude - sum(floors)
    if left:
        remainders = [remainder for _, remainder in parts]
        # A reversed sort stays stable: on a tie the earlier weight comes first.
        order = sorted(range(len(weights)), key=remainders.__getitem__, reverse=True)
        for index in order[:left]:
            floors[index] += 1
    return floors if sign == 1 else [-f for f in floors]


def largest_remainder(amount: int, shares: Sequence[Fraction]) -> list[int]:
    """`amount` split by `shares` (summing to 1) into integers summing exactly to `amount`."""
    denominator = math.lcm(*(share.denominator for share in shares))
    return split(amount, [int(share * denominator) for share in shares])
