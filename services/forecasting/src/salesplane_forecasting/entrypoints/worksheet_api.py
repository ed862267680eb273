"""gRPC entry point of forecast worksheets and commits (WorksheetService)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import grpc

from salesplane.forecasting.v1 import worksheets_pb2, worksheets_pb2_grpc
from salesplane_forecasting.adapters.settings_mapping import commit_stage_from_proto
from salesplane_forecasting.adapters.worksheet_mapping import (
    accuracy_to_proto,
    kind_from_proto,
    manager_worksheet_to_proto,
    rep_worksheet_to_proto,
    snapshot_to_proto,
    worksheet_deal_to_proto,
)
from salesplane_forecasting.service_layer import worksheets
from salesplane_forecasting.service_layer.unit_of_work import ForecastingUnitOfWork
from salesplane_platform.grpc_interceptor import current_caller


class WorksheetServicer(worksheets_pb2_grpc.WorksheetServiceServicer):
    def __init__(self, unit_of_work: Callable[[], ForecastingUnitOfWork], base_currency: str) -> None:
        self._uow = unit_of_work
        self._currency = base_currency

    def GetRepWorksheet(
        self, request: worksheets_pb2.GetWorksheetRequest, context: grpc.ServicerContext
    ) -> worksheets_pb2.RepWorksheet:
        worksheet = worksheets.get_rep_worksheet(
            user_id=request.user_id,
            period_id=request.period_id,
            caller=current_caller(),
            uow=self._uow(),
            base_currency=self._currency,
        )
        return rep_worksheet_to_proto(worksheet, self._currency)

    def SetCommitStage(
        self, request: worksheets_pb2.SetCommitStageRequest, context: grpc.ServicerContext
    ) -> worksheets_pb2.WorksheetDeal:
        item = worksheets.set_commit_stage(
            opportunity_id=request.opportunity_id,
            commit_stage=commit_stage_from_proto(request.commit_stage, "commit_stage"),
            caller=current_caller(),
            uow=self._uow(),
        )
        return worksheet_deal_to_proto(item, self._currency)

    def GetManagerWorksheet(
        self, request: worksheets_pb2.GetWorksheetRequest, context: grpc.ServicerContext
    ) -> worksheets_pb2.ManagerWorksheet:
        worksheet = worksheets.get_manager_worksheet(
            user_id=request.user_id,
            period_id=request.period_id,
            caller=current_caller(),
            uow=self._uow(),
            base_currency=self._currency,
        )
        return manager_worksheet_to_proto(worksheet, self._currency)

    def AdjustManagerRow(
        self, request: worksheets_pb2.AdjustManagerRowRequest, context: grpc.ServicerContext
    ) -> worksheets_pb2.ManagerWorksheet:
        worksheet = worksheets.adjust_manager_row(
            manager_user_id=request.manager_user_id,
            period_id=request.period_id,
            user_id=request.user_id,
            # Presence matters: an absent amount clears that adjustment.
            likely_minor=request.likely_minor if request.HasField("likely_minor") else None,
            best_minor=request.best_minor if request.HasField("best_minor") else None,
            worst_minor=request.worst_minor if request.HasField("worst_minor") else None,
            caller=current_caller(),
            uow=self._uow(),
            base_currency=self._currency,
        )
        return manager_worksheet_to_proto(worksheet, self._currency)

    def SaveWorksheetDraft(
        self, request: worksheets_pb2.SaveWorksheetDraftRequest, context: grpc.ServicerContext
    ) -> worksheets_pb2.ForecastSnapshot:
        draft = worksheets.save_worksheet_draft(
            user_id=request.user_id,
            period_id=request.period_id,
            kind=kind_from_proto(request.kind, "kind"),
            note=request.note,
            caller=current_caller(),
            uow=self._uow(),
            base_currency=self._currency,
        )
        return snapshot_to_proto(draft)

    def CommitForecast(
        self, request: worksheets_pb2.CommitForecastRequest, context: grpc.ServicerContext
    ) -> worksheets_pb2.ForecastSnapshot:
        commit = worksheets.commit_forecast(
            user_id=request.user_id,
            period_id=request.period_id,
            kind=kind_from_proto(request.kind, "kind"),
            note=request.note,
            caller=current_caller(),
            uow=self._uow(),
            base_currency=self._currency,
        )
        return snapshot_to_proto(commit)

    def ListForecastCommits(
        self, request: worksheets_pb2.ListForecastCommitsRequest, context: grpc.ServicerContext
    ) -> worksheets_pb2.ListForecastCommitsResponse:
        commits = worksheets.list_forecast_commits(
            user_id=request.user_id,
            period_id=request.period_id,
            kind=kind_from_proto(request.kind, "kind"),
            caller=current_caller(),
            uow=self._uow(),
        )
        return worksheets_pb2.ListForecastCommitsResponse(commits=[snapshot_to_proto(c) for c in commits])

    def GetForecastAccuracy(
        self, request: worksheets_pb2.GetForecastAccuracyRequest, context: grpc.ServicerContext
    ) -> worksheets_pb2.ForecastAccuracy:
        accuracy = worksheets.get_forecast_accuracy(
            user_id=request.user_id,
            period_id=request.period_id,
            caller=current_caller(),
            uow=self._uow(),
            today=datetime.now(UTC).date(),
        )
        return accuracy_to_proto(accuracy, self._currency)
