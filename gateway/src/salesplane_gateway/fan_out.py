"""A route answered by several upstreams at once (routing.FanOut): one request message, the same
call on each, their answers merged, then presented like any route's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from flask import Response

from salesplane_gateway.routing import Route
from salesplane_gateway.transcoding import JSON_PRESENTER, build_request
from salesplane_gateway.upstream import call_each


def fan_out_view(route: Route) -> Callable[..., Response]:
    fan_out = route.fan_out
    assert fan_out is not None
    presenter = route.presenter or JSON_PRESENTER

    def view(**path_arguments: str) -> Response:
        message = build_request(route, path_arguments)
        rpcs = [replace(route.rpc, upstream=upstream) for upstream in fan_out.upstreams()]
        answers = call_each(rpcs, message, http_name=route.http_name)
        return presenter.present(route, fan_out.merge(message, answers))

    return view
