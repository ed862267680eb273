"""Cross-origin access for browser apps served from other origins: off unless origins are listed.

Off (no SALESPLANE_GATEWAY_CORS_ORIGINS), nothing is installed: no response carries an
Access-Control-* header, so a browser lets no other origin read an answer or send a preflighted
request. On, only the listed origins (exact `scheme://host[:port]`, or `*` for any) are granted,
by echoing the request's Origin; every response then varies by Origin so that no cache hands one
origin's grant to another. Bearer tokens travel in the Authorization header, which needs no
credentials mode; cookies (the browser login) need SALESPLANE_GATEWAY_CORS_ALLOW_CREDENTIALS,
which is refused together with `*`.
"""

from __future__ import annotations

from flask import Flask, Response, request

from salesplane_gateway.config import GatewayConfig
from salesplane_platform.errors import ConfigurationError

ANY_ORIGIN = "*"
ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE"
ALLOWED_HEADERS = "Authorization, Content-Type, If-Match, X-Request-Id, X-CSRF-Token"
# What a script may read of an answer beyond the CORS-safelisted headers.
EXPOSED_HEADERS = "ETag, Location, Retry-After, X-Request-Id, Content-Disposition"


class CorsPolicy:
    def __init__(self, origins: tuple[str, ...], *, allow_credentials: bool, max_age_seconds: int) -> None:
        if ANY_ORIGIN in origins and allow_credentials:
            raise ConfigurationError("CORS credentials cannot be allowed for any origin ('*')")
        self.origins = frozenset(origins)
        self.allow_credentials = allow_credentials
        self.max_age_seconds = max_age_seconds

    def allows(self, origin: str) -> bool:
        return origin in self.origins or (ANY_ORIGIN in self.origins and origin != "null")

    def answer_preflight(self) -> Response | None:
        """before_request: a granted preflight is answered here, before authentication (browsers
        send no credentials with it). Any other goes on as a plain OPTIONS request, ungranted."""
        origin = request.headers.get("Origin")
        is_preflight = request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
        if not (is_preflight and origin and self.allows(origin)):
            return None
        response = Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = str(self.max_age_seconds)
        return response

    def grant(self, response: Response) -> Response:
        """after_request: the grant, on every answer to an allowed origin (errors too, so that
        the app can read why it failed)."""
        response.vary.add("Origin")
        origin = request.headers.get("Origin")
        if origin and self.allows(origin):
            response.headers["Access-Control-Allow-Origin"] = origin
            if self.allow_credentials:
                response.headers["Access-Control-Allow-Credentials"] = "true"
            if "Access-Control-Allow-Methods" not in response.headers:
                response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        return response


def install_cors(app: Flask, config: GatewayConfig) -> None:
    if not config.cors_origins:
        return
    policy = CorsPolicy(
        config.cors_origins,
        allow_credentials=config.cors_allow_credentials,
        max_age_seconds=config.cors_max_age_seconds,
    )
    app.before_request(policy.answer_preflight)
    app.after_request(policy.grant)
