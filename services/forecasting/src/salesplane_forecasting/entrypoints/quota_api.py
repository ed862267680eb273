"""gRPC entry point of the sales plan (QuotaService)."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from salesplane.forecasting.v1 import quotas_pb2, quotas_pb2_grpc
from salesplane_forecasting.adapters.quota_mapping import (
    allocations_from_proto,
    change_to_proto,
    kind_from_proto,
    money_input,
    plan_to_proto,
    quota_to_proto,
)
from salesplane_forecasting.domain.quotas import QuotaKind
from salesplane_forecasting.service_layer import quotas
from salesplane_forecasting.service_layer.unit_of_work import ForecastingUnitOfWork
from salesplane_platform.grpc_interceptor import current_caller


class QuotaServicer(quotas_pb2_grpc.QuotaServiceServicer):
    def __init__(self, unit_of_work: Callable[[], ForecastingUnitOfWork], base_currency: str) -> None:
        self._uow = unit_of_work
        self._currency = base_currency

    def SetQuota(
        self, request: quotas_pb2.SetQuotaRequest, context: grpc.ServicerContext
    ) -> quotas_pb2.Quota:
        quota = quotas.set_quota(
            user_id=request.user_id,
            period_id=request.period_id,
            amount=money_input(request.amount, request.HasField("amount")),
            caller=current_caller(),
            uow=self._uow(),
            base_currency=self._currency,
        )
        return quota_to_proto(quota)

    def GetQuota(
        self, request: quotas_pb2.GetQuotaRequest, context: grpc.ServicerContext
    ) -> quotas_pb2.Quota:
        # Unspecified means ASSIGNED; an unknown number stays None and is rejected.
        kind = (
            QuotaKind.ASSIGNED
            if request.kind == quotas_pb2.QUOTA_KIND_UNSPECIFIED
            else kind_from_proto(request.kind)
        )
        quota = quotas.get_quota(
            user_id=request.user_id,
            period_id=request.period_id,
            kind=kind,
            caller=current_caller(),
            uow=self._uow(),
        )
        return quota_to_proto(quota)

    def GetQuotaPlan(
        self, request: quotas_pb2.GetQuotaPlanRequest, context: grpc.ServicerContext
    ) -> quotas_pb2.QuotaPlan:
        plan = quotas.get_quota_plan(
            manager_user_id=request.manager_user_id,
            period_id=request.period_id,
            caller=current_caller(),
            uow=self._uow(),
        )
        return plan_to_proto(plan, self._currency)

    def SaveQuotaDraft(
        self, request: quotas_pb2.SaveQuotaDraftRequest, context: grpc.ServicerContext
    ) -> quotas_pb2.QuotaPlan:
        plan = quotas.save_quota_draft(
            manager_user_id=request.manager_user_id,
            period_id=request.period_id,
            allocations=allocations_from_proto(request.allocations),
            caller=current_caller(),
            uow=self._uow(),
            base_currency=self._currency,
        )
        return plan_to_proto(plan, self._currency)

    def CommitQuotaPlan(
        self, request: quotas_pb2.CommitQuotaPlanRequest, context: grpc.ServicerContext
    ) -> quotas_pb2.QuotaPlan:
        plan = quotas.commit_quota_plan(
            manager_user_id=request.manager_user_id,
            period_id=request.period_id,
            caller=current_caller(),
            uow=self._uow(),
            base_currency=self._currency,
        )
        return plan_to_proto(plan, self._currency)

    def ListQuotaChanges(
        self, request: quotas_pb2.ListQuotaChangesRequest, context: grpc.ServicerContext
    ) -> quotas_pb2.ListQuotaChangesResponse:
        changes = quotas.list_quota_changes(
            user_id=request.user_id, period_id=request.period_id, caller=current_caller(), uow=self._uow()
        )
        return quotas_pb2.ListQuotaChangesResponse(changes=[change_to_proto(change) for change in changes])
