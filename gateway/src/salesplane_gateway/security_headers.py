"""Security headers on every response, errors included.

The API answers JSON to scripts, never pages, so a response gets a Content-Security-Policy that
allows nothing at all; an HTML response (the browser login's pages) gets a strict same-origin one.
Framing is refused both ways (X-Frame-Options for old browsers, frame-ancestors for the rest).
A view that sets one of these headers itself keeps its own value. HSTS is sent only on a request
that reached us over TLS (directly, or through a trusted proxy: trusted_proxies.py), since a
browser ignores it over plain HTTP and a laptop's http://127.0.0.1 must keep working.
"""

from __future__ import annotations

from flask import Flask, Response, request

JSON_POLICY = "default-src 'none'; frame-ancestors 'none'"
HTML_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"
_ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Answers that carry no caller's data and that caches may keep.
_PUBLIC_PATHS = frozenset({"/openapi.json"})


def install_security_headers(app: Flask) -> None:
    app.after_request(_add_security_headers)


def _add_security_headers(response: Response) -> Response:
    headers = response.headers
    for name, value in _ALWAYS.items():
        headers.setdefault(name, value)
    policy = HTML_POLICY if response.mimetype == "text/html" else JSON_POLICY
    headers.setdefault("Content-Security-Policy", policy)
    if request.path not in _PUBLIC_PATHS:
        headers.setdefault("Cache-Control", "no-store")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response
