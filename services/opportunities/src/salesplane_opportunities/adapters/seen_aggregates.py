"""The aggregates whose events this service's unit of work collects on commit."""

from __future__ import annotations

from typing import TypeAlias

from salesplane_opportunities.domain.exchange_rates import ExchangeRate
from salesplane_opportunities.domain.opportunity import Opportunity
from salesplane_opportunities.domain.sales_stages import SalesStageCatalog
from salesplane_platform.seen_aggregates import SeenAggregates

OpportunitiesAggregate: TypeAlias = Opportunity | SalesStageCatalog | ExchangeRate
# One per transaction, shared by its repositories: events then reach the outbox in the order the
# aggregates were first seen, whichever repository handed them out.
SeenByUnitOfWork: TypeAlias = SeenAggregates[OpportunitiesAggregate]
