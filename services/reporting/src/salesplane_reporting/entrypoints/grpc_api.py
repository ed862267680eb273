"""gRPC entry point: protobuf in, use case, protobuf out. Errors are mapped by the shared interceptor."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import grpc
from google.protobuf import empty_pb2

from salesplane.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from salesplane_platform.errors import FieldViolation, InvalidArgument
from salesplane_platform.grpc_interceptor import current_caller
from salesplane_reporting.adapters.csv_export import csv_chunks
from salesplane_reporting.adapters.report_mapping import (
    column_to_proto,
    definition_to_proto,
    row_to_proto,
    run_options_from_proto,
    sources_to_proto,
    struct_to_dict,
)
from salesplane_reporting.adapters.svg_charts import render_svg
from salesplane_reporting.adapters.xlsx_export import xlsx_bytes
from salesplane_reporting.domain.report import ReportResult, RowKind
from salesplane_reporting.entrypoints import schedule_api
from salesplane_reporting.entrypoints.request_ids import refuse_impossible_ids, refuse_unstorable_owner
from salesplane_reporting.service_layer import reports
from salesplane_reporting.service_layer.unit_of_work import ReportingUnitOfWork

CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SVG = "image/svg+xml"
# gRPC messages stay well under the 4 MB default.
CHUNK_BYTES = 256 * 1024


def result_to_proto(result: ReportResult) -> reporting_pb2.ReportResult:
    message = reporting_pb2.ReportResult(
        report_id=result.report_id,
        title=result.title,
        columns=[column_to_proto(c) for c in result.columns],
        rows=[row_to_proto(r) for r in result.rows],
        truncated=result.truncated,
        row_limit=result.row_limit,
        notes=list(result.notes),
        chart_svg=render_svg(result.chart) if result.chart is not None else "",
    )
    message.generate_time.FromDatetime(result.generated_at)
    return message


def filename(title: str, extension: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower() or "report"
    return f"{stem[:80]}.{extension}"


def _chunked(content_type: str, name: str, parts: Iterator[bytes]) -> Iterator[reporting_pb2.ExportChunk]:
    first = True
    buffer = b""
    for part in parts:
        buffer += part
        while len(buffer) >= CHUNK_BYTES:
            yield reporting_pb2.ExportChunk(
                content_type=content_type if first else "",
                filename=name if first else "",
                data=buffer[:CHUNK_BYTES],
            )
            buffer, first = buffer[CHUNK_BYTES:], False
    if buffer or first:
        yield reporting_pb2.ExportChunk(
            content_type=content_type if first else "", filename=name if first else "", data=buffer
        )


class ReportingServicer(reporting_pb2_grpc.ReportingServiceServicer):
    def __init__(self, unit_of_work: Callable[[], ReportingUnitOfWork]) -> None:
        self._uow = unit_of_work

    def ListReports(
        self, request: reporting_pb2.ListReportsRequest, context: grpc.ServicerContext
    ) -> reporting_pb2.ListReportsResponse:
        summaries = reports.list_reports(caller=current_caller(), uow=self._uow())
        return reporting_pb2.ListReportsResponse(reports=[definition_to_proto(s) for s in summaries])

    def GetReport(
        self, request: reporting_pb2.GetReportRequest, context: grpc.ServicerContext
    ) -> reporting_pb2.ReportDefinition:
        refuse_impossible_ids(request)
        found = reports.get_report(report_id=request.report_id, caller=current_caller(), uow=self._uow())
        return definition_to_proto(found.summary, found.document, found.version)

    def _run(self, request: reporting_pb2.RunReportRequest) -> ReportResult:
        return reports.run_report(
            caller=current_caller(),
            uow=self._uow(),
            report_id=request.report_id,
            document=struct_to_dict(request.definition) if request.HasField("definition") else None,
            options=run_options_from_proto(request),
        )

    def RunReport(
        self, request: reporting_pb2.RunReportRequest, context: grpc.ServicerContext
    ) -> reporting_pb2.ReportResult:
        refuse_impossible_ids(request)
        if not request.report_id and not request.HasField("definition"):
            raise InvalidArgument(FieldViolation("report_id", "must name a report, or give a definition"))
        return result_to_proto(self._run(request))

    def ExportReport(
        self, request: reporting_pb2.ExportReportRequest, context: grpc.ServicerContext
    ) -> Iterator[reporting_pb2.ExportChunk]:
        refuse_impossible_ids(request)
        run = request.run
        if not run.report_id and not run.HasField("definition"):
            raise InvalidArgument(FieldViolation("run.report_id", "must name a report, or give a definition"))
        if request.format == reporting_pb2.EXPORT_FORMAT_CSV:
            streamed = reports.stream_report_rows(
                caller=current_caller(),
                uow=self._uow(),
                report_id=run.report_id,
                document=struct_to_dict(run.definition, "run.definition")
                if run.HasField("definition")
                else None,
                options=run_options_from_proto(run),
            )
            if streamed is not None:
                title, columns, rows = streamed
                return _chunked(CSV, filename(title, "csv"), csv_chunks(title, columns, rows))
            result = self._run(run)
            with_kind = any(r.kind is not RowKind.DETAIL for r in result.rows)
            chunks = csv_chunks(result.title, result.columns, result.rows, with_row_kind=with_kind)
            return _chunked(CSV, filename(result.title, "csv"), chunks)
        if request.format == reporting_pb2.EXPORT_FORMAT_XLSX:
            result = self._run(run)
            data = xlsx_bytes(
                result.title,
                result.columns,
                result.rows,
                notes=result.notes,
                generated_at=result.generated_at,
            )
            return _chunked(XLSX, filename(result.title, "xlsx"), iter([data]))
        if request.format == reporting_pb2.EXPORT_FORMAT_SVG:
            result = self._run(run)
            if result.chart is None:
                raise InvalidArgument(FieldViolation("format", f"report {result.report_id} has no chart"))
            return _chunked(SVG, filename(result.title, "svg"), iter([render_svg(result.chart).encode()]))
        raise InvalidArgument(FieldViolation("format", "must be CSV, XLSX or SVG"))

    def CreateReport(
        self, request: reporting_pb2.SaveReportRequest, context: grpc.ServicerContext
    ) -> reporting_pb2.ReportDefinition:
        refuse_impossible_ids(request)
        refuse_unstorable_owner(current_caller())
        saved = reports.create_report(
            caller=current_caller(),
            uow=self._uow(),
            title=request.title,
            description=request.description,
            sharing=request.sharing,
            document=struct_to_dict(request.definition),
        )
        return definition_to_proto(saved.summary, saved.document, saved.version)

    def UpdateReport(
        self, request: reporting_pb2.SaveReportRequest, context: grpc.ServicerContext
    ) -> reporting_pb2.ReportDefinition:
        refuse_impossible_ids(request)
        saved = reports.update_report(
            caller=current_caller(),
            uow=self._uow(),
            report_id=request.report_id,
            title=request.title,
            description=request.description,
            sharing=request.sharing,
            document=struct_to_dict(request.definition),
            expected_version=request.expected_version,
        )
        return definition_to_proto(saved.summary, saved.document, saved.version)

    def DeleteReport(
        self, request: reporting_pb2.DeleteReportRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        refuse_impossible_ids(request)
        reports.delete_report(caller=current_caller(), uow=self._uow(), report_id=request.report_id)
        return empty_pb2.Empty()

    def ListSources(
        self, request: reporting_pb2.ListSourcesRequest, context: grpc.ServicerContext
    ) -> reporting_pb2.ListSourcesResponse:
        return sources_to_proto()

    def CreateSchedule(
        self, request: reporting_pb2.CreateScheduleRequest, context: grpc.ServicerContext
    ) -> reporting_pb2.ReportSchedule:
        refuse_impossible_ids(request)
        refuse_unstorable_owner(current_caller())
        return schedule_api.create_schedule(request, current_caller(), self._uow())

    def ListSchedules(
        self, request: reporting_pb2.ListSchedulesRequest, context: grpc.ServicerContext
    ) -> reporting_pb2.ListSchedulesResponse:
        refuse_impossible_ids(request)
        return schedule_api.list_schedules(request, current_caller(), self._uow())

    def DeleteSchedule(
        self, request: reporting_pb2.DeleteScheduleRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        refuse_impossible_ids(request)
        schedule_api.delete_schedule(request, current_caller(), self._uow())
        return empty_pb2.Empty()

    def ListReportRuns(
        self, request: reporting_pb2.ListReportRunsRequest, context: grpc.ServicerContext
    ) -> reporting_pb2.ListReportRunsResponse:
        refuse_impossible_ids(request)
        return schedule_api.list_runs(request, current_caller(), self._uow())
