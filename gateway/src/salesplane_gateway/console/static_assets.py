"""The console's vendored and own static files, served by the gateway (no CDN, no internet).

Every file name carries its version (htmx-4.0.1.min.js) or its content's hash (console.css?v=...),
so browsers may keep them for a year: a new release links new names."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from flask import Blueprint, send_from_directory
from werkzeug.wrappers import Response

STATIC = Path(__file__).parent / "static"
HTMX = "htmx-4.0.1.min.js"
_YEAR = 365 * 24 * 3600


def register_static(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/console/static/<path:name>", "static_file", _static_file, methods=["GET"])


def _static_file(name: str) -> Response:
    response = send_from_directory(STATIC, name, max_age=_YEAR)
    response.headers["Cache-Control"] = f"public, max-age={_YEAR}, immutable"
    return response


@cache
def asset_version(name: str) -> str:
    """A short hash of the file's content, appended to its URL."""
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
