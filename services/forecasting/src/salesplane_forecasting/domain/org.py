"""The sales organisation: users, their roles and whom they report to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from salesplane_platform.errors import FailedPrecondition, Validator
from salesplane_platform.identifiers import check_user_id, is_user_id
from salesplane_platform.identity import ROLE_ADMIN, ROLE_MANAGER, ROLE_MARKETING, ROLE_REP
from salesplane_platform.text_rules import check_text

ASSIGNABLE_ROLES = frozenset({ROLE_REP, ROLE_MANAGER, ROLE_ADMIN, ROLE_MARKETING})
MAX_DISPLAY_NAME = 200
MAX_EMAIL = 254
# Deeper than any real organisation; a longer chain means the data is corrupt.
MAX_DEPTH = 64


@dataclass(frozen=True)
class User:
    user_id: str
    display_name: str
    email: str
    roles: frozenset[str]
    manager_user_id: str | None
    active: bool
    version: int
    updated_at: datetime
    # A reorganisation waiting for its date: from scheduled_manager_date on, the user reports to
    # scheduled_manager_user_id (None: the top of the organisation).
    scheduled_manager_user_id: str | None = None
    scheduled_manager_date: date | None = None
    # Raised by apply(), taken by the unit of work on commit; no part of the user's value.
    events: list[UserChanged] = field(default_factory=list, compare=False, repr=False)

    @property
    def has_scheduled_move(self) -> bool:
        return self.scheduled_manager_date is not None


@dataclass(frozen=True)
class UserChanged:
    """A user was created or changed (a scheduled move included); `user` is the new state."""

    user: User


@dataclass(frozen=True)
class UserValues:
    """What an administrator writes about a user."""

    user_id: str
    display_name: str
    email: str
    roles: frozenset[str]
    manager_user_id: str | None
    active: bool
    # From when the manager changes; None or not after today: at once.
    manager_effective_date: date | None = None


def validate(values: UserValues) -> None:
    check = Validator()
    check_user_id(check, "user.user_id", values.user_id)
    check_text(check, "user.display_name", values.display_name.strip(), MAX_DISPLAY_NAME, required=True)
    if check_text(check, "user.email", values.email, MAX_EMAIL):
        check.require(
            values.email == "" or _looks_like_email(values.email), "user.email", "must be an email address"
        )
    unknown = values.roles - ASSIGNABLE_ROLES
    check.require(
        not unknown, "user.roles", f"unknown roles {sorted(unknown)}; use {sorted(ASSIGNABLE_ROLES)}"
    )
    check.require(bool(values.roles), "user.roles", "must name at least one role")
    if values.manager_user_id is not None:
        check.require(
            is_user_id(values.manager_user_id), "user.manager_user_id", "must be a user id or empty"
        )
        check.require(
            values.manager_user_id != values.user_id,
            "user.manager_user_id",
            "a user cannot report to themselves",
        )
    check.raise_if_invalid()


def ensure_no_cycle(
    user_id: str, manager_user_id: str | None, manager_of: Callable[[str], str | None]
) -> None:
    """Reject a reports-to line that would put user_id above itself: walk up from the new manager."""
    seen: list[str] = []
    current = manager_user_id
    while current is not None:
        if current == user_id:
            chain = " -> ".join([user_id, *seen, user_id])
            raise FailedPrecondition(f"reporting to {manager_user_id} would make a cycle: {chain}")
        seen.append(current)
        if len(seen) > MAX_DEPTH:
            raise FailedPrecondition(
                f"the reporting chain above {manager_user_id} is deeper than {MAX_DEPTH}"
            )
        current = manager_of(current)


def apply(existing: User | None, values: UserValues, now: datetime) -> User | None:
    """The user after the change, or None when nothing changed.

    A change of manager dated after today is scheduled instead: the user keeps their manager and
    records the move; naming the current manager cancels a scheduled move."""
    manager = values.manager_user_id
    scheduled_manager: str | None = None
    scheduled_date: date | None = None
    current_manager = existing.manager_user_id if existing else None
    effective = values.manager_effective_date
    if (
        effective is not None
        and effective > now.date()
        and existing is not None
        and manager != current_manager
    ):
        scheduled_manager, scheduled_date = manager, effective
        manager = current_manager
    changed = User(
        user_id=values.user_id,
        display_name=values.display_name.strip(),
        email=values.email.lower(),
        roles=values.roles,
        manager_user_id=manager,
        active=values.active,
        version=existing.version if existing else 0,
        updated_at=existing.updated_at if existing else now,
        scheduled_manager_user_id=scheduled_manager,
        scheduled_manager_date=scheduled_date,
    )
    if changed == existing:
        return None
    new = replace(changed, version=changed.version + 1, updated_at=now, events=[])
    new.events.append(UserChanged(replace(new, events=[])))
    return new


def due_move(user: User, today: date) -> UserValues | None:
    """The values that carry out the user's scheduled move, once its date has come."""
    if user.scheduled_manager_date is None or user.scheduled_manager_date > today:
        return None
    return UserValues(
        user_id=user.user_id,
        display_name=user.display_name,
        email=user.email,
        roles=user.roles,
        manager_user_id=user.scheduled_manager_user_id,
        active=user.active,
    )


def _looks_like_email(value: str) -> bool:
    local, at, domain = value.partition("@")
    return bool(at and local and "." in domain and " " not in value and not domain.startswith("."))
