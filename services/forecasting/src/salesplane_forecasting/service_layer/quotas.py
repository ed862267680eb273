"""Use cases of the sales plan: administrators set top targets, managers split theirs among their
direct reports through a draft only they see, and commit it; everyone reads what is committed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

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
from salesplane_forecasting.service_layer.unit_of_work import ForecastingUnitOfWork
from salesplane_platform.errors import FailedPrecondition, NotFound, PermissionDenied, Validator
from salesplane_platform.identifiers import check_user_id
from salesplane_platform.identity import ROLE_MANAGER, Identity
from salesplane_platform.money import MoneyInput

# The contract has no paging; a user's quota history is a handful of changes per period.
MAX_CHANGES = 1000


def set_quota(
    *,
    user_id: str,
    period_id: str,
    amount: MoneyInput | None,
    caller: Identity,
    uow: ForecastingUnitOfWork,
    base_currency: str,
) -> Quota:
    """Commit a user's assigned quota at once (administrators only)."""
    if not caller.is_admin:
        raise PermissionDenied("only administrators set quotas directly; managers split theirs in a plan")
    amount_minor = quotas.validate_quota_request(
        user_id=user_id, period_id=period_id, amount=amount, base_currency=base_currency
    )
    with uow.acting_for(caller.subject):
        if uow.users.get(user_id) is None:
            raise NotFound("user", user_id)
        existing = uow.quotas.get(user_id, period_id, QuotaKind.ASSIGNED, for_update=True)
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
    *, user_id: str, period_id: str, kind: QuotaKind | None, caller: Identity, uow: ForecastingUnitOfWork
) -> Quota:
    """A user's committed quota; never a draft."""
    check = Validator()
    check_user_id(check, "user_id", user_id)
    check_period_id(check, "period_id", period_id)
    check.require(kind is not None, "kind", "must be ASSIGNED, DIRECT or unspecified (ASSIGNED)")
    check.raise_if_invalid()
    assert kind is not None
    with uow:
        ensure_can_read_user(uow.users, caller, user_id)
        quota = uow.quotas.get(user_id, period_id, kind)
        if quota is None:
            raise NotFound("quota", f"{user_id}/{period_id}/{kind.value}")
        return quota


def get_quota_plan(
    *, manager_user_id: str, period_id: str, caller: Identity, uow: ForecastingUnitOfWork
) -> QuotaPlan:
    """A manager's split; the draft in it only for the manager themself."""
    manager_user_id = manager_user_id or caller.subject
    _validate_plan_request(manager_user_id, period_id)
    with uow:
        manager = _existing_user(uow, manager_user_id)
        ensure_can_read_user(uow.users, caller, manager_user_id)
        return _plan(uow, manager, period_id, show_draft=caller.subject == manager_user_id)


def save_quota_draft(
    *,
    manager_user_id: str,
    period_id: str,
    allocations: Sequence[AllocationInput],
    caller: Identity,
    uow: ForecastingUnitOfWork,
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
    with uow.acting_for(caller.subject):
        # Locking the manager's row makes their saves and commits take turns.
        manager = _existing_user(uow, manager_user_id, for_update=True)
        reports = [user.user_id for user in uow.users.subtree(manager_user_id, direct_only=True)]
        strangers = quotas.outside_the_team(draft, manager_user_id, reports)
        if strangers:
            raise FailedPrecondition(
                "; ".join(f"{v.field}: {v.description}" for v in strangers), reason="NOT_A_DIRECT_REPORT"
            )
        uow.quotas.replace_draft(manager_user_id, period_id, draft, _now())
        uow.audit(
            action="QuotaDraftSaved",
            subject_type="quota_draft",
            subject_id=f"{manager_user_id}/{period_id}",
            state=quotas.draft_state(manager_user_id, period_id, draft, base_currency),
        )
        plan = _plan(uow, manager, period_id, show_draft=True)
        uow.commit()
        return plan


def commit_quota_plan(
    *, manager_user_id: str, period_id: str, caller: Identity, uow: ForecastingUnitOfWork, base_currency: str
) -> QuotaPlan:
    """Commit every draft allocation that changes a quota, then drop the draft; only the manager."""
    manager_user_id = manager_user_id or caller.subject
    _ensure_is_the_manager(caller, manager_user_id, "commit a quota plan")
    _validate_plan_request(manager_user_id, period_id)
    with uow.acting_for(caller.subject):
        manager = _existing_user(uow, manager_user_id, for_update=True)
        draft, _ = uow.quotas.draft(manager_user_id, period_id)
        if not draft:
            raise FailedPrecondition(
                f"{manager_user_id} has no quota draft for {period_id}; save one first", reason="NO_DRAFT"
            )
        _ensure_still_reports(uow, manager_user_id, period_id, draft)
        committed = uow.quotas.committed_rows(
            [allocation.user_id for allocation in draft], period_id, for_update=True
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
        uow.quotas.delete_draft(manager_user_id, period_id)
        plan = _plan(uow, manager, period_id, show_draft=True)
        uow.commit()
        return plan


def list_quota_changes(
    *, user_id: str, period_id: str, caller: Identity, uow: ForecastingUnitOfWork
) -> list[QuotaChange]:
    """A user's committed quota changes, newest first (period_id empty: every period)."""
    check = Validator()
    check_user_id(check, "user_id", user_id)
    if period_id:
        check_period_id(check, "period_id", period_id)
    check.raise_if_invalid()
    with uow:
        ensure_can_read_user(uow.users, caller, user_id)
        return uow.quotas.changes(user_id, period_id or None, limit=MAX_CHANGES)


def _validate_plan_request(manager_user_id: str, period_id: str) -> None:
    check = Validator()
    check_user_id(check, "manager_user_id", manager_user_id)
    check_period_id(check, "period_id", period_id)
    check.raise_if_invalid()


def _ensure_is_the_manager(caller: Identity, manager_user_id: str, action: str) -> None:
    # A draft is the manager's own working copy: not even an administrator writes someone else's.
    if caller.subject != manager_user_id or not caller.has_any(ROLE_MANAGER):
        raise PermissionDenied(f"only {manager_user_id} as a manager may {action} of their own")


def _existing_user(uow: ForecastingUnitOfWork, user_id: str, *, for_update: bool = False) -> User:
    user = uow.users.get(user_id, for_update=for_update)
    if user is None:
        raise NotFound("user", user_id)
    return user


def _ensure_still_reports(
    uow: ForecastingUnitOfWork, manager_user_id: str, period_id: str, draft: Sequence[DraftAllocation]
) -> None:
    """A report may have moved to another manager since the draft was saved: never commit their quota."""
    reports = {user.user_id for user in uow.users.subtree(manager_user_id, direct_only=True)}
    moved = sorted(a.user_id for a in draft if a.kind is QuotaKind.ASSIGNED and a.user_id not in reports)
    if moved:
        raise FailedPrecondition(
            f"{', '.join(moved)} no longer report(s) directly to {manager_user_id}; "
            f"save the {period_id} draft again without them",
            reason="NOT_A_DIRECT_REPORT",
        )


def _plan(uow: ForecastingUnitOfWork, manager: User, period_id: str, *, show_draft: bool) -> QuotaPlan:
    reports = uow.users.subtree(manager.user_id, direct_only=True)
    members = quotas.plan_members(
        manager.user_id, manager.display_name, [(user.user_id, user.display_name) for user in reports]
    )
    committed = uow.quotas.committed_rows([member.user_id for member in members], period_id)
    draft, draft_updated_at = uow.quotas.draft(manager.user_id, period_id) if show_draft else ([], None)
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
    uow: ForecastingUnitOfWork,
    existing: Quota | None,
    target: DraftAllocation,
    *,
    period_id: str,
    currency: str,
    caller: Identity,
    now: datetime,
) -> Quota | None:
    """Write one quota and its history row (its QuotaCommitted goes out on commit); None when nothing
    changed."""
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
    uow.quotas.save(quota)
    uow.quotas.add_change(change)
    return quota
