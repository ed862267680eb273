"""The user's language and time zone, kept in two plain cookies (they are not secrets, and a
signed-out page must also honour them)."""

from __future__ import annotations

from flask import Blueprint, redirect, request
from werkzeug.wrappers import Response

from salesplane_gateway.browser_login import safe_next_path
from salesplane_gateway.console.localisation import LANGUAGE_COOKIE, LANGUAGES, ZONE_COOKIE, known_zone

_YEAR = 365 * 24 * 3600


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/preferences", "preferences", _save, methods=["POST"])


def _save() -> Response:
    response = redirect(safe_next_path(request.form.get("next")) or "/", code=303)
    language = request.form.get("lang", "")
    if language in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=_YEAR, samesite="Lax")
    zone = request.form.get("tz", "").strip()
    if zone and known_zone(zone):
        response.set_cookie(ZONE_COOKIE, zone, max_age=_YEAR, samesite="Lax")
    return response
