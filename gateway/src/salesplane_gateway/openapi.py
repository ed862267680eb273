"""The gateway's OpenAPI 3.1 description, written by hand (served at GET /openapi.json).

Keep it in step with api.py and mapping.py; a test checks that every route is described and that
the document is valid OpenAPI 3.1."""

from __future__ import annotations

import copy
from typing import Any

from salesplane_gateway.problems import PROBLEM_JSON, PROBLEM_TYPE_BASE

JSON = "application/json"
API_VERSION = "1.0.0"


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _schema(name: str) -> dict[str, str]:
    return _ref("schemas", name)


def _response(name: str) -> dict[str, str]:
    return _ref("responses", name)


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {JSON: {"schema": schema}}


_ID = {"type": "string", "minLength": 1}
_TIMESTAMP = {"type": ["string", "null"], "format": "date-time", "description": "RFC 3339, UTC."}
_REQUEST_ID_HEADER = {"$ref": "#/components/headers/RequestId"}

SCHEMAS: dict[str, Any] = {
    "Money": {
        "type": "object",
        "description": "An amount of money: an integer count of the currency's minor units (cents for EUR, "
        "yen for JPY) and an ISO 4217 code. Never a float.",
        "required": ["currency_code", "amount_minor"],
        "additionalProperties": False,
        "properties": {
            "currency_code": {"type": "string", "pattern": "^[A-Z]{3}$", "examples": ["EUR"]},
            "amount_minor": {
                "type": "integer",
                "format": "int64",
                "description": "Minor units, a JSON integer (JavaScript clients lose precision above 2^53).",
                "examples": [100000],
            },
        },
    },
    "MoneyPatch": {
        "type": "object",
        "description": "Either or both members of an amount; the absent one keeps its value.",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": {
            "currency_code": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "amount_minor": {"type": "integer", "format": "int64"},
        },
    },
    "Date": {
        "type": "string",
        "format": "date",
        "description": "A calendar date, YYYY-MM-DD.",
        "examples": ["2026-12-31"],
    },
    "ProbabilitySource": {
        "type": ["string", "null"],
        "enum": ["stage", "manual", None],
        "description": "stage: the probability follows the sales stage's default; manual: set by hand.",
    },
    "OpportunityStatus": {
        "type": ["string", "null"],
        "enum": ["open", "won", "lost", None],
        "description": "Derived from the sales stage's won / lost flags; read-only.",
    },
    "Opportunity": {
        "type": "object",
        "required": [
            "id",
            "name",
            "owner_user_id",
            "amount",
            "expected_close_date",
            "sales_stage",
            "probability",
            "probability_source",
            "status",
            "version",
            "create_time",
            "update_time",
        ],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "name": {"type": "string"},
            "owner_user_id": {"type": "string"},
            "amount": _schema("Money"),
            "expected_close_date": {"anyOf": [_schema("Date"), {"type": "null"}]},
            "sales_stage": {"type": "string"},
            "probability": {"type": "integer", "minimum": 0, "maximum": 100, "description": "Percent."},
            "probability_source": _schema("ProbabilitySource"),
            "status": _schema("OpportunityStatus"),
            "version": {
                "type": "integer",
                "format": "int64",
                "minimum": 1,
                "description": "Grows by one with every change; also sent as the ETag.",
            },
            "create_time": _TIMESTAMP,
            "update_time": _TIMESTAMP,
        },
    },
    "OpportunityCreate": {
        "type": "object",
        "required": ["name", "amount", "expected_close_date", "sales_stage"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 255},
            "owner_user_id": {
                "type": ["string", "null"],
                "description": "Defaults to the caller. A rep may only create their own opportunities.",
            },
            "amount": _schema("Money"),
            "expected_close_date": _schema("Date"),
            "sales_stage": {"type": "string", "description": "One of GET /v1/sales-stages."},
            "probability": {
                "type": ["integer", "null"],
                "minimum": 0,
                "maximum": 100,
                "description": "Percent set by hand; absent or null: follow the sales stage.",
            },
        },
    },
    "OpportunityPatch": {
        "type": "object",
        "description": "JSON merge-patch style: the members present are changed, the others kept. "
        "`probability: null` clears a hand-set probability so it follows the sales stage again. "
        "`expected_version` (or If-Match) makes the change conditional.",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 255},
            "owner_user_id": {"type": "string"},
            "amount": _schema("MoneyPatch"),
            "expected_close_date": _schema("Date"),
            "sales_stage": {"type": "string"},
            "probability": {"type": ["integer", "null"], "minimum": 0, "maximum": 100},
            "expected_version": {"type": "integer", "format": "int64", "minimum": 1},
        },
    },
    "SalesStage": {
        "type": "object",
        "required": ["name", "default_probability", "is_won", "is_lost", "order"],
        "properties": {
            "name": {"type": "string"},
            "default_probability": {"type": "integer", "minimum": 0, "maximum": 100},
            "is_won": {"type": "boolean"},
            "is_lost": {"type": "boolean"},
            "order": {"type": "integer", "minimum": 0},
        },
    },
    "SalesStageList": {
        "type": "object",
        "required": ["sales_stages"],
        "properties": {"sales_stages": {"type": "array", "items": _schema("SalesStage")}},
    },
    "LeadStatus": {
        "type": ["string", "null"],
        "enum": ["new", "assigned", "in_process", "converted", "recycled", "dead", None],
    },
    "Lead": {
        "type": "object",
        "required": [
            "id",
            "first_name",
            "last_name",
            "company",
            "email",
            "phone",
            "status",
            "assigned_user_id",
            "lead_source",
            "version",
            "create_time",
            "update_time",
        ],
        "properties": {
            "id": {"type": "string"},
            "first_name": {"type": "string"},
            "last_name": {"type": "string"},
            "company": {"type": "string"},
            "email": {"type": "string"},
            "phone": {"type": "string"},
            "status": _schema("LeadStatus"),
            "assigned_user_id": {"type": "string", "description": "Empty when unassigned."},
            "lead_source": {"type": "string"},
            "version": {"type": "integer", "format": "int64"},
            "create_time": _TIMESTAMP,
            "update_time": _TIMESTAMP,
        },
    },
    "LeadCreate": {
        "type": "object",
        "description": "Absent or null members are empty. Without assigned_user_id the lead is new and "
        "unassigned, otherwise assigned.",
        "additionalProperties": False,
        "properties": {
            "first_name": {"type": ["string", "null"]},
            "last_name": {"type": ["string", "null"]},
            "company": {"type": ["string", "null"]},
            "email": {"type": ["string", "null"]},
            "phone": {"type": ["string", "null"]},
            "assigned_user_id": {"type": ["string", "null"]},
            "lead_source": {"type": ["string", "null"]},
        },
    },
    "RollupLine": {
        "type": "object",
        "description": "Totals in one currency.",
        "required": ["currency_code", "opportunity_count", "amount", "weighted_amount"],
        "properties": {
            "currency_code": {"type": "string"},
            "opportunity_count": {"type": "integer", "format": "int64", "minimum": 0},
            "amount": _schema("Money"),
            "weighted_amount": {
                "allOf": [_schema("Money")],
                "description": "Sum of amount x probability, rounded half-up to minor units once.",
            },
        },
    },
    "Rollup": {
        "type": "object",
        "required": ["user_id", "period_id", "lines", "update_time"],
        "properties": {
            "user_id": {"type": "string"},
            "period_id": {"type": "string", "examples": ["2026-Q4"]},
            "lines": {"type": "array", "items": _schema("RollupLine")},
            "update_time": _TIMESTAMP,
        },
    },
    "ReportDefinition": {
        "type": "object",
        "required": ["id", "title", "description"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
        },
    },
    "ReportList": {
        "type": "object",
        "required": ["reports"],
        "properties": {"reports": {"type": "array", "items": _schema("ReportDefinition")}},
    },
    "ReportColumn": {
        "type": "object",
        "required": ["name", "title", "type"],
        "properties": {
            "name": {"type": "string", "description": "The key of this column's values in every row."},
            "title": {"type": "string"},
            "type": {"type": "string", "enum": ["string", "integer", "money"]},
        },
    },
    "ReportResult": {
        "type": "object",
        "required": ["report_id", "title", "generate_time", "columns", "rows"],
        "properties": {
            "report_id": {"type": "string"},
            "title": {"type": "string"},
            "generate_time": _TIMESTAMP,
            "columns": {"type": "array", "items": _schema("ReportColumn")},
            "rows": {
                "type": "array",
                "description": "One object per row, keyed by column name; a missing cell is null.",
                "items": {
                    "type": "object",
                    "additionalProperties": {
                        "anyOf": [{"type": "string"}, {"type": "integer"}, _schema("Money"), {"type": "null"}]
                    },
                },
            },
        },
    },
    "FieldError": {
        "type": "object",
        "required": ["field", "description"],
        "properties": {
            "field": {
                "type": "string",
                "description": "Dotted path of the offending member (e.g. amount.amount_minor), a query "
                "parameter or header name, or `body` for the request body as a whole.",
            },
            "description": {"type": "string"},
        },
    },
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status", "detail", "errors"],
        "properties": {
            "type": {
                "type": "string",
                "format": "uri-reference",
                "description": f"`about:blank` or one of {PROBLEM_TYPE_BASE}<slug>: invalid-request, "
                "unsupported-media-type, unauthenticated, permission-denied, not-found, already-exists, "
                "version-mismatch, conflict, failed-precondition, too-many-requests, upstream-error, "
                "service-unavailable, upstream-timeout, not-ready, internal-error.",
            },
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "errors": {"type": "array", "items": _schema("FieldError")},
            "reason": {
                "type": "string",
                "description": "Machine-readable reason from the service, e.g. VERSION_MISMATCH.",
            },
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"const": "ok"}},
    },
    "Readiness": {
        "type": "object",
        "required": ["status", "upstreams"],
        "properties": {
            "status": {"const": "ready"},
            "upstreams": _schema("UpstreamStatuses"),
        },
    },
    "UpstreamStatuses": {
        "type": "object",
        "description": "gRPC health status (SERVING, NOT_SERVING, ...) or call error code per upstream.",
        "properties": {
            "leads": {"type": "string"},
            "opportunities": {"type": "string"},
            "forecasting": {"type": "string"},
            "reporting": {"type": "string"},
        },
    },
    "NotReady": {
        "allOf": [
            _schema("Problem"),
            {
                "type": "object",
                "required": ["upstreams"],
                "properties": {"upstreams": _schema("UpstreamStatuses")},
            },
        ]
    },
}


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"X-Request-Id": _REQUEST_ID_HEADER},
        "content": {PROBLEM_JSON: {"schema": _schema("Problem")}},
    }


RESPONSES: dict[str, Any] = {
    "BadRequest": _problem_response(
        "Malformed JSON, a member of the wrong type, or a value the service rejects; `errors` names them."
    ),
    "Unauthorized": {
        **_problem_response("Missing, malformed, expired or wrongly signed bearer token."),
        "headers": {
            "X-Request-Id": _REQUEST_ID_HEADER,
            "WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer challenge."},
        },
    },
    "Forbidden": _problem_response(
        "The caller may not reach this resource (e.g. a rep and someone else's deal)."
    ),
    "NotFound": _problem_response("No such resource, or no such route."),
    "Conflict": _problem_response(
        "A concurrent change won (`reason` VERSION_MISMATCH: re-read and retry), or it already exists."
    ),
    "UnsupportedMediaType": _problem_response("The body is not sent as application/json."),
    "UnprocessableContent": _problem_response(
        "Well-formed, but the resource's state does not allow it (FAILED_PRECONDITION); do not retry as is."
    ),
    "TooManyRequests": _problem_response("A service is overloaded; retry later."),
    "InternalServerError": _problem_response("The gateway failed unexpectedly."),
    "BadGateway": _problem_response("A service failed to answer; no internals are shown."),
    "ServiceUnavailable": _problem_response("A service is unreachable; retry later."),
    "GatewayTimeout": _problem_response("A service did not answer within the deadline."),
}


def _ok(description: str, schema: dict[str, Any], headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"X-Request-Id": _REQUEST_ID_HEADER, **(headers or {})},
        "content": _json_content(schema),
    }


def _errors(*extra: str) -> dict[str, Any]:
    """The error responses every authenticated call can give, plus `extra` status codes."""
    names = {
        "400": "BadRequest",
        "401": "Unauthorized",
        "403": "Forbidden",
        "404": "NotFound",
        "409": "Conflict",
        "415": "UnsupportedMediaType",
        "422": "UnprocessableContent",
        "429": "TooManyRequests",
        "500": "InternalServerError",
        "502": "BadGateway",
        "503": "ServiceUnavailable",
        "504": "GatewayTimeout",
    }
    common = ("400", "401", "403", "429", "500", "502", "503", "504")
    return {code: _response(names[code]) for code in sorted({*common, *extra})}


_ETAG_HEADER = {"$ref": "#/components/headers/ETag"}

PATHS: dict[str, Any] = {
    "/v1/opportunities": {
        "post": {
            "operationId": "createOpportunity",
            "tags": ["opportunities"],
            "summary": "Open an opportunity",
            "requestBody": {"required": True, "content": _json_content(_schema("OpportunityCreate"))},
            "responses": {
                "201": _ok(
                    "Created.",
                    _schema("Opportunity"),
                    {
                        "Location": {
                            "schema": {"type": "string", "format": "uri-reference"},
                            "description": "/v1/opportunities/{opportunity_id}",
                        },
                        "ETag": _ETAG_HEADER,
                    },
                ),
                **_errors("415", "422"),
            },
        }
    },
    "/v1/opportunities/{opportunity_id}": {
        "parameters": [_ref("parameters", "OpportunityId")],
        "get": {
            "operationId": "getOpportunity",
            "tags": ["opportunities"],
            "summary": "Read an opportunity",
            "responses": {
                "200": _ok("The opportunity.", _schema("Opportunity"), {"ETag": _ETAG_HEADER}),
                **_errors("404"),
            },
        },
        "patch": {
            "operationId": "updateOpportunity",
            "tags": ["opportunities"],
            "summary": "Change some fields of an opportunity",
            "parameters": [_ref("parameters", "IfMatch")],
            "requestBody": {
                "required": True,
                "content": {
                    JSON: {"schema": _schema("OpportunityPatch")},
                    "application/merge-patch+json": {"schema": _schema("OpportunityPatch")},
                },
            },
            "responses": {
                "200": _ok(
                    "The opportunity after the change.", _schema("Opportunity"), {"ETag": _ETAG_HEADER}
                ),
                **_errors("404", "409", "415", "422"),
            },
        },
    },
    "/v1/sales-stages": {
        "get": {
            "operationId": "listSalesStages",
            "tags": ["opportunities"],
            "summary": "The configured sales stages, in order",
            "responses": {"200": _ok("The stages.", _schema("SalesStageList")), **_errors()},
        }
    },
    "/v1/leads": {
        "post": {
            "operationId": "createLead",
            "tags": ["leads"],
            "summary": "Capture a lead",
            "requestBody": {"required": True, "content": _json_content(_schema("LeadCreate"))},
            "responses": {
                "201": _ok(
                    "Created.",
                    _schema("Lead"),
                    {
                        "Location": {
                            "schema": {"type": "string", "format": "uri-reference"},
                            "description": "/v1/leads/{lead_id}",
                        },
                        "ETag": _ETAG_HEADER,
                    },
                ),
                **_errors("409", "415", "422"),
            },
        }
    },
    "/v1/leads/{lead_id}": {
        "parameters": [
            {
                "name": "lead_id",
                "in": "path",
                "required": True,
                "schema": _ID,
                "description": "The lead's id.",
            }
        ],
        "get": {
            "operationId": "getLead",
            "tags": ["leads"],
            "summary": "Read a lead",
            "responses": {"200": _ok("The lead.", _schema("Lead"), {"ETag": _ETAG_HEADER}), **_errors("404")},
        },
    },
    "/v1/rollups/{user_id}": {
        "get": {
            "operationId": "getRollup",
            "tags": ["forecasting"],
            "summary": "Pipeline totals of a user (and their team) for a period",
            "parameters": [
                {"name": "user_id", "in": "path", "required": True, "schema": _ID},
                {
                    "name": "period",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[0-9]{4}-Q[1-4]$", "examples": ["2026-Q4"]},
                    "description": "A period id (calendar quarter).",
                },
            ],
            "responses": {"200": _ok("The rollup.", _schema("Rollup")), **_errors("404")},
        }
    },
    "/v1/reports": {
        "get": {
            "operationId": "listReports",
            "tags": ["reporting"],
            "summary": "The reports available",
            "responses": {"200": _ok("The reports.", _schema("ReportList")), **_errors()},
        }
    },
    "/v1/reports/{report_id}": {
        "get": {
            "operationId": "runReport",
            "tags": ["reporting"],
            "summary": "Run a report, as JSON or CSV",
            "parameters": [
                {"name": "report_id", "in": "path", "required": True, "schema": _ID},
                {
                    "name": "format",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": ["json", "csv"], "default": "json"},
                    "description": "csv: RFC 4180 text with a header row of column titles; a money column "
                    "becomes two, the amount in major units (e.g. 1234.56) and `<title> currency`.",
                },
            ],
            "responses": {
                "200": {
                    "description": "The report result.",
                    "headers": {
                        "X-Request-Id": _REQUEST_ID_HEADER,
                        "Content-Disposition": {
                            "schema": {"type": "string"},
                            "description": "With format=csv: attachment; filename=<report_id>.csv",
                        },
                    },
                    "content": {
                        JSON: {"schema": _schema("ReportResult")},
                        "text/csv": {"schema": {"type": "string"}},
                    },
                },
                **_errors("404", "422"),
            },
        }
    },
    "/healthz": {
        "get": {
            "operationId": "healthz",
            "tags": ["probes"],
            "summary": "Liveness: 200 while the process runs",
            "security": [],
            "responses": {"200": _ok("Alive.", _schema("Health"))},
        }
    },
    "/readyz": {
        "get": {
            "operationId": "readyz",
            "tags": ["probes"],
            "summary": "Readiness: 200 only when every upstream's gRPC health check says SERVING",
            "security": [],
            "responses": {
                "200": _ok("Every upstream serves.", _schema("Readiness")),
                "503": {
                    "description": "Some upstream does not serve; `errors` and `upstreams` name it.",
                    "headers": {"X-Request-Id": _REQUEST_ID_HEADER},
                    "content": {PROBLEM_JSON: {"schema": _schema("NotReady")}},
                },
            },
        }
    },
    "/openapi.json": {
        "get": {
            "operationId": "openapi",
            "tags": ["meta"],
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {
                    "description": "OpenAPI 3.1 document.",
                    "content": {JSON: {"schema": {"type": "object"}}},
                }
            },
        }
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Salesplane API",
        "version": API_VERSION,
        "description": "JSON over HTTP for web clients. Every /v1 call needs `Authorization: Bearer <jwt>`; "
        "the same token is forwarded to the services, which authorise the call. Errors are RFC 9457 "
        "problem details. Money is `{currency_code, amount_minor}` with an integer amount in minor "
        "units; dates are YYYY-MM-DD; timestamps RFC 3339. Every response carries X-Request-Id "
        "(the caller's, or a new one).",
    },
    "servers": [{"url": "/"}],
    "security": [{"bearerAuth": []}],
    "tags": [
        {"name": "opportunities"},
        {"name": "leads"},
        {"name": "forecasting"},
        {"name": "reporting"},
        {"name": "probes"},
        {"name": "meta"},
    ],
    "paths": PATHS,
    "components": {
        "securitySchemes": {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "HS256 JWT issued by Salesplane (iss=salesplane, sub, roles, exp).",
            }
        },
        "parameters": {
            "OpportunityId": {
                "name": "opportunity_id",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "format": "uuid"},
                "description": "The opportunity's id; a malformed one gives 400.",
            },
            "IfMatch": {
                "name": "If-Match",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "examples": ['"3"']},
                "description": "The version the change is based on, as sent in ETag; a stale one gives 409.",
            },
        },
        "headers": {
            "RequestId": {
                "schema": {"type": "string"},
                "description": "The caller's X-Request-Id when it is 1-128 plain characters, else a new one.",
            },
            "ETag": {"schema": {"type": "string"}, "description": 'The resource\'s version, e.g. "3".'},
        },
        "schemas": SCHEMAS,
        "responses": RESPONSES,
    },
}


def openapi_document() -> dict[str, Any]:
    """A copy of the document (callers may not change the module's)."""
    return copy.deepcopy(DOCUMENT)
