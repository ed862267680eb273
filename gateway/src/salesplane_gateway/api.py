"""The /v1 API: every call is authenticated, then served by its route of the route table."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flask import Blueprint, Response, g, request

from salesplane_gateway.csv_import import csv_import_view
from salesplane_gateway.downloads import download_view
from salesplane_gateway.fan_out import fan_out_view
from salesplane_gateway.path_shadows import flask_rules
from salesplane_gateway.problems import identity_provider_unavailable_problem, unauthenticated_problem
from salesplane_gateway.request_context import state
from salesplane_gateway.route_table import ROUTES
from salesplane_gateway.routing import CsvBody, Route, check_route
from salesplane_gateway.session_authentication import authenticate_by_session
from salesplane_gateway.transcoding import transcoding_view
from salesplane_platform.errors import Unauthenticated, Unavailable

# The blueprint's name: its before_request hooks run for its routes only (rate_limits.py adds one).
API_BLUEPRINT = "v1"


def api_blueprint(routes: Sequence[Route] = ROUTES) -> Blueprint:
    """The routes as Flask views. The app must register SegmentConverter as "segment" first."""
    blueprint = Blueprint(API_BLUEPRINT, __name__)
    blueprint.before_request(_authenticate)
    blueprint.after_request(_no_store)
    rules = flask_rules([route.path for route in routes])
    for route in routes:
        check_route(route)
        blueprint.add_url_rule(
            rules[route.path], endpoint=route.operation_id, view_func=_view(route), methods=[route.method]
        )
    return blueprint


def _view(route: Route) -> Callable[..., Response]:
    if route.fan_out is not None:
        return fan_out_view(route)
    if route.download is not None:
        return download_view(route)
    if isinstance(route.body, CsvBody):
        return csv_import_view(route)
    return transcoding_view(route)


def _authenticate() -> None:
    header = request.headers.get("Authorization")
    if header is None and (signed_in := authenticate_by_session()) is not None:
        # A browser signed in to the console: its session's access token stands for a bearer
        # token (CSRF-checked when the request changes anything).
        g.identity, g.bearer_token = signed_in
        return
    try:
        g.identity = state().verifier.verify_header(header)
    except Unauthenticated as error:
        raise unauthenticated_problem(error.message) from None
    except Unavailable as error:
        # The identity provider's keys cannot be fetched: the caller's token may be fine.
        raise identity_provider_unavailable_problem(error.message) from None
    g.bearer_token = str(header).partition(" ")[2].strip()


def _no_store(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    return response
