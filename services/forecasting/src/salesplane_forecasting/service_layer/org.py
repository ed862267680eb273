"""Use cases of the sales organisation: administrators maintain users and reporting lines."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

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
)
from salesplane_platform.identifiers import USER_ID_RULE, is_user_id
from salesplane_platform.identity import Identity

log = logging.getLogger(__name__)
# The actor of moves carried out on their scheduled date.
SCHEDULER = "forecasting-scheduler"


def upsert_user(
    *, values: UserValues, expected_version: int | None, caller: Identity, uow: ForecastingUnitOfWork
) -> User:
    if not caller.is_admin:
        raise PermissionDenied("only administrators maintain the organisation")
    org.validate(values)
    with uow.acting_for(caller.subject):
        changed = _upsert(uow, values, expected_version=expected_version, actor=caller.subject)
        uow.commit()
        return changed


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
    uow: ForecastingUnitOfWork, values: UserValues, *, expected_version: int | None, actor: str
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
    if existing is not None and existing.active and not values.active:
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
