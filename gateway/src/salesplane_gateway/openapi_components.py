"""The reusable parts of the OpenAPI document: the gateway's own schemas (problems, probes, the report
table), the problem responses and headers, and the generated message schemas."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from google.protobuf.descriptor import Descriptor

from salesplane_gateway.openapi_schemas import SchemaRegistry, ref
from salesplane_gateway.problems import PROBLEM_JSON, PROBLEM_TYPE_BASE

if TYPE_CHECKING:
    from salesplane_gateway.routing import Route

JSON = "application/json"

_MONEY_OUT = {"$ref": "#/components/schemas/Money"}

GATEWAY_SCHEMAS: dict[str, Any] = {
    "FieldError": {
        "type": "object",
        "required": ["field", "description"],
        "properties": {
            "field": {
                "type": "string",
                "description": "Dotted path of the offending member (e.g. amount.amount_minor, "
                "rules[2].points), a query or path parameter or header name, or `body` for the request "
                "body as a whole.",
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
                "duplicate-lead, version-mismatch, conflict, failed-precondition, too-many-requests, "
                "upstream-error, service-unavailable, upstream-timeout, not-ready, internal-error.",
            },
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "errors": {"type": "array", "items": ref("FieldError")},
            "reason": {
                "type": "string",
                "description": "Machine-readable reason from the service, e.g. VERSION_MISMATCH.",
            },
        },
    },
    "Health": {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}},
    "Readiness": {
        "type": "object",
        "required": ["status", "upstreams"],
        "properties": {"status": {"const": "ready"}, "upstreams": ref("UpstreamStatuses")},
    },
    "UpstreamStatuses": {
        "type": "object",
        "description": "gRPC health status (SERVING, NOT_SERVING, ...) or call error code per upstream.",
        "additionalProperties": {"type": "string"},
    },
    "NotReady": {
        "allOf": [
            ref("Problem"),
            {
                "type": "object",
                "required": ["upstreams"],
                "properties": {"upstreams": ref("UpstreamStatuses")},
            },
        ]
    },
    "ReportColumn": {
        "type": "object",
        "required": ["name", "title", "type", "scale"],
        "properties": {
            "name": {"type": "string", "description": "The key of this column's values in every row."},
            "title": {"type": "string"},
            "type": {
                "type": "string",
                "enum": ["string", "integer", "money", "date", "timestamp", "boolean", "decimal", "percent"],
                "description": "How the column's values are written: string, integer (a JSON integer), "
                "money ({currency_code, amount_minor}), date (YYYY-MM-DD), timestamp (RFC 3339, UTC), "
                'boolean, decimal (the exact decimal as a string, never a number: "1234.50"), '
                'percent (a decimal fraction as a string: "0.2500" is 25 %).',
            },
            "scale": {
                "type": "integer",
                "format": "int32",
                "description": "decimal and percent: the digits after the point.",
            },
        },
    },
    "ReportRow": {
        "type": "object",
        "description": "One row, keyed by column name (a missing cell is null), with what the row is.",
        "required": ["_kind", "_level"],
        "properties": {
            "_kind": {"type": "string", "enum": ["detail", "group", "subtotal", "grand_total"]},
            "_level": {
                "type": "integer",
                "format": "int32",
                "description": "subtotal: how many leading dimensions it shares; detail under a group: "
                "the group depth.",
            },
        },
        "additionalProperties": {
            "anyOf": [
                {"type": "string"},
                {"type": "integer"},
                {"type": "boolean"},
                _MONEY_OUT,
                {"type": "null"},
            ]
        },
    },
    "ReportTable": {
        "type": "object",
        "description": "A report result as records: one object per row, keyed by column name.",
        "required": [
            "report_id",
            "title",
            "generate_time",
            "columns",
            "rows",
            "truncated",
            "row_limit",
            "notes",
            "chart_svg",
        ],
        "properties": {
            "report_id": {"type": "string"},
            "title": {"type": "string"},
            "generate_time": {"type": ["string", "null"], "format": "date-time"},
            "columns": {"type": "array", "items": ref("ReportColumn")},
            "rows": {"type": "array", "items": ref("ReportRow")},
            "truncated": {
                "type": "boolean",
                "description": "More rows matched than row_limit: rows holds the first row_limit.",
            },
            "row_limit": {"type": "integer", "format": "int32"},
            "notes": {
                "type": "array",
                "items": {"type": "string"},
                "description": "How money was converted and rounded, and other facts needed to read the "
                "numbers.",
            },
            "chart_svg": {
                "type": "string",
                "description": "The chart as SVG, when the definition has one; else empty.",
            },
        },
    },
}

HEADERS: dict[str, Any] = {
    "RequestId": {
        "schema": {"type": "string"},
        "description": "The caller's X-Request-Id when it is 1-128 plain characters, else a new one.",
    },
    "ETag": {"schema": {"type": "string"}, "description": 'The version (or revision), e.g. "3".'},
    "Location": {"schema": {"type": "string", "format": "uri-reference"}, "description": "The new resource."},
}

PARAMETERS: dict[str, Any] = {
    "IfMatch": {
        "name": "If-Match",
        "in": "header",
        "required": False,
        "schema": {
            "type": "string",
            "pattern": '^(?:\\*|"[1-9][0-9]{0,17}"|[1-9][0-9]{0,17})$',
            "examples": ['"3"'],
        },
        "description": "The version (or revision) the change is based on, as sent in ETag; a stale one "
        "gives 409 with reason VERSION_MISMATCH. The body may carry the same number instead.",
    }
}

SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "HS256 JWT issued by Salesplane (iss=salesplane, sub, roles, exp).",
    }
}

# status -> (component name, description) of the problems any /v1 call may answer.
PROBLEM_RESPONSES: dict[str, tuple[str, str]] = {
    "400": (
        "BadRequest",
        "Malformed JSON, a member of the wrong type, an unknown member or query parameter, or a value the "
        "service rejects; `errors` names each.",
    ),
    "401": ("Unauthorized", "Missing, malformed, expired or wrongly signed bearer token."),
    "403": ("Forbidden", "The caller may not reach this resource (e.g. a rep and someone else's deal)."),
    "404": ("NotFound", "No such resource, or no such route."),
    "409": (
        "Conflict",
        "A concurrent change won (`reason` VERSION_MISMATCH: re-read and retry), or it already exists.",
    ),
    "413": ("ContentTooLarge", "The body is larger than the gateway accepts."),
    "415": ("UnsupportedMediaType", "The body is not sent with the media type the operation takes."),
    "422": (
        "UnprocessableContent",
        "Well-formed, but the resource's state does not allow it (FAILED_PRECONDITION); do not retry as is.",
    ),
    "429": (
        "TooManyRequests",
        "The caller's request rate limit is spent (type rate-limited, with Retry-After), or a service is "
        "overloaded (too-many-requests); retry later.",
    ),
    "500": ("InternalServerError", "The gateway failed unexpectedly."),
    "502": ("BadGateway", "A service failed to answer; no internals are shown."),
    "503": ("ServiceUnavailable", "A service is unreachable; retry later."),
    "504": ("GatewayTimeout", "A service did not answer within the deadline."),
}

_SUCCESS_DESCRIPTIONS = {200: "OK.", 201: "Created.", 204: "Done; no content."}


class Components:
    """What operations refer to; `document()` is the components section once every operation is built."""

    def __init__(self, comments: Mapping[str, str]) -> None:
        self.schemas = SchemaRegistry(GATEWAY_SCHEMAS, comments)

    def output_schema(self, message: Descriptor) -> dict[str, str]:
        return self.schemas.output(message)

    def static_schema(self, name: str) -> dict[str, str]:
        if name not in GATEWAY_SCHEMAS:
            raise KeyError(name)
        return ref(name)

    @staticmethod
    def request_id_header() -> dict[str, Any]:
        return {"X-Request-Id": {"$ref": "#/components/headers/RequestId"}}

    @staticmethod
    def problem_ref(status: str) -> dict[str, str]:
        return {"$ref": f"#/components/responses/{PROBLEM_RESPONSES[status][0]}"}

    def success_response(self, route: Route, status: int, description: str | None = None) -> dict[str, Any]:
        headers = self.request_id_header()
        if route.etag is not None:
            headers["ETag"] = {"$ref": "#/components/headers/ETag"}
        if route.location is not None and status == 201:
            headers["Location"] = {"$ref": "#/components/headers/Location"}
        response: dict[str, Any] = {
            "description": description or _SUCCESS_DESCRIPTIONS.get(status, "OK."),
            "headers": headers,
        }
        if status != 204:
            response["content"] = {JSON: {"schema": self.output_schema(route.rpc.method.output_type)}}
        return response

    def problem_response(
        self, description: str, schema_name: str | None = None, extra_properties: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A problem+json response; with `extra_properties`, a schema extending Problem with them."""
        schema = ref("Problem")
        if schema_name is not None:
            self.schemas.schemas[schema_name] = {
                "allOf": [ref("Problem"), {"type": "object", "properties": extra_properties or {}}]
            }
            schema = ref(schema_name)
        return {
            "description": description,
            "headers": self.request_id_header(),
            "content": {PROBLEM_JSON: {"schema": schema}},
        }

    def document(self) -> dict[str, Any]:
        responses = {name: self.problem_response(text) for name, text in PROBLEM_RESPONSES.values()}
        responses["Unauthorized"]["headers"] = {
            **self.request_id_header(),
            "WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer challenge."},
        }
        responses["TooManyRequests"]["headers"] = {
            **self.request_id_header(),
            "Retry-After": {
                "schema": {"type": "integer"},
                "description": "Seconds until the caller's rate limit lets a request through again.",
            },
        }
        return {
            "securitySchemes": SECURITY_SCHEMES,
            "parameters": PARAMETERS,
            "headers": HEADERS,
            "schemas": dict(sorted(self.schemas.schemas.items())),
            "responses": responses,
        }
