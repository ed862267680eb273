"""The gateway's OpenAPI 3.1 document (GET /openapi.json), generated from the route table and the
message descriptors, with the descriptions from the proto comments (proto_comments.json)."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Sequence
from typing import Any

from salesplane_gateway.csv_import import CHUNK_ROWS, CSV_MEDIA_TYPE
from salesplane_gateway.field_rule_table import rule_of
from salesplane_gateway.json_to_proto import resolve_field
from salesplane_gateway.json_values import VALUE_TYPE, map_entry_fields, message_type_name, message_type_of
from salesplane_gateway.merge_patch import MergePatchBody
from salesplane_gateway.openapi_api_docs import api_docs_paths
from salesplane_gateway.openapi_browser_login import TAG as BROWSER_LOGIN_TAG
from salesplane_gateway.openapi_browser_login import browser_login_paths
from salesplane_gateway.openapi_components import JSON, Components
from salesplane_gateway.openapi_schemas import nullable
from salesplane_gateway.proto_comments import load_comments
from salesplane_gateway.route_table import ROUTES
from salesplane_gateway.routing import CsvBody, Download, JsonBody, Route, url_text_field
from salesplane_gateway.transcoding import JSON_PRESENTER

API_VERSION = "1.0.0"
MERGE_PATCH_JSON = "application/merge-patch+json"

DESCRIPTION = (
    "JSON over HTTP for web clients, transcoded to the gRPC services. Every /v1 call needs "
    "`Authorization: Bearer <jwt>`; the same token is forwarded to the services, which authorise the "
    "call. Errors are RFC 9457 problem details. JSON members are named as the protobuf fields; money is "
    "`{currency_code, amount_minor}` with an integer amount in minor units (64-bit integers are JSON "
    "integers, never strings); dates are YYYY-MM-DD; timestamps RFC 3339; enums are lower-case names "
    "without their prefix (`in_process`); unset values are null. Requests may leave members out or "
    "null; unknown members are errors. Custom methods are `<resource>:<verb>`, POST unless they only "
    "read (GET `/v1/periods:of-date`). Every response carries X-Request-Id (the caller's, or a new one). "
    "A browser signed in at /auth/login may send its session cookie instead of the bearer token, with "
    "the session's X-CSRF-Token on POST, PUT, PATCH and DELETE."
)

TAGS = [
    {"name": "opportunities", "description": "Opportunities, sales stages and exchange rates."},
    {"name": "leads", "description": "Leads, their import and scoring, lead sources and campaigns."},
    {"name": "org", "description": "Users and whom they report to."},
    {
        "name": "forecasting",
        "description": "Live rollups and the probabilistic forecast, forecast settings and fiscal "
        "periods, quotas, forecast worksheets and commits.",
    },
    {"name": "reporting", "description": "Reports over every service's data."},
    BROWSER_LOGIN_TAG,
    {"name": "probes"},
    {"name": "meta"},
]


def _probe(operation_id: str, summary: str, responses: dict[str, Any], tag: str = "probes") -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary,
        "security": [],
        "responses": responses,
    }


def _gateway_paths(components: Components) -> dict[str, Any]:
    def ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "description": description,
            "headers": components.request_id_header(),
            "content": {JSON: {"schema": schema}},
        }

    not_ready = components.problem_response("Some upstream does not serve; `errors` and `upstreams` name it.")
    not_ready["content"]["application/problem+json"]["schema"] = components.static_schema("NotReady")
    return {
        "/healthz": {
            "get": _probe(
                "healthz",
                "Liveness: 200 while the process runs",
                {"200": ok("Alive.", components.static_schema("Health"))},
            )
        },
        "/readyz": {
            "get": _probe(
                "readyz",
                "Readiness: 200 only when every upstream's gRPC health check says SERVING",
                {
                    "200": ok("Every upstream serves.", components.static_schema("Readiness")),
                    "503": not_ready,
                },
            )
        },
        "/openapi.json": {
            "get": _probe(
                "openapi",
                "This document",
                {"200": ok("OpenAPI 3.1.", {"type": "object"})},
                tag="meta",
            )
        },
    }


def operation(route: Route, components: Components) -> dict[str, Any]:
    presenter = route.presenter or JSON_PRESENTER
    result: dict[str, Any] = {
        "operationId": route.operation_id,
        "tags": [route.tag],
        "summary": route.summary,
    }
    if (text := route.description or components.schemas.comment(route.rpc.full_name)) is not None:
        result["description"] = text
    parameters = [
        *_path_parameters(route, components),
        *_query_parameters(route, components),
        *_query_map_parameters(route, components),
    ]
    parameters += presenter.query.values()
    if route.if_match is not None:
        parameters.append({"$ref": "#/components/parameters/IfMatch"})
    if parameters:
        result["parameters"] = parameters
    if (body := _request_body(route, components)) is not None:
        result["requestBody"] = body
    responses = {code: components.problem_ref(code) for code in _problem_statuses(route)}
    if route.download is not None:
        responses["200"] = _download_response(route.download, components)
    else:
        responses.update(presenter.responses(route, components))
    result["responses"] = dict(sorted(responses.items()))
    return result


def _path_parameters(route: Route, components: Components) -> list[dict[str, Any]]:
    request = route.rpc.method.input_type
    parameters = []
    for name in route.path_parameters:
        field = resolve_field(request, route.path_field(name))[1]
        parameter = {
            "name": name,
            "in": "path",
            "required": True,
            "schema": components.schemas.ruled_value(field),
        }
        if (text := components.schemas.comment(field.full_name)) is not None:
            parameter["description"] = text
        parameters.append(parameter)
    return parameters


def _query_parameters(route: Route, components: Components) -> list[dict[str, Any]]:
    request = route.rpc.method.input_type
    parameters = []
    for name, path in route.query.items():
        field = resolve_field(request, path)[1]
        item = components.schemas.ruled_value(field)
        rule = rule_of(field)
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in route.required_query or rule.required,
            "schema": {"type": "array", "items": item, **rule.items} if field.is_repeated else item,
        }
        description = components.schemas.comment(field.full_name) or ""
        if field.is_repeated:
            description = (
                f"{description} Repeat the parameter for several values (?{name}=a&{name}=b).".strip()
            )
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


# A query parameter's JSON scalar in URL text (google.protobuf.Value): an integer, a boolean, else text.
_URL_SCALAR = {"type": ["integer", "boolean", "string"]}


def _query_map_parameters(route: Route, components: Components) -> list[dict[str, Any]]:
    """`?filter.<key>=...`: one parameter per prefix. OpenAPI has no style for such names, so each is
    named with the placeholder and described."""
    request = route.rpc.method.input_type
    parameters = []
    for prefix, path in route.query_maps.items():
        field = resolve_field(request, path)[1]
        target = map_entry_fields(field)[1]
        if target.message_type is not None and not url_text_field(target):
            (target,) = target.message_type.fields  # a message of one field (check_route)
        item = (
            _URL_SCALAR
            if message_type_name(target) == VALUE_TYPE
            else components.schemas.value(target, output=False)
        )
        name = f"{prefix}.<key>"
        repeat = f" Repeat it for several values (?{name}=a&{name}=b)." if target.is_repeated else ""
        text = components.schemas.comment(field.full_name) or ""
        description = f"{text} `{prefix}.` and the key set the entry of {field.name}.{repeat}"
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": {"type": "array", "items": item} if target.is_repeated else item,
                "description": description.strip(),
            }
        )
    return parameters


def _download_response(download: Download, components: Components) -> dict[str, Any]:
    listed = " ".join(f"`{media}`: {text}" for media, text in download.media_types.items())
    return {
        "description": "The file, streamed as it is made, as an attachment. A failure once it has begun "
        f"cuts the body short (the status stays 200): check the body is complete. {listed}".strip(),
        "headers": {
            **components.request_id_header(),
            "Content-Disposition": {
                "schema": {"type": "string"},
                "description": 'attachment; filename="<name>.<extension>"',
            },
        },
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}} for media in download.media_types
        }
        or {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }


def _request_body(route: Route, components: Components) -> dict[str, Any] | None:
    request = route.rpc.method.input_type
    if isinstance(route.body, JsonBody):
        excluded = set(route.body.exclude)
        # A body that leaves fields out is a schema of its own, named after the operation's RPC.
        name = f"{route.rpc.name}Request" if excluded else None
        if route.body_field is None:
            excluded |= {route.path_field(p) for p in route.path_parameters}
            schema = components.schemas.input(request, exclude=excluded, name=name)
        else:
            body = message_type_of(request.fields_by_name[route.body_field])
            schema = components.schemas.input(body, exclude=excluded, name=name)
        return {"required": True, "content": {JSON: {"schema": schema}}}
    if isinstance(route.body, MergePatchBody):
        schema = _merge_patch_schema(route, route.body, components)
        return {"required": True, "content": {MERGE_PATCH_JSON: {"schema": schema}, JSON: {"schema": schema}}}
    if isinstance(route.body, CsvBody):
        columns = components.schemas.comment(request.fields_by_name[route.body.text_field].full_name) or ""
        return {
            "required": True,
            "description": f"UTF-8 CSV (a byte order mark is fine), 20 MiB at most by default. {columns} "
            f"Sent to the service {CHUNK_ROWS} records at a time; line numbers in the report are those "
            "of this file.",
            "content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}},
        }
    return None


def _merge_patch_schema(route: Route, spec: MergePatchBody, components: Components) -> dict[str, str]:
    resource = message_type_of(route.rpc.method.input_type.fields_by_name[spec.field])
    name = f"{resource.name}Patch"

    def level(descriptor: Any, prefix: str) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        for member in spec.member_names(prefix):
            field = descriptor.fields_by_name[member]
            path = prefix + member
            if spec.has_member_paths(path):
                schema = level(field.message_type, path + ".")
                properties[member] = nullable(schema) if spec.is_whole_path(path) else schema
            else:
                properties[member] = components.schemas.input_field(field, in_patch=True)
            if (companion := spec.companions.get(path)) is not None:
                properties[member] = {
                    **properties[member],
                    "description": f"{properties[member].get('description', '')} A value sets "
                    f"{companion.field} to {json.dumps(companion.when_set)}; null sets it to "
                    f"{json.dumps(companion.when_null)}.".strip(),
                }
        return {"type": "object", "additionalProperties": False, "minProperties": 1, "properties": properties}

    def build() -> dict[str, Any]:
        schema = level(resource, "")
        schema["description"] = (
            "JSON merge patch (RFC 7386): the members present change, the others keep their value; null "
            "clears a member. An object member listed with its own members changes only those."
        )
        if route.if_match is not None:
            version = route.rpc.method.input_type.fields_by_name[route.if_match]
            schema["properties"][route.if_match] = {
                **components.schemas.input_field(version, in_patch=True),
                "description": "The version the change is based on; If-Match does the same.",
            }
        return schema

    components.schemas.schemas.setdefault(name, build())
    return {"$ref": f"#/components/schemas/{name}"}


def _problem_statuses(route: Route) -> list[str]:
    """Every status the gateway may answer the route with. Any RPC may end in any gRPC status, and a
    read refers to things too (a user, a period, a report), so 404, 409 and 422 are possible on
    every operation (problems.py maps the codes)."""
    statuses = {"400", "401", "403", "404", "409", "422", "429", "500", "502", "503", "504"}
    if route.body is not None:
        statuses |= {"413", "415"}
    return sorted(statuses)


def build_document(routes: Sequence[Route]) -> dict[str, Any]:
    components = Components(load_comments())
    paths: dict[str, Any] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = operation(route, components)
    paths.update(_gateway_paths(components))
    paths.update(browser_login_paths(components))
    paths.update(api_docs_paths(components))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Salesplane API", "version": API_VERSION, "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "tags": TAGS,
        "paths": paths,
        "components": components.document(),
    }


@functools.cache
def _served_document() -> dict[str, Any]:
    return build_document(ROUTES)


def openapi_document() -> dict[str, Any]:
    """The document of the served routes, built once; a copy, so callers may change theirs."""
    return copy.deepcopy(_served_document())


@functools.cache
def openapi_json() -> bytes:
    """The served document as the JSON body of GET /openapi.json, serialised once."""
    return json.dumps(_served_document(), separators=(",", ":")).encode()
