"""gRPC entry point of the forecast settings and fiscal periods (ForecastSettingsService)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import grpc

from salesplane.forecasting.v1 import settings_pb2, settings_pb2_grpc
from salesplane_forecasting.adapters.settings_mapping import (
    period_to_proto,
    settings_from_proto,
    settings_to_proto,
)
from salesplane_forecasting.service_layer import forecast_settings
from salesplane_forecasting.service_layer.unit_of_work import ForecastingUnitOfWork
from salesplane_platform.grpc_interceptor import current_caller
from salesplane_platform.proto_values import date_from_proto


class ForecastSettingsServicer(settings_pb2_grpc.ForecastSettingsServiceServicer):
    def __init__(self, unit_of_work: Callable[[], ForecastingUnitOfWork], base_currency: str) -> None:
        self._uow = unit_of_work
        self._base_currency = base_currency

    def GetForecastSettings(
        self, request: settings_pb2.GetForecastSettingsRequest, context: grpc.ServicerContext
    ) -> settings_pb2.ForecastSettings:
        settings = forecast_settings.get_settings(uow=self._uow())
        return settings_to_proto(settings, self._base_currency)

    def UpdateForecastSettings(
        self, request: settings_pb2.UpdateForecastSettingsRequest, context: grpc.ServicerContext
    ) -> settings_pb2.ForecastSettings:
        # Before the mapping: a non-administrator learns PERMISSION_DENIED, not what was malformed.
        caller = current_caller()
        forecast_settings.ensure_may_change_settings(caller)
        settings = forecast_settings.update_settings(
            values=settings_from_proto(request.settings),
            expected_version=request.expected_version or None,
            caller=caller,
            uow=self._uow(),
            base_currency=self._base_currency,
        )
        return settings_to_proto(settings, self._base_currency)

    def ListPeriods(
        self, request: settings_pb2.ListPeriodsRequest, context: grpc.ServicerContext
    ) -> settings_pb2.ListPeriodsResponse:
        periods = forecast_settings.list_periods(
            fiscal_year=request.fiscal_year, uow=self._uow(), today=datetime.now(UTC).date()
        )
        return settings_pb2.ListPeriodsResponse(periods=[period_to_proto(p) for p in periods])

    def GetPeriodOfDate(
        self, request: settings_pb2.GetPeriodOfDateRequest, context: grpc.ServicerContext
    ) -> settings_pb2.PeriodOfDate:
        quarter, month = forecast_settings.period_of_date(day=date_from_proto(request.date), uow=self._uow())
        return settings_pb2.PeriodOfDate(quarter=period_to_proto(quarter), month=period_to_proto(month))
