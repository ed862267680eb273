"""The web console: server-rendered pages for reps, managers, marketing and admins.

Pages are Jinja2 templates rendered by the gateway; htmx (one vendored file, static/) swaps the
parts that change (live totals by polling, the quota split's sums as one types); charts are the
reporting service's server-rendered SVG. Every page works without script: forms post and redirect.
The console reads and writes only through the services' public gRPC API with the signed-in user's
token (pages.py), so it can show nothing the user could not fetch with curl.

Each screen is a module with a `register(blueprint)`; this package wires them, the static files,
the languages and the page policy.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import HTTPException

from salesplane_gateway.console import (
    admin_screen,
    dev_sign_in,
    home_screen,
    leads_screen,
    marketing_screen,
    pipeline_screen,
    preferences,
    quota_planning_screen,
    reports_screen,
    team_screen,
)
from salesplane_gateway.console.error_pages import error_page, problem_page
from salesplane_gateway.console.static_assets import register_static
from salesplane_gateway.console.template_helpers import install_template_helpers
from salesplane_gateway.login_context import login_context
from salesplane_gateway.problems import Problem

BLUEPRINT = "console"
SCREENS = (
    dev_sign_in,
    preferences,
    home_screen,
    admin_screen,
    pipeline_screen,
    leads_screen,
    reports_screen,
    marketing_screen,
    team_screen,
    quota_planning_screen,
)
# Same-origin everything; no inline script or style (htmx's indicator sheet is turned off in the
# page's htmx-config). Forms may also post to the provider's logout when a login is configured.
_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'{provider}; frame-ancestors 'none'"
)


def install_console(app: Flask) -> None:
    blueprint = Blueprint(BLUEPRINT, __name__, template_folder="templates")
    register_static(blueprint)
    for screen in SCREENS:
        screen.register(blueprint)
    blueprint.register_error_handler(Problem, problem_page)
    blueprint.register_error_handler(HTTPException, error_page)
    blueprint.after_request(_page_policy)
    app.register_blueprint(blueprint)
    install_template_helpers(app)


def _page_policy(response: Response) -> Response:
    if response.mimetype == "text/html":
        login = login_context()
        provider = f" {login.provider.logout_origin()}" if login is not None else ""
        response.headers.setdefault("Content-Security-Policy", _POLICY.format(provider=provider))
        # A page holds the user's data: never cached, and not sent as a referrer.
        response.headers.setdefault("Cache-Control", "no-store")
    if request.headers.get("HX-Request"):
        response.headers["Vary"] = "HX-Request"
    return response
