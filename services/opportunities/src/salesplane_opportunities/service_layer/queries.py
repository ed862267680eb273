"""Use cases that read deals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from salesplane_opportunities.domain.listing import OpportunityQuery, page_token_after
from salesplane_opportunities.domain.opportunity import Opportunity
from salesplane_opportunities.domain.stage_history import StageVisit
from salesplane_opportunities.service_layer.access import ensure_can_reach
from salesplane_opportunities.service_layer.deals import check_opportunity_id, load
from salesplane_opportunities.service_layer.unit_of_work import OpportunitiesUnitOfWork
from salesplane_platform.identity import Identity


@dataclass(frozen=True)
class OpportunityPage:
    opportunities: list[Opportunity]
    # Empty on the last page.
    next_page_token: str


@dataclass(frozen=True)
class StageHistory:
    visits: list[StageVisit]
    # The moment durations of the current stage are measured to.
    as_of: datetime


def get_opportunity(*, opportunity_id: str, caller: Identity, uow: OpportunitiesUnitOfWork) -> Opportunity:
    """Read one opportunity the caller may see."""
    check_opportunity_id(opportunity_id)
    with uow:
        opportunity = load(uow, opportunity_id)
        ensure_can_reach(uow, caller, opportunity.owner_user_id)
    return opportunity


def list_opportunities(
    *, query: OpportunityQuery, caller: Identity, uow: OpportunitiesUnitOfWork
) -> OpportunityPage:
    """One page of the deals the caller may see that match the query."""
    with uow:
        rows = uow.opportunities.list(query, caller)
    page = rows[: query.page_size]
    more = len(rows) > query.page_size
    return OpportunityPage(page, page_token_after(query.filter, page[-1]) if more else "")


def get_stage_history(*, opportunity_id: str, caller: Identity, uow: OpportunitiesUnitOfWork) -> StageHistory:
    """Every stage the deal has been in, oldest first."""
    check_opportunity_id(opportunity_id)
    with uow:
        opportunity = load(uow, opportunity_id)
        ensure_can_reach(uow, caller, opportunity.owner_user_id)
        visits = uow.stage_history.visits(opportunity_id)
    return StageHistory(visits, datetime.now(UTC))
