"""A user's open leads as a whole, for a user who leaves: how many there are, and handing them all to
another user (forecasting asks both before it deactivates someone; admins may too)."""

from __future__ import annotations

from salesplane_leads.domain.access import ensure_can_move_open_work
from salesplane_leads.service_layer.unit_of_work import LeadsUnitOfWork
from salesplane_platform.errors import (
    Conflict,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    Validator,
)
from salesplane_platform.identifiers import check_user_id
from salesplane_platform.identity import Identity
from salesplane_platform.org_membership import ensure_active_member
from salesplane_platform.service_principals import actor_of

# Leads moved per transaction: a user with thousands of leads never holds one long transaction.
REASSIGN_BATCH = 200
MAX_CONFLICT_RETRIES = 3
SHOWN_PENDING = 10


def count_open_leads(*, user_id: str, caller: Identity, uow: LeadsUnitOfWork) -> int:
    """How many open leads are assigned to the user (0 for a user leads does not know)."""
    ensure_can_move_open_work(caller)
    check = Validator()
    check_user_id(check, "user_id", user_id)
    check.raise_if_invalid()
    with uow:
        return uow.leads.count_open(user_id)


def reassign_open_leads(
    *, from_user_id: str, to_user_id: str, caller: Identity, acting_for: str, uow: LeadsUnitOfWork
) -> int:
    """Give every open lead of one user to another, a batch per transaction, each lead with its own
    ASSIGNED event; returns how many this call moved. A repeat (after a failure part of the way, or
    after success) moves what is left, so nothing twice. Leads being converted are not moved: their
    conversion must complete first (only who started it can), and then the call is repeated."""
    ensure_can_move_open_work(caller)
    check = Validator()
    check_user_id(check, "from_user_id", from_user_id)
    check_user_id(check, "to_user_id", to_user_id)
    check.raise_if_invalid()
    if from_user_id == to_user_id:
        raise InvalidArgument(FieldViolation("to_user_id", "must differ from from_user_id"))
    actor = actor_of(caller, acting_for)
    with uow:
        ensure_active_member(to_user_id, uow.org.is_active(to_user_id), field="to_user_id")
        _ensure_none_pending(uow, from_user_id)
    moved = 0
    while (batch := _move_batch(uow, from_user_id, to_user_id, actor)) > 0:
        moved += batch
    return moved


def _ensure_none_pending(uow: LeadsUnitOfWork, user_id: str) -> None:
    pending = uow.leads.open_pending_conversion(user_id, limit=SHOWN_PENDING)
    if pending:
        raise FailedPrecondition(
            f"leads of {user_id!r} are being converted ({', '.join(pending)}): their conversions must "
            "complete (ConvertLead again, by whoever started them) before the leads can move",
            reason="CONVERSION_PENDING",
        )


def _move_batch(uow: LeadsUnitOfWork, from_user_id: str, to_user_id: str, actor: str) -> int:
    for attempt in range(MAX_CONFLICT_RETRIES):
        try:
            with uow.acting_for(actor):
                ensure_active_member(to_user_id, uow.org.is_active(to_user_id), field="to_user_id")
                leads = uow.leads.open_assigned_to(from_user_id, limit=REASSIGN_BATCH)
                for lead in leads:
                    # A conversion started since the check above: the lead refuses to change.
                    read_version = lead.version
                    lead.assign(to_user_id)
                    uow.leads.save(lead, read_version=read_version)
                if leads:
                    uow.commit()
                return len(leads)
        except Conflict:
            # The user worked on a lead meanwhile: take the batch again as it is now.
            if attempt == MAX_CONFLICT_RETRIES - 1:
                raise
    raise AssertionError("unreachable")
