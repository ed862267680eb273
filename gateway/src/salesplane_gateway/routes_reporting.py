"""Routes of ReportingService. A report result is presented as rows keyed by column name (or as
CSV), not in its protobuf shape: see reports.py."""

from __future__ import annotations

from salesplane.reporting.v1 import reporting_pb2
from salesplane_gateway.reports import ReportPresenter
from salesplane_gateway.routing import Route, Service

REPORTING = Service(reporting_pb2, "ReportingService", upstream="reporting")
rpc = REPORTING.rpc

REPORTING_ROUTES = (
    Route("GET", "/v1/reports", rpc("ListReports"), "The reports available"),
    Route(
        "GET",
        "/v1/reports/{report_id}",
        rpc("RunReport"),
        "Run a report, as JSON or CSV",
        presenter=ReportPresenter(),
    ),
)
