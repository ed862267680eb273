"""Quotas, quota drafts and the quota change history in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from salesplane_forecasting.adapters.tables import quota_changes, quota_drafts, quotas
from salesplane_forecasting.domain.quotas import DraftAllocation, Quota, QuotaChange, QuotaKind
from salesplane_platform.bulk_writes import bulk_lookup
from salesplane_platform.db import as_utc
from salesplane_platform.errors import Conflict

# Keeps IN lists well below every database's bound on bound parameters.


def committed_quota(
    session: Session, user_id: str, period_id: str, kind: QuotaKind = QuotaKind.ASSIGNED
) -> int | None:
    """A user's committed quota for a period in minor units of the base currency; None when none."""
    return session.execute(
        select(quotas.c.amount_minor).where(
            quotas.c.user_id == user_id, quotas.c.period_id == period_id, quotas.c.kind == kind.value
        )
    ).scalar_one_or_none()


def committed_quotas(
    session: Session, user_ids: Sequence[str], period_id: str, kind: QuotaKind = QuotaKind.ASSIGNED
) -> dict[str, int]:
    """The committed quotas of many users for a period (minor units); users without one are absent."""
    rows = bulk_lookup(
        session,
        quotas,
        keys=["user_id", "period_id", "kind"],
        values=[(user_id, period_id, kind.value) for user_id in sorted(set(user_ids))],
        columns=["user_id", "amount_minor"],
    )
    return {user_id: amount for user_id, amount in rows}


def get(
    session: Session, user_id: str, period_id: str, kind: QuotaKind, *, for_update: bool = False
) -> Quota | None:
    statement = select(quotas).where(
        quotas.c.user_id == user_id, quotas.c.period_id == period_id, quotas.c.kind == kind.value
    )
    if for_update:
        statement = statement.with_for_update()
    row = session.execute(statement).first()
    return None if row is None else _quota(row)


def committed_rows(
    session: Session, user_ids: Sequence[str], period_id: str, *, for_update: bool = False
) -> dict[tuple[str, QuotaKind], Quota]:
    """Every committed quota (both kinds) of the users for the period, by (user_id, kind)."""
    rows = bulk_lookup(
        session,
        quotas,
        keys=["user_id", "period_id", "kind"],
        values=[(user_id, period_id, kind.value) for user_id in sorted(set(user_ids)) for kind in QuotaKind],
        columns=[c.name for c in quotas.c],
        for_update=for_update,
    )
    found = [_quota(row) for row in rows]
    return {(quota.user_id, quota.kind): quota for quota in found}


def save(session: Session, quota: Quota) -> None:
    """Store quota at quota.version; Conflict when the stored version is not the one before."""
    values = {
        "amount_minor": quota.amount_minor,
        "currency": quota.currency,
        "committed_by": quota.committed_by,
        "committed_at": quota.committed_at,
        "version": quota.version,
    }
    concurrent = Conflict(
        f"the {quota.kind.value} quota of {quota.user_id} for {quota.period_id} was changed "
        "concurrently; read it again and retry"
    )
    if quota.version == 1:
        # A savepoint keeps the transaction usable when a concurrent first commit won the key.
        try:
            with session.begin_nested():
                session.execute(
                    insert(quotas).values(
                        user_id=quota.user_id, period_id=quota.period_id, kind=quota.kind.value, **values
                    )
                )
        except IntegrityError:
            raise concurrent from None
        return
    # The version guard turns a concurrent writer's change into a conflict instead of a lost update.
    # An UPDATE executes as a CursorResult (it has the row count); Session.execute is typed Result.
    result = cast(
        CursorResult[Any],
        session.execute(
            update(quotas)
            .where(
                quotas.c.user_id == quota.user_id,
                quotas.c.period_id == quota.period_id,
                quotas.c.kind == quota.kind.value,
                quotas.c.version == quota.version - 1,
            )
            .values(**values)
        ),
    )
    if result.rowcount != 1:
        raise concurrent


def add_change(session: Session, change: QuotaChange) -> None:
    session.execute(
        insert(quota_changes).values(
            user_id=change.user_id,
            period_id=change.period_id,
            kind=change.kind.value,
            from_minor=change.from_minor,
            to_minor=change.to_minor,
            currency=change.currency,
            changed_by=change.changed_by,
            changed_at=change.changed_at,
        )
    )


def changes(session: Session, user_id: str, period_id: str | None, *, limit: int) -> list[QuotaChange]:
    """A user's quota changes (of one period, or all), newest first."""
    statement = select(quota_changes).where(quota_changes.c.user_id == user_id)
    if period_id is not None:
        statement = statement.where(quota_changes.c.period_id == period_id)
    # The id breaks ties between changes of one commit, which share their time.
    statement = statement.order_by(quota_changes.c.changed_at.desc(), quota_changes.c.id.desc()).limit(limit)
    return [_change(row) for row in session.execute(statement)]


def draft(
    session: Session, manager_user_id: str, period_id: str
) -> tuple[list[DraftAllocation], datetime | None]:
    """A manager's draft for a period (empty when none) and when it was saved."""
    rows = session.execute(
        select(quota_drafts)
        .where(quota_drafts.c.manager_user_id == manager_user_id, quota_drafts.c.period_id == period_id)
        .order_by(quota_drafts.c.user_id, quota_drafts.c.kind)
    ).all()
    allocations = [DraftAllocation(row.user_id, QuotaKind(row.kind), row.amount_minor) for row in rows]
    updated_at = max((as_utc(row.updated_at) for row in rows), default=None)
    return allocations, updated_at


def replace_draft(
    session: Session,
    manager_user_id: str,
    period_id: str,
    allocations: Sequence[DraftAllocation],
    now: datetime,
) -> None:
    delete_draft(session, manager_user_id, period_id)
    if allocations:
        session.execute(
            insert(quota_drafts),
            [
                {
                    "manager_user_id": manager_user_id,
                    "period_id": period_id,
                    "user_id": allocation.user_id,
                    "kind": allocation.kind.value,
                    "amount_minor": allocation.amount_minor,
                    "updated_at": now,
                }
                for allocation in allocations
            ],
        )


def delete_draft(session: Session, manager_user_id: str, period_id: str) -> None:
    session.execute(
        delete(quota_drafts).where(
            quota_drafts.c.manager_user_id == manager_user_id, quota_drafts.c.period_id == period_id
        )
    )


def _quota(row: Row) -> Quota:  # type: ignore[type-arg]
    return Quota(
        user_id=row.user_id,
        period_id=row.period_id,
        kind=QuotaKind(row.kind),
        amount_minor=row.amount_minor,
        currency=row.currency,
        committed_by=row.committed_by,
        committed_at=as_utc(row.committed_at),
        version=row.version,
    )


def _change(row: Row) -> QuotaChange:  # type: ignore[type-arg]
    return QuotaChange(
        user_id=row.user_id,
        period_id=row.period_id,
        kind=QuotaKind(row.kind),
        from_minor=row.from_minor,
        to_minor=row.to_minor,
        currency=row.currency,
        changed_by=row.changed_by,
        changed_at=as_utc(row.changed_at),
    )
