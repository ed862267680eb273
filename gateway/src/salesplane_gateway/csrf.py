"""Cross-site request forgery defences for the requests the session cookie authenticates.

A browser attaches the session cookie to requests other sites make it send; it never attaches a
bearer token by itself, so bearer requests carry no ambient credential and are not checked here.
A state-changing request (POST, PUT, PATCH, DELETE) authenticated by the cookie must:

1. carry the session's CSRF token, in the `X-CSRF-Token` header (scripts: `GET /auth/session`
   tells it) or the `csrf_token` form field (the gateway's own pages). The token is random per
   session, sealed inside the session cookie, and compared in constant time. Another site can make
   the browser send the cookie but cannot read the token.
2. as a second layer, come from where the browser says it comes from: an `Origin` header, when
   present, must be the gateway's public origin (or a CORS origin allowed to send credentials),
   and `Sec-Fetch-Site`, when present, must be `same-origin`, `none` (the user's own action) or
   `same-site` from such an allowed origin. `Origin: null` says nothing: browsers send it for
   the gateway's own form posts, since its pages have `Referrer-Policy: no-referrer`.

SameSite=Lax on the cookie is a third: other sites' POSTs do not carry it at all.
"""

from __future__ import annotations

import hmac
import secrets

from flask import request

from salesplane_gateway.problems import Problem, problem_type

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_failed_problem(detail: str) -> Problem:
    return Problem(403, "CSRF check failed", detail, problem_type("csrf-failed"))


def check_csrf(expected_token: str, *, allowed_origins: frozenset[str]) -> None:
    """Raises the 403 problem unless the current request passes both layers."""
    origin = request.headers.get("Origin")
    if origin == "null":
        origin = None
    if origin is not None and origin not in allowed_origins:
        raise csrf_failed_problem(f"Requests from origin {origin!r} may not use this session.")
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and not (
        site in ("same-origin", "none") or (site == "same-site" and origin in allowed_origins)
    ):
        raise csrf_failed_problem("The browser says this request comes from another site.")
    supplied = request.headers.get(CSRF_HEADER)
    if supplied is None and request.mimetype in _FORM_TYPES:
        supplied = request.form.get(CSRF_FIELD)
    if not supplied:
        raise csrf_failed_problem(
            f"A request authenticated by the session cookie must carry the session's CSRF token "
            f"(the {CSRF_HEADER} header or the {CSRF_FIELD} form field)."
        )
    if not hmac.compare_digest(supplied.encode(), expected_token.encode()):
        raise csrf_failed_problem("The CSRF token is not this session's.")
