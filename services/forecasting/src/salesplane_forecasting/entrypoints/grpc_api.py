"""gRPC entry point of forecasting's rollups and probabilistic forecast."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from salesplane.forecasting.v1 import forecasting_pb2, forecasting_pb2_grpc
from salesplane_forecasting.adapters.rollup_mapping import (
    probabilistic_forecast_to_proto,
    rollup_to_proto,
    scope_from_proto,
)
from salesplane_forecasting.service_layer import queries, rollups
from salesplane_forecasting.service_layer.unit_of_work import ForecastingUnitOfWork
from salesplane_platform.grpc_interceptor import current_caller


class ForecastingServicer(forecasting_pb2_grpc.ForecastingServiceServicer):
    def __init__(self, unit_of_work: Callable[[], ForecastingUnitOfWork], base_currency: str) -> None:
        self._uow = unit_of_work
        self._currency = base_currency

    def GetRollup(
        self, request: forecasting_pb2.GetRollupRequest, context: grpc.ServicerContext
    ) -> forecasting_pb2.Rollup:
        rollup = queries.get_rollup(
            user_id=request.user_id,
            period_id=request.period_id,
            caller=current_caller(),
            uow=self._uow(),
        )
        return rollup_to_proto(rollup, self._currency)

    def GetProbabilisticForecast(
        self, request: forecasting_pb2.GetProbabilisticForecastRequest, context: grpc.ServicerContext
    ) -> forecasting_pb2.ProbabilisticForecast:
        forecast = queries.get_probabilistic_forecast(
            user_id=request.user_id,
            period_id=request.period_id,
            scope=scope_from_proto(request.scope),
            caller=current_caller(),
            uow=self._uow(),
        )
        return probabilistic_forecast_to_proto(forecast, self._currency)

    def RebuildRollups(
        self, request: forecasting_pb2.RebuildRollupsRequest, context: grpc.ServicerContext
    ) -> forecasting_pb2.RebuildRollupsResponse:
        rows = rollups.rebuild_rollups(caller=current_caller(), uow=self._uow())
        return forecasting_pb2.RebuildRollupsResponse(rollup_rows=rows)
