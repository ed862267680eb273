"""Read models: what reporting keeps of other services' aggregates, built from their events, and
the queries reports may ask of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from salesplane_platform.money import Money


@dataclass(frozen=True)
class OpportunityView:
    id: str
    owner_user_id: str
    sales_stage: str
    amount_minor: int
    currency: str
    probability: int
    expected_close_date: date | None
    version: int


@dataclass(frozen=True)
class LeadView:
    id: str
    # Lower-case name of the lead status, e.g. "new", "assigned".
    status: str
    lead_source_id: str
    version: int


# Opportunity fields reports may group by. Amounts are always grouped by currency as well: money in
# different currencies is never added up.
OPPORTUNITY_DIMENSIONS = frozenset({"owner_user_id", "sales_stage"})


@dataclass(frozen=True)
class OpportunityTotal:
    """Opportunities sharing the values `key` of the requested dimensions and one currency."""

    key: tuple[str, ...]
    count: int
    amount: Money


class ReadModelQueries(Protocol):
    def opportunity_totals(self, *, group_by: Sequence[str]) -> list[OpportunityTotal]:
        """Count and amount of the opportunities per value of `group_by` (a sequence of
        OPPORTUNITY_DIMENSIONS) and currency, in no particular order."""
