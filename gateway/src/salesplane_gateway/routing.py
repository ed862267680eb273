"""The vocabulary of the route table: which HTTP call maps onto which RPC, and how its parts fill the
request message (in the manner of google.api.http / grpc-gateway).

A route names an HTTP method and a path template (`/v1/leads/{lead_id}:assign`), the RPC, which
request fields the path parameters and query parameters fill (`?filter.<id>=` fills a map entry),
what the JSON body is (the whole request, one message field of it, a merge patch of a resource, or
CSV text), and how the answer is presented (status, ETag, Location; or, for a server-streaming RPC
whose messages are the pieces of a file, a streamed download). `check_route` verifies all of that
against the descriptors when the app is built, so a typo in the table fails at start, not at the
first request. An RPC may have several routes (a GET with query parameters and a POST with the
whole request as its body); each but one then names its own operation."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from flask import Response
from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message

from salesplane_gateway.json_to_proto import JsonDecoder, resolve_field
from salesplane_gateway.json_values import (
    STRING_MESSAGES,
    VALUE_TYPE,
    is_map,
    map_entry_fields,
    message_type_of,
)
from salesplane_gateway.merge_patch import MergePatchBody

if TYPE_CHECKING:
    from salesplane_gateway.openapi_components import Components

_PATH_PARAMETER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Rpc:
    """One method of an upstream service: unary, or streaming its responses."""

    upstream: str
    method: MethodDescriptor

    @property
    def name(self) -> str:
        return self.method.name

    @property
    def service_name(self) -> str:
        return self.method.containing_service.full_name

    @property
    def full_name(self) -> str:
        return f"{self.service_name}.{self.name}"

    @property
    def request_class(self) -> type[Message]:
        return message_factory.GetMessageClass(self.method.input_type)

    @property
    def response_class(self) -> type[Message]:
        return message_factory.GetMessageClass(self.method.output_type)


class Service:
    """The RPCs of one gRPC service, served by the upstream named `upstream`."""

    def __init__(self, module: ModuleType, name: str, upstream: str) -> None:
        self.descriptor = module.DESCRIPTOR.services_by_name[name]
        self.upstream = upstream

    def rpc(self, name: str) -> Rpc:
        return Rpc(self.upstream, self.descriptor.methods_by_name[name])


@dataclass(frozen=True)
class JsonBody:
    """The JSON body fills the whole request ("*") or one message field of it (google.api.http `body`).
    `exclude` names fields of that message the body may not set, where one request message serves
    several RPCs (SaveReportRequest.expected_version is for updates only)."""

    field: str = "*"
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class CsvBody:
    """A text/csv body, sent to the RPC in chunks: the text goes into `text_field`, the line number of
    the chunk's first data line in the whole file into `first_line_field`."""

    text_field: str
    first_line_field: str


Body = JsonBody | MergePatchBody | CsvBody | None


@dataclass(frozen=True)
class Download:
    """The answer of a server-streaming RPC whose messages are the pieces of one file: the first names
    its media type and file name, every one carries some of its bytes. The HTTP answer is that file,
    streamed as the pieces arrive, as an attachment."""

    content_type_field: str = "content_type"
    filename_field: str = "filename"
    data_field: str = "data"
    # The media types the file may have -> what each holds (for the OpenAPI document).
    media_types: Mapping[str, str] = field(default_factory=dict)


class Presenter(Protocol):
    """How a route answers once the RPC returned (the default: the message as JSON)."""

    # Query parameters the presenter reads itself (not request fields): name -> OpenAPI parameter.
    query: Mapping[str, dict[str, Any]]

    def check_query(self, decoder: JsonDecoder) -> None:
        """Reports invalid values of the presenter's own query parameters (before the call)."""
        ...

    def present(self, route: Route, response: Message) -> Response: ...

    def responses(self, route: Route, components: Components) -> dict[str, Any]:
        """The OpenAPI responses of the successful outcomes (and of any outcome-specific problems)."""
        ...


@dataclass(frozen=True)
class FanOut:
    # The upstreams to call for the current request (e.g. all, or the one a query parameter names).
    upstreams: Callable[[], tuple[str, ...]]
    # The request (e.g. its page size) and every upstream's answer -> the one answer.
    merge: Callable[[Message, Sequence[Message]], Message]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    rpc: Rpc
    summary: str
    body: Body = None
    # Path parameter -> request field (dotted) it fills; a parameter not listed fills the field of its name.
    path_fields: Mapping[str, str] = field(default_factory=dict)
    # Query parameter -> request field (dotted). Repeated fields take every occurrence (?a=1&a=2).
    query: Mapping[str, str] = field(default_factory=dict)
    # Query parameter prefix -> map field (dotted): `?<prefix>.<key>=<text>` fills the entry <key>.
    # A map of messages with a single field fills that field (repeated: every occurrence).
    query_maps: Mapping[str, str] = field(default_factory=dict)
    required_query: tuple[str, ...] = ()
    status: int = 200
    # Request field the If-Match header fills (and the body may carry too, if they agree).
    if_match: str | None = None
    # Response field (dotted) sent as the ETag.
    etag: str | None = None
    # Location header of a 201, e.g. "/v1/leads/{lead.id}" (placeholders: response fields).
    location: str | None = None
    # Request fields that default to the caller's user id when left empty.
    caller_fills: tuple[str, ...] = ()
    presenter: Presenter | None = None
    # How a server-streaming RPC's messages become the HTTP answer (the only way they may).
    download: Download | None = None
    # The operation's description; None: the RPC's comment in the proto.
    description: str | None = None
    # The operation id (and Flask endpoint); None: the RPC's name in lowerCamelCase.
    operation: str | None = None
    # Called on several upstreams at once (each serves the RPC over its own data) and their answers
    # folded into one; None: one call to the RPC's upstream.
    fan_out: FanOut | None = None

    @functools.cached_property
    def path_parameters(self) -> tuple[str, ...]:
        return tuple(_PATH_PARAMETER.findall(self.path))

    def path_field(self, parameter: str) -> str:
        return self.path_fields.get(parameter, parameter)

    @property
    def operation_id(self) -> str:
        return self.operation or self.rpc.name[0].lower() + self.rpc.name[1:]

    @property
    def tag(self) -> str:
        return self.rpc.upstream

    @property
    def body_field(self) -> str | None:
        """The request field the body fills, or None when the body is the whole request (or absent)."""
        if isinstance(self.body, JsonBody):
            return None if self.body.field == "*" else self.body.field
        if isinstance(self.body, MergePatchBody):
            return self.body.field
        return None

    def http_name(self, request_field: str) -> str:
        """What the HTTP caller calls a request field, for field violations from the service:
        a path or query parameter's name, a body member's path within the body."""
        for parameter in self.path_parameters:
            if self.path_field(parameter) == request_field:
                return parameter
        for parameter, bound in self.query.items():
            if bound == request_field or request_field.startswith(bound + "["):
                return parameter
        for map_prefix, bound in self.query_maps.items():
            # A service may name the entry relative to the message holding the map (an export's
            # run options are `filter_values.stage`, not `run.filter_values.stage`).
            for named in dict.fromkeys((bound, bound.rsplit(".", 1)[-1])):
                if (key := _map_key_of(request_field, named)) is not None:
                    return f"{map_prefix}.{key}"
        if isinstance(self.body, MergePatchBody) and request_field == self.body.mask:
            return "body"
        if isinstance(self.body, CsvBody) and request_field == self.body.text_field:
            return "body"
        if (prefix := self.body_field) is not None and request_field.startswith(prefix + "."):
            return request_field[len(prefix) + 1 :]
        return request_field


def _map_key_of(request_field: str, map_field: str) -> str | None:
    """The entry a field path names in a map field: `filter_values.stage`, `filter_values[stage]` or
    `filter_values["stage"]` (with anything after it) -> "stage"."""
    rest = request_field.removeprefix(map_field)
    if rest == request_field or not rest:
        return None
    if rest.startswith("."):
        return rest[1:].split(".", 1)[0].split("[", 1)[0] or None
    if rest.startswith("[") and "]" in rest:
        return rest[1 : rest.index("]")].strip("\"'") or None
    return None


class RouteError(ValueError):
    """The route table disagrees with the contracts."""


def check_route(route: Route) -> None:
    """Every name in the route must exist in the RPC's messages, with a type its binding can carry."""
    where = f"{route.method} {route.path}"
    request = route.rpc.method.input_type
    response = route.rpc.method.output_type

    def field_of(descriptor: Any, path: str, role: str) -> FieldDescriptor:
        try:
            return resolve_field(descriptor, path)[1]
        except KeyError:
            raise RouteError(f"{where}: {role} {path!r} is not a field of {descriptor.full_name}") from None

    for parameter in route.path_parameters:
        target = field_of(request, route.path_field(parameter), "path parameter")
        if target.is_repeated or not url_text_field(target):
            raise RouteError(f"{where}: path parameter {parameter!r} must fill a single scalar field")
    if set(route.path_fields) - set(route.path_parameters):
        raise RouteError(f"{where}: path_fields name parameters the path does not have")
    for parameter, path in route.query.items():
        if not url_text_field(field_of(request, path, "query parameter")):
            raise RouteError(f"{where}: query parameter {parameter!r} must fill a scalar field")
    for prefix, path in route.query_maps.items():
        if "." in prefix or prefix in route.query:
            raise RouteError(
                f"{where}: query map prefix {prefix!r} must be a name without a dot, not a parameter's"
            )
        _check_query_map(where, prefix, field_of(request, path, "query map"))
    if set(route.required_query) - set(route.query):
        raise RouteError(f"{where}: required_query names unknown query parameters")
    if route.body_field is not None:
        target = field_of(request, route.body_field, "body field")
        if "." in route.body_field or target.type != FieldDescriptor.TYPE_MESSAGE or target.is_repeated:
            raise RouteError(f"{where}: the body field must be a top-level, single message field")
    if isinstance(route.body, JsonBody):
        body = (
            request if route.body_field is None else message_type_of(request.fields_by_name[route.body_field])
        )
        for name in route.body.exclude:
            field_of(body, name, "excluded body member")
    if isinstance(route.body, MergePatchBody):
        resource = field_of(request, route.body.field, "body field").message_type
        for path in route.body.paths:
            field_of(resource, path, "patch path")
        field_of(request, route.body.mask, "update mask")
        for companion in route.body.companions.values():
            field_of(resource, companion.field, "companion")
    if isinstance(route.body, CsvBody):
        field_of(request, route.body.text_field, "CSV text field")
        field_of(request, route.body.first_line_field, "first line field")
    if route.if_match is not None:
        field_of(request, route.if_match, "If-Match field")
    if route.etag is not None:
        field_of(response, route.etag, "ETag field")
    for placeholder in _PATH_PARAMETER.findall(route.location or ""):
        field_of(response, placeholder, "Location placeholder")
    for path in route.caller_fills:
        field_of(request, path, "caller-filled field")
    if route.body is None and route.method in ("POST", "PUT", "PATCH"):
        raise RouteError(f"{where}: a {route.method} route needs a body")
    _check_streaming(route, where)


def _check_query_map(where: str, prefix: str, target: FieldDescriptor) -> None:
    if not is_map(target):
        raise RouteError(f"{where}: query map {prefix!r} must fill a map field")
    key, value = map_entry_fields(target)
    if value.type == FieldDescriptor.TYPE_MESSAGE and not url_text_field(value):
        fields = message_type_of(value).fields
        if len(fields) != 1 or is_map(fields[0]) or not url_text_field(fields[0]):
            raise RouteError(f"{where}: query map {prefix!r} needs values of one URL text field")
    elif not url_text_field(value):
        raise RouteError(f"{where}: query map {prefix!r} needs values URL text can carry")
    if not url_text_field(key):
        raise RouteError(f"{where}: query map {prefix!r} needs keys URL text can carry")


def _check_streaming(route: Route, where: str) -> None:
    """A server-streaming RPC is served as a download, and only as one; no RPC may stream requests."""
    method = route.rpc.method
    if method.client_streaming:
        raise RouteError(f"{where}: client-streaming RPCs cannot be routed")
    if route.download is None:
        if method.server_streaming:
            raise RouteError(f"{where}: a server-streaming RPC needs a download")
        return
    if not method.server_streaming:
        raise RouteError(f"{where}: a download needs a server-streaming RPC")
    if route.presenter is not None or route.etag or route.location or route.status != 200:
        raise RouteError(f"{where}: a download has no presenter, ETag, Location or status of its own")
    chunk = method.output_type
    for role, name, kind in (
        ("content type field", route.download.content_type_field, FieldDescriptor.TYPE_STRING),
        ("file name field", route.download.filename_field, FieldDescriptor.TYPE_STRING),
        ("data field", route.download.data_field, FieldDescriptor.TYPE_BYTES),
    ):
        found = chunk.fields_by_name.get(name)
        if found is None or found.type != kind or found.is_repeated:
            raise RouteError(f"{where}: download {role} {name!r} is not a single field of {chunk.full_name}")


def url_text_field(field: FieldDescriptor) -> bool:
    """Whether a field's value can be written as URL text (a scalar, an enum, a date, a timestamp, or
    a google.protobuf.Value holding a JSON scalar)."""
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return message_type_of(field).full_name in STRING_MESSAGES | {VALUE_TYPE}
    return field.type != FieldDescriptor.TYPE_GROUP
