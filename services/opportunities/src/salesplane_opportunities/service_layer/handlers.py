"""Use cases of the opportunities service."""

from __future__ import annotations

from salesplane_opportunities.domain.access import ensure_can_access
from salesplane_opportunities.domain.opportunity import Opportunity, OpportunityChanges, OpportunityDraft
from salesplane_opportunities.domain.sales_stages import SalesStageCatalog
from salesplane_opportunities.service_layer.unit_of_work import OpportunitiesUnitOfWork
from salesplane_platform.errors import Conflict, FieldViolation, InvalidArgument, NotFound
from salesplane_platform.identifiers import is_uuid
from salesplane_platform.identity import Identity


def create_opportunity(
    *, draft: OpportunityDraft, caller: Identity, uow: OpportunitiesUnitOfWork
) -> Opportunity:
    """Open a new opportunity and publish it."""
    with uow:
        opportunity = Opportunity.open(draft, uow.sales_stages())
        ensure_can_access(caller, draft.owner_user_id)
        uow.opportunities.add(opportunity)
        uow.publish_events(opportunity, actor=caller.subject)
        uow.commit()
    return opportunity


def update_opportunity(
    *,
    opportunity_id: str,
    changes: OpportunityChanges,
    expected_version: int | None,
    caller: Identity,
    uow: OpportunitiesUnitOfWork,
) -> Opportunity:
    """Change some fields; reject the change if `expected_version` is stale."""
    _check_id(opportunity_id)
    with uow:
        opportunity = _load(uow, opportunity_id)
        ensure_can_access(caller, opportunity.owner_user_id)
        if changes.owner_user_id is not None:
            ensure_can_access(caller, changes.owner_user_id)
        if expected_version is not None and expected_version != opportunity.version:
            raise Conflict(
                f"opportunity {opportunity_id} is at version {opportunity.version}, not {expected_version}"
            )
        read_version = opportunity.version
        if opportunity.apply(changes, uow.sales_stages()):
            uow.opportunities.save(opportunity, read_version=read_version)
            uow.publish_events(opportunity, actor=caller.subject)
            uow.commit()
    return opportunity


def get_opportunity(*, opportunity_id: str, caller: Identity, uow: OpportunitiesUnitOfWork) -> Opportunity:
    """Read one opportunity the caller may see."""
    _check_id(opportunity_id)
    with uow:
        opportunity = _load(uow, opportunity_id)
    ensure_can_access(caller, opportunity.owner_user_id)
    return opportunity


def list_sales_stages(*, uow: OpportunitiesUnitOfWork) -> SalesStageCatalog:
    """The configured sales stages in order."""
    with uow:
        return uow.sales_stages()


def _check_id(opportunity_id: str) -> None:
    if not is_uuid(opportunity_id):
        raise InvalidArgument(FieldViolation("opportunity_id", "must be a UUID"))


def _load(uow: OpportunitiesUnitOfWork, opportunity_id: str) -> Opportunity:
    opportunity = uow.opportunities.get(opportunity_id)
    if opportunity is None:
        raise NotFound("opportunity", opportunity_id)
    return opportunity
