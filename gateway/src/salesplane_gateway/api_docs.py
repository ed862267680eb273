"""Browsable API documentation: Swagger UI over the gateway's own OpenAPI document, at /docs.

Swagger UI's files come from the pinned flask-swagger-ui wheel (only its dist/ folder, not its
blueprint, whose page runs an inline script our CSP refuses). Everything is served from here, so the
page works without internet: no CDN, and the online validator badge is off. The page and its script
are ours (api_docs_assets/); the script points Swagger UI at /openapi.json and, when the browser is
signed in (browser_login.py), adds the session's CSRF token to state-changing "Try it out" calls.

Swagger UI sets style attributes on its elements, so its page alone allows inline styles (never
inline scripts)."""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Flask, Response, abort, send_from_directory

BLUEPRINT = "api_docs"
PAGE_PATH = "/docs"
ASSETS_PATH = "/docs/assets"
SWAGGER_UI_DIR = Path(flask_swagger_ui.__file__).parent / "dist"
OWN_DIR = Path(__file__).parent / "api_docs_assets"
# Served names, each from its folder: a fixed list, so no other file of either folder is reachable.
SWAGGER_UI_ASSETS = frozenset(
    {"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png"}
)
OWN_ASSETS = frozenset({"api-docs.js", "api-docs.css"})
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The assets change only with the gateway's version; a day keeps reloads cheap across a rollout.
ASSET_MAX_AGE_S = 86_400


def install_api_docs(app: Flask) -> None:
    blueprint = Blueprint(BLUEPRINT, __name__)
    blueprint.add_url_rule(PAGE_PATH, "page", _page, methods=["GET"])
    blueprint.add_url_rule(f"{ASSETS_PATH}/<name>", "asset", _asset, methods=["GET"])
    app.register_blueprint(blueprint)


def swagger_ui_version() -> str:
    return (SWAGGER_UI_DIR / "VERSION").read_text().strip().lstrip("v")


def _page() -> Response:
    response = send_from_directory(OWN_DIR, "api-docs.html", mimetype="text/html", max_age=0)
    response.headers["Content-Security-Policy"] = DOCS_POLICY
    return response


def _asset(name: str) -> Response:
    if name in SWAGGER_UI_ASSETS:
        folder = SWAGGER_UI_DIR
    elif name in OWN_ASSETS:
        folder = OWN_DIR
    else:
        abort(404)
    response = send_from_directory(folder, name, max_age=ASSET_MAX_AGE_S)
    response.headers["Cache-Control"] = f"public, max-age={ASSET_MAX_AGE_S}"
    return response
