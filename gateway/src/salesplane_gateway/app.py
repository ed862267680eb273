"""The Flask application: request ids, access log, traces, problem+json errors, probes and the API."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import cast

import grpc
from flask import Flask, Response, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from grpc_health.v1 import health_pb2
from werkzeug.exceptions import HTTPException

from salesplane_gateway.api import api_blueprint
from salesplane_gateway.api_docs import install_api_docs
from salesplane_gateway.browser_login import install_browser_login
from salesplane_gateway.clients import HEALTH_SERVICE_NAMES, ServiceClients
from salesplane_gateway.config import UPSTREAMS, GatewayConfig
from salesplane_gateway.console import install_console
from salesplane_gateway.cors import install_cors
from salesplane_gateway.http_metrics import install_http_metrics
from salesplane_gateway.http_tracing import install_http_tracing
from salesplane_gateway.openapi import openapi_json
from salesplane_gateway.path_shadows import SegmentConverter
from salesplane_gateway.problems import Problem, problem_type
from salesplane_gateway.rate_limits import install_rate_limits
from salesplane_gateway.request_context import EXTENSION_KEY, GatewayState, state
from salesplane_gateway.security_headers import install_security_headers
from salesplane_gateway.trusted_proxies import install_trusted_proxies
from salesplane_platform.authentication import AuthSettings, TokenVerifiers
from salesplane_platform.errors import FieldViolation

log = logging.getLogger(__name__)
access_log = logging.getLogger("salesplane_gateway.access")

REQUEST_ID_HEADER = "X-Request-Id"
# Probes hit these every few seconds; their access lines are logged at DEBUG only.
_PROBE_PATHS = frozenset({"/healthz", "/readyz"})
# A caller's request id is kept only when it is short and plain; otherwise a new one is made.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


def create_app(config: GatewayConfig, clients: ServiceClients | None = None) -> Flask:
    """Build the gateway. Nothing connects here: channels open on first use. When `clients` is None
    the app makes its own (close them with `app.extensions["salesplane_gateway"].clients.close()`)."""
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    # Flask types app.json as the JSONProvider base; a plain Flask app's provider is the default one.
    cast(DefaultJSONProvider, app.json).sort_keys = False
    app.extensions[EXTENSION_KEY] = GatewayState(
        config=config,
        clients=clients if clients is not None else ServiceClients(config.targets),
        verifier=TokenVerifiers(
            AuthSettings(
                development=bool(config.auth_secret), shared_secret=config.auth_secret, oidc=config.oidc
            )
        ),
    )
    install_http_tracing(app)
    app.before_request(_start_request)
    # First after the request id: a request refused by a later hook (rate limit, CSRF, a bad
    # token) is still counted, under its route and status.
    install_http_metrics(app)
    app.after_request(_finish_request)
    app.register_error_handler(Problem, _problem)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.url_map.converters["segment"] = SegmentConverter
    app.register_blueprint(api_blueprint())
    install_browser_login(app, config)
    install_console(app)
    install_api_docs(app)
    app.add_url_rule("/healthz", "healthz", _healthz, methods=["GET"])
    app.add_url_rule("/readyz", "readyz", _readyz, methods=["GET"])
    app.add_url_rule("/openapi.json", "openapi", _openapi, methods=["GET"])
    # The edge. Order matters: after_request hooks run last installed first, so a 429 of the rate
    # limit still gets the CORS grant and the security headers, and a granted CORS preflight is
    # answered before the rate limit (and the API's authentication) see it.
    install_trusted_proxies(app, config)
    install_security_headers(app)
    install_cors(app, config)
    install_rate_limits(app, config)
    openapi_json()  # built at start: a route the document cannot describe fails here, not on a GET
    return app


def _start_request() -> None:
    g.started = time.perf_counter()
    supplied = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex


def _finish_request(response: Response) -> Response:
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers[REQUEST_ID_HEADER] = request_id
    identity = g.get("identity")
    started = g.get("started")
    access_log.log(
        logging.DEBUG if request.path in _PROBE_PATHS and response.status_code < 400 else logging.INFO,
        "%s %s %s",
        request.method,
        request.path,
        response.status_code,
        extra={
            "request_id": request_id,
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
            "subject": identity.subject if identity is not None else None,
        },
    )
    return response


def _problem(problem: Problem) -> Response:
    return problem.to_response()


def _http_error(error: HTTPException) -> Response:
    """Werkzeug's own errors (unknown route, wrong method, body too large) as problems."""
    status = error.code or 500
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    return Problem(status, error.name, error.description or error.name, headers=headers).to_response()


def _unexpected_error(error: Exception) -> Response:
    log.exception("unhandled error", extra={"request_id": g.get("request_id")})
    return Problem(
        500,
        "Internal server error",
        "The gateway failed to handle the request.",
        problem_type("internal-error"),
    ).to_response()


def _healthz() -> Response:
    return jsonify({"status": "ok"})


def _readyz() -> Response:
    """Ready only when every upstream's gRPC health service reports its API as SERVING."""
    config, clients = state().config, state().clients
    pending = {
        name: clients.health(name).Check.future(
            health_pb2.HealthCheckRequest(service=HEALTH_SERVICE_NAMES[name]),
            timeout=config.readiness_timeout_seconds,
        )
        for name in UPSTREAMS
    }
    statuses: dict[str, str] = {}
    for name, future in pending.items():
        try:
            statuses[name] = health_pb2.HealthCheckResponse.ServingStatus.Name(future.result().status)
        except grpc.RpcError as error:
            statuses[name] = error.code().name if isinstance(error, grpc.Call) else "UNKNOWN"
    failing = [name for name, status in statuses.items() if status != "SERVING"]
    if not failing:
        return jsonify({"status": "ready", "upstreams": statuses})
    log.warning("not ready", extra={"upstreams": statuses})
    return Problem(
        503,
        "Not ready",
        f"Upstreams not serving: {', '.join(failing)}.",
        problem_type("not-ready"),
        errors=[FieldViolation(name, f"health check answered {statuses[name]}") for name in failing],
        extensions={"upstreams": statuses},
    ).to_response()


def _openapi() -> Response:
    return Response(openapi_json(), mimetype="application/json")
