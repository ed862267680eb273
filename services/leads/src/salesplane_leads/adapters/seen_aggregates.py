"""The aggregates whose events this service's unit of work collects on commit."""

from __future__ import annotations

from typing import TypeAlias

from salesplane_leads.domain.lead import Lead
from salesplane_leads.domain.marketing import Campaign, LeadSource
from salesplane_leads.domain.scoring import ScoringRules
from salesplane_leads.domain.touches import Touch
from salesplane_platform.seen_aggregates import SeenAggregates

LeadsAggregate: TypeAlias = Lead | LeadSource | Campaign | ScoringRules | Touch
# One per transaction, shared by its repositories: events then reach the outbox in the order the
# aggregates were first seen, whichever repository handed them out.
SeenByUnitOfWork: TypeAlias = SeenAggregates[LeadsAggregate]
