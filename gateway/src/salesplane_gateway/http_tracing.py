"""The HTTP server span of every API request, by OpenTelemetry's Flask instrumentation: it continues
a caller's W3C `traceparent` and is the parent of the gRPC calls the request makes.

Spans are named by the route's template (`POST /v1/opportunities`, `GET
/v1/opportunities/{opportunity_id}`), never by the path sent, as the metrics label them
(http_metrics.py); `http.route` keeps Flask's own form of the rule, as the conventions ask. Probes
and the metrics are not traced: they come every few seconds and say nothing about a request."""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.trace import Span

from salesplane_gateway.path_shadows import route_label

# Regular expressions searched in the full URL (the instrumentation's excluded_urls).
UNTRACED_PATHS = ",".join(
    rf"^[a-z]+://[^/]+/{path}/?(?:\?|$)" for path in ("healthz", "readyz", "livez", "metrics")
)


def install_http_tracing(app: Flask) -> None:
    """Before any other hook, so that a request a hook refuses (a rate limit, a bad token) has its
    span too, and every hook's log lines carry the trace id."""
    FlaskInstrumentor().instrument_app(
        app,
        request_hook=_name_by_route,
        excluded_urls=UNTRACED_PATHS,
        # SQL commenter tags: the gateway runs no SQL.
        enable_commenter=False,
    )


def _name_by_route(span: Span, _environ: Any) -> None:
    rule = request.url_rule
    if rule is None or not span.is_recording():
        return
    span.update_name(f"{request.method} {route_label(rule.rule)}")
