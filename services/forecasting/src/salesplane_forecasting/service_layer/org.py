"""Use cases of the sales organisation: administrators maintain users and reporting lines.

A user who leaves still owning open work (deals, leads) is not deactivated: their pipeline would
roll up to someone nobody manages. Forecasting counts their open deals itself (from the deal facts
it tracks) and asks the leads service for their open leads; on request it first hands both to the
user's manager, through the services that own them, and then deactivates the user.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Protocol

from salesplane_forecasting.domain import org
from salesplane_forecasting.domain.org import User, UserValues
from salesplane_forecasting.service_layer.rollups import move_team_rollups
from salesplane_forecasting.service_layer.unit_of_work import ForecastingUnitOfWork
from salesplane_platform.errors import (
    Conflict,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from salesplane_platform.identifiers import USER_ID_RULE, is_user_id
from salesplane_platform.identity import Identity

log = logging.getLogger(__name__)
# The actor of moves carried out on their scheduled date.
SCHEDULER = "forecasting-scheduler"


class OpenWork(Protocol):
    """A user's open work in the services that own it, reached with forecasting's own service
    credentials; `on_behalf_of` names the administrator, for the record. Raises Unavailable when a
    service cannot be reached (or refuses forecasting), and the service's refusal otherwise."""

    def count_open_leads(self, user_id: str) -> int: ...

    def reassign_open_leads(self, *, from_user_id: str, to_user_id: str, on_behalf_of: str) -> int: ...

    def reassign_open_opportunities(
        self, *, from_user_id: str, to_user_id: str, on_behalf_of: str
    ) -> int: ...


def upsert_user(
    *,
    values: UserValues,
    expected_version: int | None,
    caller: Identity,
    uow: ForecastingUnitOfWork,
    open_work: OpenWork | None = None,
    reassign_open_work_to_manager: bool = False,
) -> User:
    """Create or change a user. Deactivating one who still owns open deals or has open leads is
    refused, unless `reassign_open_work_to_manager`: then that work goes to their manager first."""
    if not caller.is_admin:
        raise PermissionDenied("only administrators maintain the organisation")
    org.validate(values)
    handed_on = False
    if not values.active:
        handed_on = _settle_open_work(
            uow,
            values.user_id,
            expected_version=expected_version,
            caller=caller,
            open_work=open_work,
            reassign=reassign_open_work_to_manager,
        )
    with uow.acting_for(caller.subject):
        changed = _upsert(
            uow, values, expected_version=expected_version, actor=caller.subject, work_handed_on=handed_on
        )
        uow.commit()
        return changed


def _settle_open_work(
    uow: ForecastingUnitOfWork,
    user_id: str,
    *,
    expected_version: int | None,
    caller: Identity,
    open_work: OpenWork | None,
    reassign: bool,
) -> bool:
    """Before a user is deactivated (or, with `reassign`, while they are inactive): refuse while they
    own open work, or hand it to their manager. Returns whether it was handed on.

    Nothing here holds a transaction while another service is called: the user is read first, the
    other services are asked, and the deactivation is its own transaction afterwards (_upsert)."""
    with uow:
        existing = uow.users.get(user_id)
        if existing is not None and expected_version is not None and existing.version != expected_version:
            # Before any other service is asked to move anything for a request that would fail.
            raise Conflict(f"user {user_id} is at version {existing.version}, not {expected_version}")
        manager = uow.users.get(existing.manager_user_id) if existing and existing.manager_user_id else None
        open_deals = uow.rollups.open_deal_count(user_id) if existing is not None else 0
    if existing is None or not (existing.active or reassign):
        # A new user created inactive owns nothing; one inactive already was checked back then.
        return False
    if open_work is None:
        raise Unavailable(
            "forecasting cannot reach the leads and opportunities services to check the user's work"
        )
    if not reassign:
        _ensure_owns_no_open_work(
            user_id, open_deals=open_deals, open_leads=open_work.count_open_leads(user_id)
        )
        return False
    if existing.manager_user_id is None:
        raise FailedPrecondition(
            f"user {user_id!r} reports to nobody, so there is no manager to hand their open work to: "
            "reassign it by hand, or give them a manager first",
            reason="NO_MANAGER",
        )
    if manager is None or not manager.active:
        raise FailedPrecondition(
            f"the manager of {user_id!r}, {existing.manager_user_id!r}, is not an active user and "
            "cannot take over their work",
            reason="MANAGER_NOT_ACTIVE",
        )
    # Leads first, deals second, the deactivation last. Each step is idempotent (it moves what is
    # still open, so a repeat moves nothing twice) and the user stays active until the last one,
    # so a failure anywhere leaves a user who still works and may own some work, never a
    # deactivated user owning any: the same request, repeated, finishes the job. Leads go before
    # deals because converting a lead makes a deal: one converted while its lead is being moved
    # becomes a deal of the user, which the deals step then moves too.
    open_work.reassign_open_leads(
        from_user_id=user_id, to_user_id=existing.manager_user_id, on_behalf_of=caller.subject
    )
    open_work.reassign_open_opportunities(
        from_user_id=user_id, to_user_id=existing.manager_user_id, on_behalf_of=caller.subject
    )
    return True


def _ensure_owns_no_open_work(user_id: str, *, open_deals: int, open_leads: int) -> None:
    """FAILED_PRECONDITION naming both counts: OWNS_OPEN_DEALS when there are deals (the reason
    clients knew first), OWNS_OPEN_LEADS when only leads."""
    owned = []
    if open_deals:
        owned.append(f"owns {_counted(open_deals, 'open deal')}")
    if open_leads:
        owned.append(f"has {_counted(open_leads, 'open lead')}")
    if not owned:
        return
    raise FailedPrecondition(
        f"user {user_id!r} still {' and '.join(owned)}: reassign them before deactivating the user "
        "(or ask for reassign_open_work_to_manager)",
        reason="OWNS_OPEN_DEALS" if open_deals else "OWNS_OPEN_LEADS",
        metadata={"open_deals": str(open_deals), "open_leads": str(open_leads)},
    )


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


def apply_due_moves(*, today: date, uow: ForecastingUnitOfWork, limit: int = 100) -> int:
    """Carry out the reorganisations whose date has come, each in its own transaction; returns how
    many moved. Safe to run from several replicas: a move already done is found gone."""
    with uow:
        due = uow.users.due_moves(today, limit=limit)
    moved = 0
    for user_id in due:
        with uow.acting_for(SCHEDULER):
            user = uow.users.get(user_id, for_update=True)
            values = org.due_move(user, today) if user is not None else None
            if values is None:
                continue
            try:
                _upsert(uow, values, expected_version=None, actor=SCHEDULER)
            except DomainError as error:
                # The organisation changed since the move was planned (the manager left, or the move
                # would now make a cycle): the move stays scheduled for an administrator to see.
                log.warning(
                    "a scheduled reorganisation cannot be carried out",
                    extra={"user_id": user_id, "error": error.message},
                )
                continue
            uow.commit()
            moved += 1
    return moved


def _upsert(
    uow: ForecastingUnitOfWork,
    values: UserValues,
    *,
    expected_version: int | None,
    actor: str,
    work_handed_on: bool = False,
) -> User:
    # Taken before anything is read: no rollup may be written against a chain this may change.
    # Organisation changes are rare, so serialising them with the consumer costs little.
    uow.hierarchy.lock(exclusive=True)
    existing = uow.users.get(values.user_id, for_update=True)
    if expected_version is not None and (existing.version if existing else 0) != expected_version:
        current = existing.version if existing else "absent"
        raise Conflict(f"user {values.user_id} is at version {current}, not {expected_version}")
    for manager in {values.manager_user_id, None}:
        if manager is not None and uow.users.get(manager) is None:
            raise NotFound("user", manager)
    if values.manager_user_id is not None:
        org.ensure_no_cycle(values.user_id, values.manager_user_id, uow.users.manager_of)
    if existing is not None and existing.active and not values.active and not work_handed_on:
        # Checked again here (a deal may have arrived since): forecasting's own count, no call out.
        # After a hand-over the count lags the opportunities service's events, whose answer counts.
        _ensure_owns_no_open_deals(uow, values.user_id)
    changed = org.apply(existing, values, datetime.now(UTC))
    if changed is None:
        assert existing is not None
        return existing
    old_manager = existing.manager_user_id if existing else None
    if changed.manager_user_id != old_manager:
        move_team_rollups(uow, changed.user_id, old_manager, changed.manager_user_id)
    # The user's UserChanged goes to the outbox on commit.
    uow.users.save(changed, actor=actor)
    return changed


def _ensure_owns_no_open_deals(uow: ForecastingUnitOfWork, user_id: str) -> None:
    """A user who still owns open deals is not deactivated: their pipeline would roll up to a user
    nobody manages any more. Counted from the deals forecasting tracks (a deal created a moment ago
    may not have arrived yet; it is refused its owner on the way, by the opportunities service)."""
    open_deals = uow.rollups.open_deal_count(user_id)
    if open_deals:
        raise FailedPrecondition(
            f"user {user_id!r} still owns {open_deals} open deal{'s' if open_deals != 1 else ''}: "
            "reassign them before deactivating the user",
            reason="OWNS_OPEN_DEALS",
        )


def get_user(*, user_id: str, caller: Identity, uow: ForecastingUnitOfWork) -> User:
    _check_user_id("user_id", user_id)
    with uow:
        user = uow.users.get(user_id)
        if user is None:
            raise NotFound("user", user_id)
        # Everyone may see their own managers; below them, what they reach.
        in_my_chain = uow.users.is_in_subtree(user_id, caller.subject)
        if not (in_my_chain or uow.users.can_reach(caller, user_id)):
            raise PermissionDenied(f"{caller.subject} may not see user {user_id}")
        return user


def list_users(
    *, root_user_id: str, direct_only: bool, caller: Identity, uow: ForecastingUnitOfWork
) -> list[User]:
    root = root_user_id or caller.subject
    _check_user_id("root_user_id", root)
    with uow:
        if not uow.users.can_reach(caller, root):
            raise PermissionDenied(f"{caller.subject} may not list the organisation under {root}")
        if root_user_id == "" and caller.is_admin and not direct_only:
            return uow.users.everyone()
        return uow.users.subtree(root, direct_only=direct_only)


def _check_user_id(field: str, value: str) -> None:
    if not is_user_id(value):
        raise InvalidArgument(FieldViolation(field, USER_ID_RULE))
