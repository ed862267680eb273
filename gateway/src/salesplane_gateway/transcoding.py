"""Generic HTTP <-> gRPC transcoding of one route: the request message from the path, the query, the
body and the If-Match header; the call; the answer as JSON with its status, ETag and Location."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flask import Response, jsonify, request
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from salesplane_gateway.json_input import read_json_object
from salesplane_gateway.json_to_proto import JsonDecoder, parent_message, read_path
from salesplane_gateway.merge_patch import MergePatchBody, apply_merge_patch
from salesplane_gateway.preconditions import etag, if_match_version
from salesplane_gateway.proto_to_json import message_json
from salesplane_gateway.request_context import caller
from salesplane_gateway.routing import JsonBody, Presenter, Route
from salesplane_gateway.upstream import call

if TYPE_CHECKING:
    from salesplane_gateway.openapi_components import Components


def transcoding_view(route: Route) -> Callable[..., Response]:
    presenter = route.presenter or JSON_PRESENTER

    def view(**path_arguments: str) -> Response:
        message = build_request(route, path_arguments)
        response = call(route.rpc, message, http_name=route.http_name)
        return presenter.present(route, response)

    return view


def build_request(route: Route, path_arguments: Mapping[str, str]) -> Message:
    """The request message of a route from the current HTTP request, or a 400/415 problem naming
    every invalid part."""
    message = route.rpc.request_class()
    decoder = JsonDecoder()
    version = if_match_version() if route.if_match is not None else None
    if isinstance(route.body, JsonBody):
        target = message if route.body_field is None else getattr(message, route.body_field)
        target.SetInParent()
        decoder.merge_object(read_json_object(request), target, exclude=route.body.exclude)
    elif isinstance(route.body, MergePatchBody):
        _bind_merge_patch(route, route.body, message, decoder)
    _bind_path(route, message, path_arguments, decoder)
    _bind_query(route, message, decoder)
    for path in route.caller_fills:
        holder, field = parent_message(message, path)
        if not getattr(holder, field.name):
            setattr(holder, field.name, caller().subject)
    if version is not None and route.if_match is not None:
        holder, field = parent_message(message, route.if_match)
        if getattr(holder, field.name) not in (0, version):
            decoder.fail(route.if_match, "disagrees with the If-Match header")
        setattr(holder, field.name, version)
    decoder.require_fields(message, route.http_name, functools.partial(_not_wholly_sent, route))
    decoder.raise_if_invalid()
    return message


def _not_wholly_sent(route: Route, path: str) -> bool:
    """A merge patch's resource need not carry its required fields, nor a member it merges member by
    member (`amount` in `{"amount": {"amount_minor": 5}}`) its own."""
    if not isinstance(route.body, MergePatchBody):
        return False
    resource = route.body.field
    return path == resource or route.body.has_member_paths(path.removeprefix(resource + "."))


def _bind_merge_patch(route: Route, spec: MergePatchBody, message: Message, decoder: JsonDecoder) -> None:
    patch = dict(read_json_object(request))
    # The version may ride in the patch document as well as in If-Match.
    if route.if_match is not None and route.if_match in patch:
        holder, field = parent_message(message, route.if_match)
        decoder.set_field(holder, field, patch.pop(route.if_match), route.if_match)
    resource = getattr(message, spec.field)
    resource.SetInParent()
    paths = apply_merge_patch(patch, resource, spec, decoder)
    getattr(message, spec.mask).paths.extend(paths)


def _bind_path(
    route: Route, message: Message, path_arguments: Mapping[str, str], decoder: JsonDecoder
) -> None:
    """Path parameters win; a body that names the same field must agree with them."""
    for parameter in route.path_parameters:
        path = route.path_field(parameter)
        holder, field = parent_message(message, path)
        before = getattr(holder, field.name) if _is_set(holder, field) else None
        decoder.set_text(message, path, [path_arguments[parameter]], parameter)
        if before is not None and before != getattr(holder, field.name):
            prefix = f"{route.body_field}." if route.body_field else ""
            decoder.fail(path.removeprefix(prefix), f"disagrees with the URL path ({parameter})")


def _bind_query(route: Route, message: Message, decoder: JsonDecoder) -> None:
    """Query parameters of the route's fields and map entries (`?filter.stage=won`); the presenter
    checks its own (e.g. ?format=csv)."""
    presenter = route.presenter or JSON_PRESENTER
    presenter.check_query(decoder)
    own = presenter.query
    known = [*route.query, *(f"{prefix}.<key>" for prefix in route.query_maps), *own]
    for name in request.args:
        prefix, _, key = name.partition(".")
        if name in own:
            continue
        if name in route.query:
            decoder.set_text(message, route.query[name], request.args.getlist(name), name)
        elif key and prefix in route.query_maps:
            decoder.set_map_text(message, route.query_maps[prefix], key, request.args.getlist(name), name)
        else:
            expected = f"expected some of {known}" if known else "this operation takes none"
            decoder.fail(name, f"is not a known query parameter; {expected}")
    for name in route.required_query:
        if name not in request.args:
            decoder.fail(name, "is a required query parameter")


def _is_set(holder: Message, field: FieldDescriptor) -> bool:
    if field.has_presence:
        return holder.HasField(field.name)
    return bool(getattr(holder, field.name) != field.default_value)


# ---------------------------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------------------------


def json_response(route: Route, message: Message, status: int) -> Response:
    """The message as JSON with the route's ETag, and its Location when something was created."""
    if status == 204:
        response = Response(status=204)
    else:
        response = jsonify(message_json(message))
        response.status_code = status
    if route.etag is not None and (version := read_path(message, route.etag)):
        response.headers["ETag"] = etag(version)
    if route.location is not None and status == 201:
        response.headers["Location"] = fill_template(route.location, message)
    return response


def fill_template(template: str, message: Message) -> str:
    """ "/v1/leads/{lead.id}" with the message's lead.id, URL-escaped."""
    result = template
    while "{" in result:
        start = result.index("{")
        end = result.index("}", start)
        value = read_path(message, result[start + 1 : end])
        result = result[:start] + quote(str(value or ""), safe="") + result[end + 1 :]
    return result


class JsonPresenter:
    """The default: the response message as JSON, with the route's status."""

    query: Mapping[str, dict[str, Any]] = {}

    def check_query(self, decoder: JsonDecoder) -> None:
        pass

    def present(self, route: Route, response: Message) -> Response:
        return json_response(route, response, route.status)

    def responses(self, route: Route, components: Components) -> dict[str, Any]:
        return {str(route.status): components.success_response(route, route.status)}


JSON_PRESENTER: Presenter = JsonPresenter()
