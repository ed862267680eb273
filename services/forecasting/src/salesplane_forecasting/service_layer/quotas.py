"""Use cases of the sales plan: administrators set top targets, managers split theirs among their
direct reports through a draft only they see, and commit it; everyone reads what is committed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from salesplane_forecasting.adapters import quota_store, user_store
from salesplane_forecasting.adapters.outbox_events import record_quota_committed
from salesplane_forecasting.domain import quotas
from salesplane_forecasting.domain.org import User
from salesplane_forecasting.domain.periods import check_period_id
from salesplane_forecasting.domain.quotas import (
    AllocationInput,
    DraftAllocation,
    Quota,
    QuotaChange,
    QuotaKind,
    QuotaPlan,
)
from salesplane_forecasting.service_layer.access import ensure_can_read_user
from salesplane_platform.errors import FailedPrecondition, NotFound, PermissionDenied, Validator
from salesplane_platform.identifiers import check_user_id
from salesplane_platform.identity import ROLE_MANAGER, Identity
from salesplane_platform.money import MoneyInput
from salesplane_platform.unit_of_work import SqlUnitOfWork

# The contract has no paging; a user's quota history is a handful of changes per period.
MAX_CHANGES = 1000


def set_quota(
    *,
    user_id: str,
    period_id: str,
    amount: MoneyInput | None,
    caller: Identity,
    uow: SqlUnitOfWork,
    base_currency: str,
) -> Quota:
    """Commit a user's assigned quota at once (administrators only)."""
    if not caller.is_admin:
        raise PermissionDenied("only administrators set quotas directly; managers split theirs in a plan")
    amount_minor = quotas.validate_quota_request(
        user_id=user_id, period_id=period_id, amount=amount, base_currency=base_currency
    )
    with uow:
        session = uow.session
        if user_store.get(session, user_id) is None:
            raise NotFound("user", user_id)
        existing = quota_store.get(session, user_id, period_id, QuotaKind.ASSIGNED, for_update=True)
        target = DraftAllocation(user_id, QuotaKind.ASSIGNED, amount_minor)
        committed = _commit_one(
            uow, existing, target, period_id=period_id, currency=base_currency, caller=caller, now=_now()
        )
        uow.commit()
        if committed is None:
            # The same amount again: nothing to record.
            assert existing is not None
            return existing
        return committed


def get_quota(
    *, user_id: str, period_id: str, kind: QuotaKind | None, caller: Identity, uow: SqlUnitOfWork
) -> Quota:
    """A user's committed quota; never a draft."""
    check = Validator()
    check_user_id(check, "user_id", user_id)
    check_period_id(check, "period_id", period_id)
    check.require(kind is not None, "kind", "must be ASSIGNED, DIRECT or unspecified (ASSIGNED)")
    check.raise_if_invalid()
    assert kind is not None
    with uow:
        ensure_can_read_user(uow.session, caller, user_id)
        quota = quota_store.get(uow.session, user_id, period_id, kind)
        if quota is None:
            raise NotFound("quota", f"{user_id}/{period_id}/{kind.value}")
        return quota


def get_quota_plan(
    *, manager_user_id: str, period_id: str, caller: Identity, uow: SqlUnitOfWork
) -> QuotaPlan:
    """A manager's split; the draft in it only for the manager themself."""
    manager_user_id = manager_user_id or caller.subject
    _validate_plan_request(manager_user_id, period_id)
    with uow:
        manager = _existing_user(uow.session, manager_user_id)
        ensure_can_read_user(uow.session, caller, manager_user_id)
        return _plan(uow.session, manager, period_id, show_draft=caller.subject == manager_user_id)


def save_quota_draft(
    *,
    manager_user_id: str,
    period_id: str,
    allocations: Sequence[AllocationInput],
    caller: Identity,
    uow: SqlUnitOfWork,
    base_currency: str,
) -> QuotaPlan:
    """Replace the manager's whole draft for the period; only the manager may."""
    manager_user_id = manager_user_id or caller.subject
    _ensure_is_the_manager(caller, manager_user_id, "save a quota draft")
    draft = quotas.validate_draft(
        manager_user_id=manager_user_id,
        period_id=period_id,
        allocations=allocations,
        base_currency=base_currency,
    )
    with uow:
        session = uow.session
        # Locking the manager's row makes their saves and commits take turns.
        manager = _existing_user(session, manager_user_id, for_update=True)
        reports = [user.user_id for user in user_store.subtree(session, manager_user_id, direct_only=True)]
        strangers = quotas.outside_the_team(draft, manager_user_id, reports)
        if strangers:
            raise FailedPrecondition(
                "; ".join(f"{v.field}: {v.description}" for v in strangers), reason="NOT_A_DIRECT_REPORT"
            )
        quota_store.replace_draft(session, manager_user_id, period_id, draft, _now())
        plan = _plan(session, manager, period_id, show_draft=True)
        uow.commit()
        return plan


def commit_quota_plan(
    *, manager_user_id: str, period_id: str, caller: Identity, uow: SqlUnitOfWork, base_currency: str
) -> QuotaPlan:
    """Commit every draft allocation that changes a quota, then drop the draft; only the manager."""
    manager_user_id = manager_user_id or caller.subject
    _ensure_is_the_manager(caller, manager_user_id, "commit a quota plan")
    _validate_plan_request(manager_user_id, period_id)
    with uow:
        session = uow.session
        manager = _existing_user(session, manager_user_id, for_update=True)
        draft, _ = quota_store.draft(session, manager_user_id, period_id)
        if not draft:
            raise FailedPrecondition(
                f"{manager_user_id} has no quota draft for {period_id}; save one first", reason="NO_DRAFT"
            )
        _ensure_still_reports(session, manager_user_id, period_id, draft)
        committed = quota_store.committed_rows(
            session, [allocation.user_id for allocation in draft], period_id, for_update=True
        )
        # One time for the whole plan: it is one decision.
        now = _now()
        for allocation in quotas.changed_allocations(draft, committed):
            _commit_one(
                uow,
                committed.get(allocation.key),
                allocation,
                period_id=period_id,
                currency=base_currency,
                caller=caller,
                now=now,
            )
        quota_store.delete_draft(session, manager_user_id, period_id)
        plan = _plan(session, manager, period_id, show_draft=True)
        uow.commit()
        return plan


def list_quota_changes(
    *, user_id: str, period_id: str, caller: Identity, uow: SqlUnitOfWork
) -> list[QuotaChange]:
    """A user's committed quota changes, newest first (period_id empty: every period)."""
    check = Validator()
    check_user_id(check, "user_id", user_id)
    if period_id:
        check_period_id(check, "period_id", period_id)
    check.raise_if_invalid()
    with uow:
        ensure_can_read_user(uow.session, caller, user_id)
        return quota_store.changes(uow.session, user_id, period_id or None, limit=MAX_CHANGES)


def _validate_plan_request(manager_user_id: str, period_id: str) -> None:
    check = Validator()
    check_user_id(check, "manager_user_id", manager_user_id)
    check_period_id(check, "period_id", period_id)
    check.raise_if_invalid()


def _ensure_is_the_manager(caller: Identity, manager_user_id: str, action: str) -> None:
    # A draft is the manager's own working copy: not even an administrator writes someone else's.
    if caller.subject != manager_user_id or not caller.has_any(ROLE_MANAGER):
        raise PermissionDenied(f"only {manager_user_id} as a manager may {action} of their own")


def _existing_user(session: Session, user_id: str, *, for_update: bool = False) -> User:
    user = user_store.get(session, user_id, for_update=for_update)
    if user is None:
        raise NotFound("user", user_id)
    return user


def _ensure_still_reports(
    session: Session, manager_user_id: str, period_id: str, draft: Sequence[DraftAllocation]
) -> None:
    """A report may have moved to another manager since the draft was saved: never commit their quota."""
    reports = {user.user_id for user in user_store.subtree(session, manager_user_id, direct_only=True)}
    moved = sorted(a.user_id for a in draft if a.kind is QuotaKind.ASSIGNED and a.user_id not in reports)
    if moved:
        raise FailedPrecondition(
            f"{', '.join(moved)} no longer report(s) directly to {manager_user_id}; "
            f"save the {period_id} draft again without them",
            reason="NOT_A_DIRECT_REPORT",
        )


def _plan(session: Session, manager: User, period_id: str, *, show_draft: bool) -> QuotaPlan:
    reports = user_store.subtree(session, manager.user_id, direct_only=True)
    members = quotas.plan_members(
        manager.user_id, manager.display_name, [(user.user_id, user.display_name) for user in reports]
    )
    committed = quota_store.committed_rows(session, [member.user_id for member in members], period_id)
    draft, draft_updated_at = (
        quota_store.draft(session, manager.user_id, period_id) if show_draft else ([], None)
    )
    return quotas.build_plan(
        manager_user_id=manager.user_id,
        period_id=period_id,
        quota=committed.get((manager.user_id, QuotaKind.ASSIGNED)),
        members=members,
        committed=committed,
        draft={allocation.key: allocation.amount_minor for allocation in draft},
        draft_updated_at=draft_updated_at,
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _commit_one(
    uow: SqlUnitOfWork,
    existing: Quota | None,
    target: DraftAllocation,
    *,
    period_id: str,
    currency: str,
    caller: Identity,
    now: datetime,
) -> Quota | None:
    """Write one quota, its history row and its QuotaCommitted event; None when nothing changed."""
    changed = quotas.next_quota(
        existing,
        user_id=target.user_id,
        period_id=period_id,
        kind=target.kind,
        amount_minor=target.amount_minor,
        currency=currency,
        committed_by=caller.subject,
        now=now,
    )
    if changed is None:
        return None
    quota, change = changed
    quota_store.save(uow.session, quota)
    quota_store.add_change(uow.session, change)
    record_quota_committed(uow, quota, change, actor=caller.subject)
    return quota
