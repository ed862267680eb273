"""Routes of ReportingService: reports (built-in and saved), their runs and exports, the sources a
definition may read, and e-mailed schedules. A report result is presented as rows keyed by column
name (or as CSV), not in its protobuf shape: see reports.py. An export is a streamed download.

Running and exporting take the run options either as query parameters of a GET (a saved or built-in
report) or as the whole request in the body of a POST (which may also carry an unsaved definition)."""

from __future__ import annotations

from salesplane.reporting.v1 import reporting_pb2
from salesplane_gateway.reports import ReportPresenter
from salesplane_gateway.routing import Download, JsonBody, Route, Service

REPORTING = Service(reporting_pb2, "ReportingService", upstream="reporting")
rpc = REPORTING.rpc

REPORT = "/v1/reports/{report_id}"
SCHEDULE = "/v1/report-schedules/{schedule_id}"


def run_query(prefix: str = "") -> dict[str, str]:
    """The query parameters of a run's options, filling the RunReportRequest at `prefix`..."""
    return {"as_of": f"{prefix}as_of", "viewpoint_user_id": f"{prefix}viewpoint_user_id"}


def run_query_maps(prefix: str = "") -> dict[str, str]:
    """...and its run-time filter values (`?filter.stage=won`) and source parameters (`?param.from=`)."""
    return {"filter": f"{prefix}filter_values", "param": f"{prefix}parameters"}


EXPORT = Download(
    media_types={
        "text/csv": "format=csv: RFC 4180, UTF-8, every row of a rows-and-columns report, in the "
        "gateway's CSV conventions (see GET /v1/reports/{report_id}?format=csv).",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "format=xlsx: a workbook.",
        "image/svg+xml": "format=svg: the report's chart.",
    }
)

REPORTING_ROUTES = (
    Route("GET", "/v1/reports", rpc("ListReports"), "The reports available"),
    Route(
        "GET",
        REPORT,
        rpc("RunReport"),
        "Run a report, as JSON or CSV",
        query=run_query(),
        query_maps=run_query_maps(),
        presenter=ReportPresenter(),
        description="Run a built-in or saved report. Run-time filters as `filter.<id>=<value>` (repeat "
        "for several values; integers, true and false are read as such, anything else as text), source "
        "parameters as `param.<name>=<text>`.",
    ),
    Route(
        "POST",
        "/v1/reports:run",
        rpc("RunReport"),
        "Run a report or an unsaved definition, as JSON or CSV",
        body=JsonBody(),
        presenter=ReportPresenter(),
        operation="runReportFromBody",
    ),
    Route(
        "GET",
        REPORT + "/export",
        rpc("ExportReport"),
        "Export a report as CSV, XLSX or its chart's SVG (streamed)",
        path_fields={"report_id": "run.report_id"},
        query={"format": "format", **run_query("run.")},
        query_maps=run_query_maps("run."),
        required_query=("format",),
        download=EXPORT,
    ),
    Route(
        "POST",
        "/v1/reports:export",
        rpc("ExportReport"),
        "Export a report or an unsaved definition (streamed)",
        body=JsonBody(),
        download=EXPORT,
        operation="exportReportFromBody",
    ),
    Route("GET", REPORT + "/definition", rpc("GetReport"), "Read a report's definition", etag="version"),
    Route(
        "POST",
        "/v1/reports",
        rpc("CreateReport"),
        "Save a user-defined report",
        # One request message serves create and update; these two are the update's.
        body=JsonBody(exclude=("report_id", "expected_version")),
        status=201,
        etag="version",
        location="/v1/reports/{id}",
    ),
    Route(
        "PUT",
        REPORT,
        rpc("UpdateReport"),
        "Replace a saved report",
        body=JsonBody(),
        if_match="expected_version",
        etag="version",
    ),
    Route("DELETE", REPORT, rpc("DeleteReport"), "Delete a saved report", status=204),
    Route("GET", "/v1/report-sources", rpc("ListSources"), "The sources a definition may read"),
    Route(
        "POST",
        REPORT + "/schedules",
        rpc("CreateSchedule"),
        "E-mail a report daily, weekly or monthly",
        body=JsonBody("schedule"),
        path_fields={"report_id": "schedule.report_id"},
        status=201,
        location="/v1/report-schedules/{schedule_id}",
    ),
    Route(
        "GET",
        "/v1/report-schedules",
        rpc("ListSchedules"),
        "The caller's report schedules",
        query={"report_id": "report_id"},
    ),
    Route("DELETE", SCHEDULE, rpc("DeleteSchedule"), "Stop a report schedule", status=204),
    Route(
        "GET",
        SCHEDULE + "/runs",
        rpc("ListReportRuns"),
        "The runs of a report schedule, newest first",
        query={"limit": "limit"},
    ),
)
