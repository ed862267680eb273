"""Quotas between the domain and the protobuf contract."""

from __future__ import annotations

from collections.abc import Iterable

from salesplane.common.v1.common_pb2 import Money
from salesplane.forecasting.v1 import quotas_pb2
from salesplane_forecasting.domain.quotas import (
    AllocationInput,
    AllocationRow,
    Quota,
    QuotaChange,
    QuotaKind,
    QuotaPlan,
)
from salesplane_platform.money import MoneyInput
from salesplane_platform.proto_values import money_input_from_proto
from salesplane_platform.proto_values import money_message as money

_KIND_TO_PROTO = {
    QuotaKind.ASSIGNED: quotas_pb2.QUOTA_KIND_ASSIGNED,
    QuotaKind.DIRECT: quotas_pb2.QUOTA_KIND_DIRECT,
}
_KIND_FROM_PROTO = {number: kind for kind, number in _KIND_TO_PROTO.items()}


def kind_to_proto(kind: QuotaKind) -> quotas_pb2.QuotaKind.ValueType:
    return _KIND_TO_PROTO[kind]


def kind_from_proto(value: quotas_pb2.QuotaKind.ValueType) -> QuotaKind | None:
    """None for UNSPECIFIED and for numbers this contract does not know (proto3 enums are open)."""
    return _KIND_FROM_PROTO.get(value)


def money_input(message: Money, present: bool) -> MoneyInput | None:
    """What the caller sent; None when the field was left out."""
    return money_input_from_proto(message) if present else None


def allocations_from_proto(allocations: Iterable[quotas_pb2.DraftAllocation]) -> list[AllocationInput]:
    return [
        AllocationInput(
            user_id=allocation.user_id,
            kind=kind_from_proto(allocation.kind),
            amount=money_input(allocation.amount, allocation.HasField("amount")),
        )
        for allocation in allocations
    ]


def quota_to_proto(quota: Quota) -> quotas_pb2.Quota:
    message = quotas_pb2.Quota(
        user_id=quota.user_id,
        period_id=quota.period_id,
        kind=kind_to_proto(quota.kind),
        amount=money(quota.amount_minor, quota.currency),
        committed_by=quota.committed_by,
        version=quota.version,
    )
    message.commit_time.FromDatetime(quota.committed_at)
    return message


def change_to_proto(change: QuotaChange) -> quotas_pb2.QuotaChange:
    message = quotas_pb2.QuotaChange(
        user_id=change.user_id,
        period_id=change.period_id,
        kind=kind_to_proto(change.kind),
        to_amount=money(change.to_minor, change.currency),
        changed_by=change.changed_by,
    )
    if change.from_minor is not None:
        message.from_amount.CopyFrom(money(change.from_minor, change.currency))
    message.change_time.FromDatetime(change.changed_at)
    return message


def plan_to_proto(plan: QuotaPlan, currency: str) -> quotas_pb2.QuotaPlan:
    message = quotas_pb2.QuotaPlan(
        manager_user_id=plan.manager_user_id,
        period_id=plan.period_id,
        allocations=[_allocation_to_proto(row, currency) for row in plan.allocations],
        allocated=money(plan.allocated_minor, currency),
        unallocated=money(plan.unallocated_minor, currency),
        has_draft=plan.has_draft,
    )
    if plan.quota_minor is not None:
        message.quota.CopyFrom(money(plan.quota_minor, currency))
    if plan.draft_updated_at is not None:
        message.draft_update_time.FromDatetime(plan.draft_updated_at)
    if plan.last_commit_at is not None:
        message.last_commit_time.FromDatetime(plan.last_commit_at)
    return message


def _allocation_to_proto(row: AllocationRow, currency: str) -> quotas_pb2.QuotaAllocation:
    message = quotas_pb2.QuotaAllocation(
        user_id=row.user_id, display_name=row.display_name, kind=kind_to_proto(row.kind)
    )
    if row.committed_minor is not None:
        message.committed.CopyFrom(money(row.committed_minor, currency))
    if row.draft_minor is not None:
        message.draft.CopyFrom(money(row.draft_minor, currency))
    return message
