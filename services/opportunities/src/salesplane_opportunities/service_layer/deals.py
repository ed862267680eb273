"""Use cases that change deals: create, update, close, reopen, reassign, delete, and hand all of a
leaving user's open deals to another user."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from salesplane_opportunities.domain.access import (
    ensure_admin_or_service,
    ensure_service_creates_for_a_conversion,
)
from salesplane_opportunities.domain.opportunity import Opportunity
from salesplane_opportunities.domain.opportunity_inputs import (
    OpportunityChanges,
    OpportunityDraft,
    check_request_id,
)
from salesplane_opportunities.domain.sales_stages import CloseOutcome
from salesplane_opportunities.service_layer.access import ensure_can_reach, ensure_owner_is_active
from salesplane_opportunities.service_layer.unit_of_work import OpportunitiesUnitOfWork
from salesplane_platform.errors import Conflict, FieldViolation, InvalidArgument, NotFound, Validator
from salesplane_platform.identifiers import check_user_id, is_uuid
from salesplane_platform.identity import Identity
from salesplane_platform.service_principals import actor_of

# The idempotency table keys on the caller's subject; longer subjects cannot use request ids.
MAX_IDEMPOTENT_CALLER_LENGTH = 255
# Deals moved per transaction when a user's open deals are handed on.
REASSIGN_BATCH = 200


def create_opportunity(
    *,
    draft: OpportunityDraft,
    request_id: str,
    caller: Identity,
    uow: OpportunitiesUnitOfWork,
    acting_for: str = "",
) -> Opportunity:
    """Open a new opportunity; with a request id, a retry returns the first result. A service (the
    leads service converting a lead, having checked the user it acts for) may create one only for a
    conversion, for any active owner; `acting_for` names that user, for the record only."""
    check = Validator()
    if request_id:
        check_request_id(check, request_id)
        check.require(
            len(caller.subject) <= MAX_IDEMPOTENT_CALLER_LENGTH,
            "request_id",
            f"needs a caller id of at most {MAX_IDEMPOTENT_CALLER_LENGTH} characters",
        )
    check.raise_if_invalid()
    ensure_service_creates_for_a_conversion(caller, lead_id=draft.lead_id, request_id=request_id)
    now = datetime.now(UTC)
    with uow.acting_for(actor_of(caller, acting_for)):
        uow.hold_configuration(exclusive=False)
        if request_id and (earlier := uow.create_requests.find(caller.subject, request_id)):
            return _created_earlier(uow, earlier, caller)
        opportunity = Opportunity.open(draft, uow.sales_stages.current(), uow.converter, now=now)
        if not caller.is_service:
            ensure_can_reach(uow, caller, draft.owner_user_id)
        ensure_owner_is_active(uow, opportunity.owner_user_id, field="owner_user_id")
        if request_id and not uow.create_requests.claim(caller.subject, request_id, opportunity.id, now):
            # A concurrent call with the same key committed first: answer as its retry would.
            earlier = uow.create_requests.find(caller.subject, request_id)
            assert earlier is not None
            return _created_earlier(uow, earlier, caller)
        uow.opportunities.add(opportunity)
        uow.commit()
    return opportunity


def update_opportunity(
    *,
    opportunity_id: str,
    changes: OpportunityChanges,
    expected_version: int,
    caller: Identity,
    uow: OpportunitiesUnitOfWork,
) -> Opportunity:
    """Change some fields; reject the change if `expected_version` (when non-zero) is stale."""

    def update(opportunity: Opportunity, now: datetime) -> bool:
        previous_owner = opportunity.owner_user_id
        changed = opportunity.apply(changes, uow.sales_stages.current(), uow.converter, now=now)
        if opportunity.owner_user_id != previous_owner:
            ensure_can_reach(uow, caller, opportunity.owner_user_id)
            ensure_owner_is_active(uow, opportunity.owner_user_id, field="opportunity.owner_user_id")
        return changed

    return _change(uow, opportunity_id, expected_version, caller, update, id_field="opportunity.id")


def close_opportunity(
    *,
    opportunity_id: str,
    outcome: CloseOutcome | None,
    reason: str,
    sales_stage: str,
    expected_version: int,
    caller: Identity,
    uow: OpportunitiesUnitOfWork,
) -> Opportunity:
    """Close as won or lost."""
    if outcome is None:
        raise InvalidArgument(FieldViolation("outcome", "must be WON or LOST"))
    return _change(
        uow,
        opportunity_id,
        expected_version,
        caller,
        lambda o, now: o.close(outcome, reason, sales_stage, uow.sales_stages.current(), now=now),
    )


def reopen_opportunity(
    *,
    opportunity_id: str,
    sales_stage: str,
    expected_version: int,
    caller: Identity,
    uow: OpportunitiesUnitOfWork,
) -> Opportunity:
    """Move a closed opportunity back into an open stage."""
    return _change(
        uow,
        opportunity_id,
        expected_version,
        caller,
        lambda o, now: o.reopen(sales_stage, uow.sales_stages.current(), now=now),
    )


def reassign_opportunity(
    *,
    opportunity_id: str,
    new_owner_user_id: str,
    expected_version: int,
    caller: Identity,
    uow: OpportunitiesUnitOfWork,
) -> Opportunity:
    """Hand the deal to another owner; the caller must reach both owners."""

    def reassign(opportunity: Opportunity, now: datetime) -> bool:
        changed = opportunity.reassign(new_owner_user_id, now=now)
        ensure_can_reach(uow, caller, new_owner_user_id)
        if changed:
            ensure_owner_is_active(uow, opportunity.owner_user_id, field="new_owner_user_id")
        return changed

    return _change(uow, opportunity_id, expected_version, caller, reassign)


def reassign_open_opportunities(
    *,
    from_user_id: str,
    to_user_id: str,
    caller: Identity,
    acting_for: str,
    uow: OpportunitiesUnitOfWork,
) -> int:
    """Hand every open deal of one user to another (a user leaving), a batch per transaction, each
    deal with its own REASSIGNED event; returns how many this call moved. A repeat (after a failure
    part of the way, or after success) moves what is left, so nothing twice."""
    ensure_admin_or_service(caller, "move a user's open deals")
    check = Validator()
    check_user_id(check, "from_user_id", from_user_id)
    check_user_id(check, "to_user_id", to_user_id)
    check.raise_if_invalid()
    if from_user_id == to_user_id:
        raise InvalidArgument(FieldViolation("to_user_id", "must differ from from_user_id"))
    actor = actor_of(caller, acting_for)
    moved = 0
    while True:
        with uow.acting_for(actor):
            ensure_owner_is_active(uow, to_user_id, field="to_user_id")
            # Locked: a concurrent change of one of them waits for this batch, then sees its owner.
            batch = uow.opportunities.open_owned_by(from_user_id, limit=REASSIGN_BATCH)
            if not batch:
                return moved
            now = datetime.now(UTC)
            for opportunity in batch:
                read_version = opportunity.version
                opportunity.reassign(to_user_id, now=now)
                uow.opportunities.save(opportunity, read_version=read_version)
            uow.commit()
        moved += len(batch)


def delete_opportunity(
    *, opportunity_id: str, expected_version: int, caller: Identity, uow: OpportunitiesUnitOfWork
) -> None:
    """Remove the deal, publishing a final DELETED event with its last state."""
    check_opportunity_id(opportunity_id)
    _check_expected_version(expected_version)
    with uow.acting_for(caller.subject):
        # Locking the deal holds the configuration too (see hold_configuration).
        opportunity = load(uow, opportunity_id, for_update=True)
        ensure_can_reach(uow, caller, opportunity.owner_user_id)
        _ensure_version(opportunity, expected_version)
        read_version = opportunity.version
        opportunity.delete()
        uow.opportunities.remove(opportunity, read_version=read_version)
        uow.commit()


def check_opportunity_id(opportunity_id: str, field: str = "opportunity_id") -> None:
    if not is_uuid(opportunity_id):
        raise InvalidArgument(FieldViolation(field, "must be a UUID"))


def load(uow: OpportunitiesUnitOfWork, opportunity_id: str, *, for_update: bool = False) -> Opportunity:
    opportunity = uow.opportunities.get(opportunity_id, for_update=for_update)
    if opportunity is None:
        raise NotFound("opportunity", opportunity_id)
    return opportunity


def _change(
    uow: OpportunitiesUnitOfWork,
    opportunity_id: str,
    expected_version: int,
    caller: Identity,
    mutate: Callable[[Opportunity, datetime], bool],
    *,
    id_field: str = "opportunity_id",
) -> Opportunity:
    """Load (locked), authorise, check the version, mutate and save in one transaction."""
    check_opportunity_id(opportunity_id, id_field)
    _check_expected_version(expected_version)
    with uow.acting_for(caller.subject):
        # Locking the deal holds the configuration too (see hold_configuration): no extra round
        # trip on the hottest path.
        opportunity = load(uow, opportunity_id, for_update=True)
        ensure_can_reach(uow, caller, opportunity.owner_user_id)
        _ensure_version(opportunity, expected_version)
        read_version = opportunity.version
        if mutate(opportunity, datetime.now(UTC)):
            uow.opportunities.save(opportunity, read_version=read_version)
            uow.commit()
    return opportunity


def _created_earlier(uow: OpportunitiesUnitOfWork, opportunity_id: str, caller: Identity) -> Opportunity:
    """The current state of the deal an earlier call with the same request id created (it may
    have been deleted since)."""
    opportunity = load(uow, opportunity_id)
    if not caller.is_service:
        ensure_can_reach(uow, caller, opportunity.owner_user_id)
    return opportunity


def _check_expected_version(expected_version: int) -> None:
    if expected_version < 0:
        raise InvalidArgument(FieldViolation("expected_version", "must not be negative (0: any version)"))


def _ensure_version(opportunity: Opportunity, expected_version: int) -> None:
    if expected_version and expected_version != opportunity.version:
        raise Conflict(
            f"opportunity {opportunity.id} is at version {opportunity.version}, not {expected_version}"
        )
