"""Users in the forecasting database."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from sqlalchemy import CursorResult, Row, Select, delete, select, update
from sqlalchemy.orm import Session

from salesplane_forecasting.adapters.tables import scheduled_reorganisations, users
from salesplane_forecasting.domain.org import User
from salesplane_platform.db import as_utc, upsert_statement
from salesplane_platform.errors import Conflict
from salesplane_platform.org_replica import ReportingLines

reporting_lines = ReportingLines(users)
_schedule = scheduled_reorganisations.c


def _users() -> Select:  # type: ignore[type-arg]
    """Users with their scheduled move, if any."""
    return select(
        users,
        _schedule.manager_user_id.label("scheduled_manager_user_id"),
        _schedule.effective_date.label("scheduled_manager_date"),
    ).outerjoin(scheduled_reorganisations, _schedule.user_id == users.c.user_id)


def get(session: Session, user_id: str, *, for_update: bool = False) -> User | None:
    statement = _users().where(users.c.user_id == user_id)
    if for_update:
        statement = statement.with_for_update(of=users)
    row = session.execute(statement).first()
    return None if row is None else _user(row)


def due_moves(session: Session, today: date, *, limit: int = 100) -> list[str]:
    """Users whose scheduled move has come, oldest date first."""
    statement = (
        select(_schedule.user_id)
        .where(_schedule.effective_date <= today)
        .order_by(_schedule.effective_date, _schedule.user_id)
        .limit(limit)
    )
    return list(session.execute(statement).scalars())


def manager_of(session: Session, user_id: str) -> str | None:
    return reporting_lines.manager_of(session, user_id)


def save(session: Session, user: User, *, actor: str) -> None:
    values = {
        "display_name": user.display_name,
        "email": user.email,
        "roles": ",".join(sorted(user.roles)),
        "manager_user_id": user.manager_user_id,
        "active": user.active,
        "version": user.version,
        "updated_at": user.updated_at,
    }
    _save_schedule(session, user, actor)
    if user.version == 1:
        session.execute(users.insert().values(user_id=user.user_id, **values))
        return
    # The version guard turns a concurrent writer's change into a conflict instead of a lost update.
    # An UPDATE executes as a CursorResult (it has the row count); Session.execute is typed Result.
    result = cast(
        CursorResult[Any],
        session.execute(
            update(users)
            .where(users.c.user_id == user.user_id, users.c.version == user.version - 1)
            .values(**values)
        ),
    )
    if result.rowcount != 1:
        raise Conflict(f"user {user.user_id} was changed concurrently; read it again")


def _save_schedule(session: Session, user: User, actor: str) -> None:
    if user.scheduled_manager_date is None:
        session.execute(delete(scheduled_reorganisations).where(_schedule.user_id == user.user_id))
        return
    statement = upsert_statement(
        session,
        scheduled_reorganisations,
        ["user_id"],
        ["manager_user_id", "effective_date", "scheduled_by", "scheduled_at"],
    )
    session.execute(
        statement,
        [
            {
                "user_id": user.user_id,
                "manager_user_id": user.scheduled_manager_user_id,
                "effective_date": user.scheduled_manager_date,
                "scheduled_by": actor,
                "scheduled_at": user.updated_at,
            }
        ],
    )


def subtree(session: Session, root_user_id: str, *, direct_only: bool) -> list[User]:
    if direct_only:
        statement = _users().where(users.c.manager_user_id == root_user_id)
    else:
        statement = _users().where(
            users.c.user_id.in_(reporting_lines.subtree_select(root_user_id)), users.c.user_id != root_user_id
        )
    return [_user(row) for row in session.execute(statement.order_by(users.c.user_id))]


def everyone(session: Session) -> list[User]:
    return [_user(row) for row in session.execute(_users().order_by(users.c.user_id))]


def _user(row: Row) -> User:  # type: ignore[type-arg]
    return User(
        user_id=row.user_id,
        display_name=row.display_name,
        email=row.email,
        roles=frozenset(r for r in row.roles.split(",") if r),
        manager_user_id=row.manager_user_id,
        active=row.active,
        version=row.version,
        updated_at=as_utc(row.updated_at),
        scheduled_manager_user_id=row.scheduled_manager_user_id,
        scheduled_manager_date=row.scheduled_manager_date,
    )
