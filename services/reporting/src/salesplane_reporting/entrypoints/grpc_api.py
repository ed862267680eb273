"""gRPC entry point: protobuf in, use case, protobuf out. Errors are mapped by the shared interceptor."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from salesplane.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from salesplane_platform.grpc_interceptor import current_caller
from salesplane_reporting.adapters.report_mapping import definition_to_proto, result_to_proto
from salesplane_reporting.domain.reports.registry import ReportRegistry
from salesplane_reporting.service_layer import reports
from salesplane_reporting.service_layer.unit_of_work import ReportingUnitOfWork


class ReportingServicer(reporting_pb2_grpc.ReportingServiceServicer):
    def __init__(self, registry: ReportRegistry, unit_of_work: Callable[[], ReportingUnitOfWork]) -> None:
        self._registry = registry
        self._uow = unit_of_work

    def ListReports(
        self, request: reporting_pb2.ListReportsRequest, context: grpc.ServicerContext
    ) -> reporting_pb2.ListReportsResponse:
        definitions = reports.list_reports(caller=current_caller(), registry=self._registry)
        return reporting_pb2.ListReportsResponse(reports=[definition_to_proto(d) for d in definitions])

    def RunReport(
        self, request: reporting_pb2.RunReportRequest, context: grpc.ServicerContext
    ) -> reporting_pb2.ReportResult:
        result = reports.run_report(
            report_id=request.report_id, caller=current_caller(), registry=self._registry, uow=self._uow()
        )
        return result_to_proto(result)
