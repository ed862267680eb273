"""The HTTP edge's RED metrics (rate, errors, duration) for Prometheus.

Series are labelled by the route's template (`/v1/opportunities/{opportunity_id}`), never by
the path a caller sent: ids in paths would give every deal its own series. A request no route
matched is counted as route "unmatched". The metrics are served on a port of their own
(SALESPLANE_GATEWAY_METRICS_PORT), not beside the API: the API port is what the Ingress exposes."""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from prometheus_client import Counter, Gauge, Histogram

from salesplane_gateway.path_shadows import route_label

REQUESTS = Counter(
    "http_server_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
DURATION = Histogram(
    "http_server_request_duration_seconds",
    "Time to answer an HTTP request (until the view returned; a streamed body may go on).",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
IN_FLIGHT = Gauge("http_server_requests_in_flight", "HTTP requests being answered now.")
UNMATCHED = "unmatched"


def install_http_metrics(app: Flask) -> None:
    app.before_request(_started)
    app.after_request(_answered)
    app.teardown_request(_finished)


def _started() -> None:
    g.metrics_started = time.perf_counter()
    IN_FLIGHT.inc()


def _answered(response: Response) -> Response:
    started = g.get("metrics_started")
    if started is not None:
        route = route_label(request.url_rule.rule) if request.url_rule is not None else UNMATCHED
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        DURATION.labels(request.method, route).observe(time.perf_counter() - started)
    return response


def _finished(_error: BaseException | None) -> None:
    if g.pop("metrics_started", None) is not None:
        IN_FLIGHT.dec()
