"""What the marketing reports must say, computed from what the services answered in the story.

Independent of the reporting service: attribution here is the textbook definition of each model
in exact fractions (every touch's share written out, then the largest-remainder split), costs are
converted one entry at a time with the rate in effect on the entry's date, and the funnel counts
the leads the story created, qualified, converted, won, killed and recycled."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

UNATTRIBUTED = ""


@dataclass(frozen=True)
class Touch:
    lead_id: str
    campaign_id: str
    at: datetime


@dataclass(frozen=True)
class Deal:
    deal_id: str
    lead_id: str
    owner: str
    campaign_id: str
    amount_base: int
    status: str
    created_at: datetime
    close_date: date


@dataclass(frozen=True)
class Cost:
    campaign_id: str
    incurred_on: date
    amount_minor: int
    currency: str


@dataclass
class LeadStory:
    lead_id: str
    campaign_id: str
    lead_source_id: str
    assigned_user: str
    created_at: datetime
    qualified: bool = False
    converted_deal: str = ""
    dead: bool = False
    recycled: bool = False


@dataclass
class Marketing:
    base_currency: str
    # currency -> [(effective_from, rate)]
    rates: dict[str, list[tuple[date, Decimal]]] = field(default_factory=dict)
    costs: list[Cost] = field(default_factory=list)
    touches: list[Touch] = field(default_factory=list)
    deals: dict[str, Deal] = field(default_factory=dict)
    leads: dict[str, LeadStory] = field(default_factory=dict)

    def base_minor(self, cost: Cost) -> int:
        if cost.currency == self.base_currency:
            return cost.amount_minor
        in_effect = [(start, rate) for start, rate in self.rates[cost.currency] if start <= cost.incurred_on]
        rate = max(in_effect)[1]
        return int((Decimal(cost.amount_minor) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# ---- attribution -----------------------------------------------------------------------------------
def shares(
    model: str, points: Sequence[datetime], created: datetime, half_life_days: float
) -> list[Fraction]:
    """Each counted touch's share of the deal, oldest first, by the model's definition."""
    n = len(points)
    if model == "first_touch":
        return [Fraction(1 if i == 0 else 0) for i in range(n)]
    if model == "last_touch":
        return [Fraction(1 if i == n - 1 else 0) for i in range(n)]
    if model == "linear":
        return [Fraction(1, n)] * n
    if model == "u_shaped":
        if n == 1:
            return [Fraction(1)]
        if n == 2:
            return [Fraction(1, 2)] * 2
        return [Fraction(2, 5)] + [Fraction(1, 5) / (n - 2)] * (n - 2) + [Fraction(2, 5)]
    if model == "w_shaped":
        if n == 1:
            return [Fraction(1)]
        if n == 2:
            return [Fraction(1, 2)] * 2
        if n == 3:
            return [Fraction(1, 3)] * 3
        return [Fraction(3, 10)] + [Fraction(1, 10) / (n - 3)] * (n - 3) + [Fraction(3, 10)] * 2
    assert model == "time_decay", model
    weights = [Fraction(0.5 ** ((created - at) / timedelta(days=half_life_days))) for at in points]
    total = sum(weights, Fraction(0))
    return [w / total for w in weights]


def split(amount: int, parts: Sequence[Fraction]) -> list[int]:
    exact = [amount * p for p in parts]
    floors = [int(e) for e in exact]
    order = sorted(range(len(parts)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[: amount - sum(floors)]:
        floors[i] += 1
    return floors


SHARE_UNITS = 10**6  # a deal's share is counted in millionths, split like money


def credits(
    market: Marketing, deal: Deal, model: str, *, lookback_days: int = 90, half_life_days: float = 7
) -> dict[str, tuple[int, Fraction]]:
    """campaign -> (minor units, share of the deal) under the model. Each campaign's exact share
    (the sum over its touches) is split by largest remainder, the campaign credited first winning
    a tie, in minor units of money and in millionths of a deal."""
    earliest = deal.created_at - timedelta(days=lookback_days)
    counted = sorted(
        (t for t in market.touches if t.lead_id == deal.lead_id and earliest <= t.at <= deal.created_at),
        key=lambda t: t.at,
    )
    campaigns = [t.campaign_id for t in counted]
    moments = [t.at for t in counted]
    if model == "w_shaped" and (deal.campaign_id or campaigns):
        campaigns.append(deal.campaign_id or campaigns[-1])
        moments.append(deal.created_at)
    if not campaigns:
        return {deal.campaign_id or UNATTRIBUTED: (deal.amount_base, Fraction(1))}
    per_campaign: dict[str, Fraction] = {}
    parts_of_touches = shares(model, moments, deal.created_at, half_life_days)
    for campaign, part in zip(campaigns, parts_of_touches, strict=True):
        if part:
            per_campaign[campaign] = per_campaign.get(campaign, Fraction(0)) + part
    parts = list(per_campaign.values())
    units = split(deal.amount_base, parts)
    millionths = split(SHARE_UNITS, parts)
    return {
        campaign: (unit, Fraction(share, SHARE_UNITS))
        for campaign, unit, share in zip(per_campaign, units, millionths, strict=True)
    }


# ---- campaign performance ----------------------------------------------------------------------------
@dataclass
class CampaignFigures:
    cost: int = 0
    leads: int = 0
    qualified_leads: int = 0
    opportunities: Fraction = Fraction(0)
    pipeline_generated: int = 0
    won_deals: Fraction = Fraction(0)
    won_revenue: int = 0

    @property
    def roi(self) -> Fraction | None:
        return Fraction(self.won_revenue - self.cost, self.cost) if self.cost else None

    @property
    def roas(self) -> Fraction | None:
        return Fraction(self.won_revenue, self.cost) if self.cost else None

    @property
    def cac(self) -> Fraction | None:
        return Fraction(self.cost) / self.won_deals if self.won_deals else None

    @property
    def cost_per_lead(self) -> Fraction | None:
        return Fraction(self.cost, self.leads) if self.leads else None


def campaign_performance(
    market: Marketing,
    model: str,
    window: tuple[date, date],
    *,
    deals: Iterable[Deal] | None = None,
    lookback_days: int = 90,
    half_life_days: float = 7,
) -> dict[str, CampaignFigures]:
    """Per campaign for the period basis: costs by date, leads by creation, pipeline by the deal's
    creation, revenue by close date, all inside the window (both ends included)."""
    first, last = window
    figures: dict[str, CampaignFigures] = defaultdict(CampaignFigures)
    for cost in market.costs:
        if first <= cost.incurred_on <= last:
            figures[cost.campaign_id].cost += market.base_minor(cost)
    for lead in market.leads.values():
        if lead.campaign_id and first <= lead.created_at.date() <= last:
            figures[lead.campaign_id].leads += 1
            figures[lead.campaign_id].qualified_leads += lead.qualified
    for deal in market.deals.values() if deals is None else deals:
        for campaign, (amount, share) in credits(
            market, deal, model, lookback_days=lookback_days, half_life_days=half_life_days
        ).items():
            if first <= deal.created_at.date() <= last:
                figures[campaign].opportunities += share
                figures[campaign].pipeline_generated += amount
            if deal.status == "won" and first <= deal.close_date <= last:
                figures[campaign].won_deals += share
                figures[campaign].won_revenue += amount
    return dict(figures)


# ---- the funnel ---------------------------------------------------------------------------------------
@dataclass
class FunnelFigures:
    created: int = 0
    qualified: int = 0
    converted: int = 0
    won: int = 0
    dead: int = 0
    recycled: int = 0


def funnel(
    market: Marketing, visible: Mapping[str, bool] | None = None
) -> dict[tuple[str, str], FunnelFigures]:
    """(lead source, campaign) -> the counts of each step; `visible` limits to assigned users."""
    result: dict[tuple[str, str], FunnelFigures] = defaultdict(FunnelFigures)
    for lead in market.leads.values():
        if visible is not None and not visible.get(lead.assigned_user):
            continue
        step = result[(lead.lead_source_id, lead.campaign_id)]
        step.created += 1
        step.qualified += lead.qualified
        deal = market.deals.get(lead.converted_deal)
        step.converted += deal is not None
        step.won += deal is not None and deal.status == "won"
        step.dead += lead.dead
        step.recycled += lead.recycled
    return dict(result)
