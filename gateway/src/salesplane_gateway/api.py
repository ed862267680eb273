"""The /v1 routes: authenticate, translate JSON to a gRPC call with the caller's token, translate back."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import grpc
from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from google.protobuf.message import Message

from salesplane.forecasting.v1 import forecasting_pb2
from salesplane.leads.v1 import leads_pb2
from salesplane.opportunities.v1 import opportunities_pb2
from salesplane.reporting.v1 import reporting_pb2
from salesplane_gateway.clients import ServiceClients
from salesplane_gateway.config import GatewayConfig
from salesplane_gateway.json_input import read_json_object
from salesplane_gateway.mapping import (
    create_lead_request,
    create_opportunity_request,
    lead_json,
    opportunity_json,
    reports_json,
    rollup_json,
    sales_stages_json,
    update_opportunity_request,
)
from salesplane_gateway.problems import (
    FieldError,
    problem_from_rpc_error,
    unauthenticated_problem,
    validation_problem,
)
from salesplane_gateway.reports import csv_filename, report_csv, report_json
from salesplane_platform.errors import Unauthenticated
from salesplane_platform.identity import AUTHORIZATION_HEADER, Identity, TokenVerifier

EXTENSION_KEY = "salesplane_gateway"
REQUEST_ID_METADATA = "x-request-id"
_ETAG = re.compile(r'^(?:"(\d{1,19})"|(\d{1,19}))$')

v1 = Blueprint("v1", __name__, url_prefix="/v1")


@dataclass(frozen=True)
class GatewayState:
    config: GatewayConfig
    clients: ServiceClients
    verifier: TokenVerifier


def state() -> GatewayState:
    return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


def caller() -> Identity:
    return g.identity  # type: ignore[no-any-return]


@v1.before_request
def authenticate() -> None:
    header = request.headers.get("Authorization")
    try:
        g.identity = state().verifier.verify_header(header)
    except Unauthenticated as error:
        raise unauthenticated_problem(error.message) from None
    g.bearer_token = str(header).partition(" ")[2].strip()


@v1.after_request
def no_store(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def call(
    upstream: str,
    rpc: grpc.UnaryUnaryMultiCallable,
    message: Message,
    *,
    field_aliases: Mapping[str, str] | None = None,
) -> Any:
    """One unary call with the caller's token, the request id and a deadline; a failure becomes a
    problem (field names in violations may be renamed to what the HTTP caller sent)."""
    metadata = ((AUTHORIZATION_HEADER, f"Bearer {g.bearer_token}"), (REQUEST_ID_METADATA, g.request_id))
    try:
        return rpc(message, timeout=state().config.rpc_timeout_seconds, metadata=metadata)
    except grpc.RpcError as error:
        problem = problem_from_rpc_error(error, upstream)
        if field_aliases:
            problem.errors = [replace(e, field=field_aliases.get(e.field, e.field)) for e in problem.errors]
        raise problem from None


def _json(body: dict[str, Any], status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    if headers:
        response.headers.update(headers)
    return response


def _etag(version: int) -> str:
    return f'"{version}"'


def if_match_version() -> int | None:
    """The version an If-Match header demands: `"7"` (or a bare 7); None when absent or `*`."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    match = _ETAG.match(raw.strip())
    version = int(match.group(1) or match.group(2)) if match else 0
    if not 1 <= version <= 2**63 - 1:
        raise validation_problem(
            [FieldError("If-Match", 'must be one entity tag holding a version, e.g. "3"')],
            "The If-Match header is not a version.",
        )
    return version


# ---------------------------------------------------------------------------------------------
# Opportunities
# ---------------------------------------------------------------------------------------------


@v1.post("/opportunities")
def create_opportunity() -> Response:
    message = create_opportunity_request(read_json_object(request), caller().subject)
    created: opportunities_pb2.Opportunity = call(
        "opportunities", state().clients.opportunities.CreateOpportunity, message
    )
    location = url_for("v1.get_opportunity", opportunity_id=created.id)
    return _json(opportunity_json(created), 201, {"Location": location, "ETag": _etag(created.version)})


@v1.get("/opportunities/<opportunity_id>")
def get_opportunity(opportunity_id: str) -> Response:
    found: opportunities_pb2.Opportunity = call(
        "opportunities",
        state().clients.opportunities.GetOpportunity,
        opportunities_pb2.GetOpportunityRequest(opportunity_id=opportunity_id),
    )
    return _json(opportunity_json(found), headers={"ETag": _etag(found.version)})


@v1.patch("/opportunities/<opportunity_id>")
def update_opportunity(opportunity_id: str) -> Response:
    version = if_match_version()
    message = update_opportunity_request(opportunity_id, read_json_object(request), version)
    updated: opportunities_pb2.Opportunity = call(
        "opportunities",
        state().clients.opportunities.UpdateOpportunity,
        message,
        field_aliases={"update_mask": "body"},
    )
    return _json(opportunity_json(updated), headers={"ETag": _etag(updated.version)})


@v1.get("/sales-stages")
def list_sales_stages() -> Response:
    stages: opportunities_pb2.ListSalesStagesResponse = call(
        "opportunities",
        state().clients.opportunities.ListSalesStages,
        opportunities_pb2.ListSalesStagesRequest(),
    )
    return _json(sales_stages_json(stages))


# ---------------------------------------------------------------------------------------------
# Leads
# ---------------------------------------------------------------------------------------------


@v1.post("/leads")
def create_lead() -> Response:
    message = create_lead_request(read_json_object(request))
    created: leads_pb2.Lead = call("leads", state().clients.leads.CreateLead, message)
    location = url_for("v1.get_lead", lead_id=created.id)
    return _json(lead_json(created), 201, {"Location": location, "ETag": _etag(created.version)})


@v1.get("/leads/<lead_id>")
def get_lead(lead_id: str) -> Response:
    found: leads_pb2.Lead = call(
        "leads", state().clients.leads.GetLead, leads_pb2.GetLeadRequest(lead_id=lead_id)
    )
    return _json(lead_json(found), headers={"ETag": _etag(found.version)})


# ---------------------------------------------------------------------------------------------
# Forecasting
# ---------------------------------------------------------------------------------------------


@v1.get("/rollups/<user_id>")
def get_rollup(user_id: str) -> Response:
    period = request.args.get("period", "")
    if not period:
        raise validation_problem([FieldError("period", "is required, e.g. ?period=2026-Q4")])
    rollup: forecasting_pb2.Rollup = call(
        "forecasting",
        state().clients.forecasting.GetRollup,
        forecasting_pb2.GetRollupRequest(user_id=user_id, period_id=period),
        field_aliases={"period_id": "period"},
    )
    return _json(rollup_json(rollup))


# ---------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------

REPORT_FORMATS = ("json", "csv")


@v1.get("/reports")
def list_reports() -> Response:
    reports: reporting_pb2.ListReportsResponse = call(
        "reporting", state().clients.reporting.ListReports, reporting_pb2.ListReportsRequest()
    )
    return _json(reports_json(reports))


@v1.get("/reports/<report_id>")
def run_report(report_id: str) -> Response:
    output = request.args.get("format", "json")
    if output not in REPORT_FORMATS:
        raise validation_problem([FieldError("format", f"must be one of {list(REPORT_FORMATS)}")])
    result: reporting_pb2.ReportResult = call(
        "reporting", state().clients.reporting.RunReport, reporting_pb2.RunReportRequest(report_id=report_id)
    )
    if output == "csv":
        response = Response(report_csv(result), mimetype="text/csv")
        response.headers["Content-Disposition"] = (
            f'attachment; filename="{csv_filename(result.report_id or report_id)}"'
        )
        return response
    return _json(report_json(result))
