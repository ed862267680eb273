"""Campaign performance over a window: what each campaign cost and what it brought, and the
ratios between them (cost per lead, CAC, ROI, ROAS).

A campaign's cost is the sum of its own cost entries, counted once however many deals it helps
win: SuiteCRM's ROI joins cost to every won opportunity and so multiplies it by their number.
Deals count by the credit and the share of the deal attribution gives each campaign. Ratios are
exact fractions rounded half-even once, and empty when their divisor is zero."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from salesplane_reporting.domain.attribution import DEAL_SHARE_UNITS, Credit

# ROI, ROAS and the share of the budget used are kept to four decimal places.
RATIO_PLACES = 4
RATIO_UNITS = 10**RATIO_PLACES


@dataclass
class CampaignTally:
    cost: int = 0
    cost_to_date: int = 0
    leads: int = 0
    qualified_leads: int = 0
    # Deals, in DEAL_SHARE_UNITS of a deal.
    opportunity_units: int = 0
    pipeline: int = 0
    won_units: int = 0
    won_revenue: int = 0

    def add_deal(self, credit: Credit, *, generated: bool, won: bool) -> None:
        """One campaign's credit of a deal: created (pipeline) and/or won in what is counted."""
        if generated:
            self.opportunity_units += credit.share_units
            self.pipeline += credit.amount_minor
        if won:
            self.won_units += credit.share_units
            self.won_revenue += credit.amount_minor

    @property
    def cost_per_lead(self) -> int | None:
        return half_even(Fraction(self.cost, self.leads)) if self.leads else None

    @property
    def cac(self) -> int | None:
        """Cost per (credited) won deal."""
        return half_even(Fraction(self.cost * DEAL_SHARE_UNITS, self.won_units)) if self.won_units else None

    @property
    def roi_units(self) -> int | None:
        """(won revenue - cost) / cost in RATIO_UNITS."""
        if not self.cost:
            return None
        return half_even(Fraction((self.won_revenue - self.cost) * RATIO_UNITS, self.cost))

    @property
    def roas_units(self) -> int | None:
        """Won revenue / cost in RATIO_UNITS."""
        return half_even(Fraction(self.won_revenue * RATIO_UNITS, self.cost)) if self.cost else None

    def budget_used_units(self, budget: int) -> int | None:
        """Cost to date / budget in RATIO_UNITS."""
        return half_even(Fraction(self.cost_to_date * RATIO_UNITS, budget)) if budget > 0 else None

    @property
    def empty(self) -> bool:
        return not (self.cost or self.leads or self.opportunity_units or self.won_units)


def half_even(value: Fraction) -> int:
    quotient, remainder = divmod(value.numerator, value.denominator)
    twice = 2 * remainder
    if twice > value.denominator or (twice == value.denominator and quotient % 2 == 1):
        quotient += 1
    return quotient
