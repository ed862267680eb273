"""Users in the forecasting database."""

from __future__ import annotations

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from salesplane_forecasting.adapters.tables import users
from salesplane_forecasting.domain.org import User
from salesplane_platform.db import as_utc
from salesplane_platform.errors import Conflict
from salesplane_platform.org_replica import ReportingLines

reporting_lines = ReportingLines(users)


def get(session: Session, user_id: str, *, for_update: bool = False) -> User | None:
    statement = select(users).where(users.c.user_id == user_id)
    if for_update:
        statement = statement.with_for_update()
    row = session.execute(statement).first()
    return None if row is None else _user(row)


def manager_of(session: Session, user_id: str) -> str | None:
    return reporting_lines.manager_of(session, user_id)


def save(session: Session, user: User) -> None:
    values = {
        "display_name": user.display_name,
        "email": user.email,
        "roles": ",".join(sorted(user.roles)),
        "manager_user_id": user.manager_user_id,
        "active": user.active,
        "version": user.version,
        "updated_at": user.updated_at,
    }
    if user.version == 1:
        session.execute(users.insert().values(user_id=user.user_id, **values))
        return
    # The version guard turns a concurrent writer's change into a conflict instead of a lost update.
    result = session.execute(
        update(users)
        .where(users.c.user_id == user.user_id, users.c.version == user.version - 1)
        .values(**values)
    )
    if result.rowcount != 1:
        raise Conflict(f"user {user.user_id} was changed concurrently; read it again")


def subtree(session: Session, root_user_id: str, *, direct_only: bool) -> list[User]:
    if direct_only:
        statement = select(users).where(users.c.manager_user_id == root_user_id)
    else:
        statement = select(users).where(
            users.c.user_id.in_(reporting_lines.subtree_select(root_user_id)), users.c.user_id != root_user_id
        )
    return [_user(row) for row in session.execute(statement.order_by(users.c.user_id))]


def everyone(session: Session) -> list[User]:
    return [_user(row) for row in session.execute(select(users).order_by(users.c.user_id))]


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
    )
