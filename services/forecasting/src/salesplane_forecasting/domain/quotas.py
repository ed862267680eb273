"""Quotas: the sales plan split top-down, in the deployment's base currency.

An administrator sets the top target. Each manager splits their own ("assigned") quota among their
direct reports (each report's "assigned" quota) and keeps a "direct" part they carry personally.
The split is a draft only its author sees until committed. A plan may be committed over- or
under-allocated: the gap is shown, never forbidden, because real plans are often uneven on purpose.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from salesplane_forecasting.domain.amounts import basis_points
from salesplane_forecasting.domain.periods import check_period_id
from salesplane_platform.errors import FieldViolation, InvalidArgument, Validator
from salesplane_platform.identifiers import check_user_id, derived_aggregate_id
from salesplane_platform.money import MAX_AMOUNT_MINOR, MoneyInput, is_currency

# A manager's direct reports plus their own row; far above any real span of control, and a bound
# on what one request may make the server write.
MAX_ALLOCATIONS = 1000


class QuotaKind(StrEnum):
    # What the user's manager (or an admin) assigned: a rep's quota, a manager's team target.
    ASSIGNED = "assigned"
    # The part of a manager's quota they carry with their own deals.
    DIRECT = "direct"


def own_quota_kind(has_reports: bool) -> QuotaKind:
    """The quota a user's own deals count against: a manager's direct part (their assigned quota is
    their team's target), else the assigned one."""
    return QuotaKind.DIRECT if has_reports else QuotaKind.ASSIGNED


def attainment_basis_points(closed_won_minor: int, quota_minor: int | None) -> int:
    """Closed won against the quota in basis points (10000 = 100 %), rounded half-up; 0 without a
    positive quota."""
    return basis_points(closed_won_minor, quota_minor)


@dataclass(frozen=True)
class Quota:
    """A committed quota; version grows by one with every committed change of this row."""

    user_id: str
    period_id: str
    kind: QuotaKind
    amount_minor: int
    currency: str
    committed_by: str
    committed_at: datetime
    version: int
    # Raised by next_quota(), taken by the unit of work on commit; no part of the quota's value.
    events: list[QuotaCommitted] = field(default_factory=list, compare=False, repr=False)

    @property
    def aggregate_id(self) -> str:
        return quota_aggregate_id(self.user_id, self.period_id, self.kind)


@dataclass(frozen=True)
class QuotaChange:
    """One committed change of a quota; from_minor is None for the first."""

    user_id: str
    period_id: str
    kind: QuotaKind
    from_minor: int | None
    to_minor: int
    currency: str
    changed_by: str
    changed_at: datetime


@dataclass(frozen=True)
class AllocationInput:
    """One row of a draft as the caller sent it; kind None means unspecified or unknown."""

    user_id: str
    kind: QuotaKind | None
    amount: MoneyInput | None


@dataclass(frozen=True)
class DraftAllocation:
    """One validated row of a manager's draft."""

    user_id: str
    kind: QuotaKind
    amount_minor: int

    @property
    def key(self) -> tuple[str, QuotaKind]:
        return self.user_id, self.kind


@dataclass(frozen=True)
class PlanMember:
    """A row a manager's plan always has: a direct report (ASSIGNED) or the manager (DIRECT)."""

    user_id: str
    display_name: str
    kind: QuotaKind

    @property
    def key(self) -> tuple[str, QuotaKind]:
        return self.user_id, self.kind


@dataclass(frozen=True)
class AllocationRow:
    user_id: str
    display_name: str
    kind: QuotaKind
    # None when nothing is committed.
    committed_minor: int | None
    # None unless the caller is the draft's author and the draft changes this row.
    draft_minor: int | None

    @property
    def shown_minor(self) -> int:
        """What the row counts towards the allocated sum: the draft where shown, else committed."""
        if self.draft_minor is not None:
            return self.draft_minor
        return self.committed_minor or 0


@dataclass(frozen=True)
class QuotaPlan:
    manager_user_id: str
    period_id: str
    # The manager's own committed assigned quota; None when none is committed.
    quota_minor: int | None
    allocations: tuple[AllocationRow, ...]
    draft_updated_at: datetime | None
    last_commit_at: datetime | None

    @property
    def allocated_minor(self) -> int:
        return sum(row.shown_minor for row in self.allocations)

    @property
    def unallocated_minor(self) -> int:
        """Positive: under-allocated; negative: over-allocated. No quota counts as zero."""
        return (self.quota_minor or 0) - self.allocated_minor

    @property
    def has_draft(self) -> bool:
        return any(row.draft_minor is not None for row in self.allocations)


def quota_aggregate_id(user_id: str, period_id: str, kind: QuotaKind) -> str:
    return derived_aggregate_id("quota", user_id, period_id, kind.value)


def check_amount(
    check: Validator, refusals: Validator, field: str, value: MoneyInput | None, base_currency: str
) -> int | None:
    """The amount in minor units when it is given, in the base currency and within bounds; a
    currency other than the configured base one goes to `refusals` (the request's form is sound)."""
    if value is None:
        check.fail(field, f"is required (an amount in {base_currency})")
        return None
    known_currency = check.require(
        is_currency(value.currency), f"{field}.currency_code", "must be an ISO 4217 currency code"
    )
    base = not known_currency or refusals.require(
        value.currency == base_currency,
        f"{field}.currency_code",
        f"must be the base currency {base_currency}, got {value.currency}",
    )
    valid_amount = check.require(
        0 <= value.amount_minor <= MAX_AMOUNT_MINOR,
        f"{field}.amount_minor",
        f"must be between 0 and {MAX_AMOUNT_MINOR} minor units",
    )
    return value.amount_minor if known_currency and base and valid_amount else None


def validate_quota_request(
    *, user_id: str, period_id: str, amount: MoneyInput | None, base_currency: str
) -> int:
    """Validate an administrator's SetQuota; the amount in minor units."""
    check = Validator()
    check_user_id(check, "user_id", user_id)
    check_period_id(check, "period_id", period_id)
    refusals = Validator()
    amount_minor = check_amount(check, refusals, "amount", amount, base_currency)
    check.raise_if_invalid()
    refusals.raise_if_refused("NOT_BASE_CURRENCY")
    assert amount_minor is not None
    return amount_minor


def validate_draft(
    *, manager_user_id: str, period_id: str, allocations: Sequence[AllocationInput], base_currency: str
) -> list[DraftAllocation]:
    """Everything about a draft that needs no database: ids, kinds, amounts, duplicates.

    Whether each ASSIGNED user reports directly to the manager is checked against the organisation
    by the caller (see outside_the_team)."""
    check = Validator()
    check_user_id(check, "manager_user_id", manager_user_id)
    check_period_id(check, "period_id", period_id)
    if len(allocations) > MAX_ALLOCATIONS:
        raise InvalidArgument(FieldViolation("allocations", f"at most {MAX_ALLOCATIONS} allocations"))
    valid: list[DraftAllocation] = []
    seen: set[tuple[str, QuotaKind]] = set()
    refusals = Validator()
    for index, allocation in enumerate(allocations):
        field = f"allocations[{index}]"
        amount_minor = check_amount(check, refusals, f"{field}.amount", allocation.amount, base_currency)
        if not check_user_id(check, f"{field}.user_id", allocation.user_id):
            continue
        kind = allocation.kind
        if not check.require(kind is not None, f"{field}.kind", "must be ASSIGNED or DIRECT"):
            continue
        assert kind is not None
        if kind is QuotaKind.DIRECT:
            mine = check.require(
                allocation.user_id == manager_user_id,
                f"{field}.user_id",
                f"a DIRECT allocation is the manager's own; must be {manager_user_id}",
            )
        else:
            mine = check.require(
                allocation.user_id != manager_user_id,
                f"{field}.user_id",
                "a manager's own part of the plan is the DIRECT allocation, not ASSIGNED",
            )
        if not mine:
            continue
        if not check.require(
            (allocation.user_id, kind) not in seen,
            f"{field}.user_id",
            f"{allocation.user_id} is allocated {kind.value.upper()} more than once",
        ):
            continue
        seen.add((allocation.user_id, kind))
        if amount_minor is not None:
            valid.append(DraftAllocation(allocation.user_id, kind, amount_minor))
    check.raise_if_invalid()
    refusals.raise_if_refused("NOT_BASE_CURRENCY")
    return valid


def outside_the_team(
    allocations: Sequence[DraftAllocation], manager_user_id: str, direct_reports: Iterable[str]
) -> list[FieldViolation]:
    """A violation for each ASSIGNED row whose user does not report directly to the manager."""
    reports = set(direct_reports)
    return [
        FieldViolation(
            f"allocations[{index}].user_id",
            f"{allocation.user_id} does not report directly to {manager_user_id}",
        )
        for index, allocation in enumerate(allocations)
        if allocation.kind is QuotaKind.ASSIGNED and allocation.user_id not in reports
    ]


def plan_members(
    manager_user_id: str, manager_display_name: str, direct_reports: Iterable[tuple[str, str]]
) -> list[PlanMember]:
    """Every direct report (ASSIGNED), then the manager's own DIRECT row."""
    members = [PlanMember(user_id, name, QuotaKind.ASSIGNED) for user_id, name in direct_reports]
    members.append(PlanMember(manager_user_id, manager_display_name, QuotaKind.DIRECT))
    return members


def build_plan(
    *,
    manager_user_id: str,
    period_id: str,
    quota: Quota | None,
    members: Sequence[PlanMember],
    committed: Mapping[tuple[str, QuotaKind], Quota],
    draft: Mapping[tuple[str, QuotaKind], int],
    draft_updated_at: datetime | None,
) -> QuotaPlan:
    """The plan as one caller sees it: pass an empty draft for anyone but its author.

    A draft value equal to what is committed changes nothing, so it is not shown as a draft."""
    rows: list[AllocationRow] = []
    for member in members:
        current = committed.get(member.key)
        committed_minor = current.amount_minor if current else None
        drafted = draft.get(member.key)
        rows.append(
            AllocationRow(
                user_id=member.user_id,
                display_name=member.display_name,
                kind=member.kind,
                committed_minor=committed_minor,
                draft_minor=drafted if drafted != committed_minor else None,
            )
        )
    commit_times = [committed[m.key].committed_at for m in members if m.key in committed]
    return QuotaPlan(
        manager_user_id=manager_user_id,
        period_id=period_id,
        quota_minor=quota.amount_minor if quota else None,
        allocations=tuple(rows),
        draft_updated_at=draft_updated_at if draft else None,
        last_commit_at=max(commit_times, default=None),
    )


def changed_allocations(
    draft: Sequence[DraftAllocation], committed: Mapping[tuple[str, QuotaKind], Quota]
) -> list[DraftAllocation]:
    """The draft rows that differ from what is committed: what a commit must write."""
    return [
        allocation
        for allocation in draft
        if (current := committed.get(allocation.key)) is None
        or current.amount_minor != allocation.amount_minor
    ]


def next_quota(
    existing: Quota | None,
    *,
    user_id: str,
    period_id: str,
    kind: QuotaKind,
    amount_minor: int,
    currency: str,
    committed_by: str,
    now: datetime,
) -> tuple[Quota, QuotaChange] | None:
    """The quota after committing amount_minor and the change that records it; None when unchanged."""
    if existing is not None and existing.amount_minor == amount_minor and existing.currency == currency:
        return None
    quota = Quota(
        user_id=user_id,
        period_id=period_id,
        kind=kind,
        amount_minor=amount_minor,
        currency=currency,
        committed_by=committed_by,
        committed_at=now,
        version=(existing.version if existing else 0) + 1,
    )
    change = QuotaChange(
        user_id=user_id,
        period_id=period_id,
        kind=kind,
        from_minor=existing.amount_minor if existing else None,
        to_minor=amount_minor,
        currency=currency,
        changed_by=committed_by,
        changed_at=now,
    )
    quota.events.append(QuotaCommitted(replace(quota, events=[]), change))
    return quota, change


@dataclass(frozen=True)
class QuotaCommitted:
    """A quota was committed: its new state and the change that records it."""

    quota: Quota
    change: QuotaChange


def draft_state(
    manager_user_id: str, period_id: str, draft: Sequence[DraftAllocation], currency: str
) -> dict[str, object]:
    """A saved draft as the audit log keeps it (JSON values)."""
    return {
        "manager_user_id": manager_user_id,
        "period_id": period_id,
        "currency_code": currency,
        "allocations": [
            {"user_id": a.user_id, "kind": a.kind.value, "amount_minor": a.amount_minor} for a in draft
        ],
    }
