"""gRPC entry point of the pipeline inspection (InspectionService)."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from salesplane.forecasting.v1 import inspection_pb2, inspection_pb2_grpc
from salesplane_forecasting.adapters.inspection_mapping import (
    rep_to_proto,
    settings_to_proto,
    team_to_proto,
    thresholds_from_proto,
)
from salesplane_forecasting.adapters.risk_alert_mapping import alert_to_proto
from salesplane_forecasting.service_layer import inspection, inspection_settings, risk_alerts
from salesplane_forecasting.service_layer.unit_of_work import ForecastingUnitOfWork
from salesplane_platform.errors import FieldViolation, InvalidArgument
from salesplane_platform.grpc_interceptor import current_caller


class InspectionServicer(inspection_pb2_grpc.InspectionServiceServicer):
    def __init__(self, unit_of_work: Callable[[], ForecastingUnitOfWork], base_currency: str) -> None:
        self._uow = unit_of_work
        self._currency = base_currency

    def GetInspectionSettings(
        self, request: inspection_pb2.GetInspectionSettingsRequest, context: grpc.ServicerContext
    ) -> inspection_pb2.InspectionSettings:
        return settings_to_proto(inspection_settings.get_inspection_settings(uow=self._uow()))

    def UpdateInspectionSettings(
        self, request: inspection_pb2.UpdateInspectionSettingsRequest, context: grpc.ServicerContext
    ) -> inspection_pb2.InspectionSettings:
        # Before the mapping: a non-administrator learns PERMISSION_DENIED, not what was malformed.
        caller = current_caller()
        inspection_settings.ensure_may_change_inspection_settings(caller)
        if not request.settings.HasField("thresholds"):
            raise InvalidArgument(FieldViolation("settings.thresholds", "is required"))
        thresholds = thresholds_from_proto(request.settings.thresholds)
        try:
            saved = inspection_settings.update_inspection_settings(
                thresholds=thresholds,
                expected_version=request.expected_version or None,
                caller=caller,
                uow=self._uow(),
            )
        except InvalidArgument as error:
            # The fields as the request names them.
            raise InvalidArgument(
                [FieldViolation(f"settings.{v.field}", v.description) for v in error.violations]
            ) from None
        return settings_to_proto(saved)

    def InspectTeam(
        self, request: inspection_pb2.InspectTeamRequest, context: grpc.ServicerContext
    ) -> inspection_pb2.TeamInspection:
        team = inspection.inspect_team(
            manager_user_id=request.manager_user_id,
            period_id=request.period_id,
            caller=current_caller(),
            uow=self._uow(),
            base_currency=self._currency,
        )
        return team_to_proto(team, self._currency)

    def InspectRep(
        self, request: inspection_pb2.InspectRepRequest, context: grpc.ServicerContext
    ) -> inspection_pb2.RepInspection:
        rep = inspection.inspect_rep_deals(
            user_id=request.user_id,
            period_id=request.period_id,
            caller=current_caller(),
            uow=self._uow(),
            base_currency=self._currency,
        )
        return rep_to_proto(rep, self._currency)

    def ListRiskAlerts(
        self, request: inspection_pb2.ListRiskAlertsRequest, context: grpc.ServicerContext
    ) -> inspection_pb2.ListRiskAlertsResponse:
        page = risk_alerts.list_risk_alerts(
            user_id=request.user_id,
            period_id=request.period_id,
            page_size=request.page_size,
            page_token=request.page_token,
            caller=current_caller(),
            uow=self._uow(),
        )
        return inspection_pb2.ListRiskAlertsResponse(
            alerts=[alert_to_proto(alert, self._currency) for alert in page.alerts],
            next_page_token=page.next_page_token,
        )
