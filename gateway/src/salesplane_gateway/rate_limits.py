"""Per-caller rate limits: 429 with Retry-After once a caller's token bucket is empty.

The caller is the verified identity's subject when the request carries a bearer token the API
verifies, else the client address (the proxies' X-Forwarded-For only when trusted_proxies.py
says so). Every request but the probes and /openapi.json is charged exactly once:

- without credentials (or outside the API): to its address, before it is handled;
- with a bearer token to an API route: to its subject, right after the API verified the token,
  so rotating tokens of one user does not help and users behind one NAT do not share a bucket;
- with a token the API did not verify (401, or 503 while the provider's keys are unreachable):
  to its address, after the verification, whose answer becomes a 429 once that address's bucket
  is empty. Guessing tokens is thus limited by address like any anonymous traffic.

The buckets live in this process: each gateway replica limits on its own, so with N replicas
behind a load balancer a caller may get up to N times the configured rate. A limit shared by all
replicas would need a store such as Redis; this one costs nothing per request but a lock.
"""

from __future__ import annotations

import ipaddress
import math
from typing import cast

from flask import Flask, Response, current_app, g, request

from salesplane_gateway.api import API_BLUEPRINT
from salesplane_gateway.config import GatewayConfig
from salesplane_gateway.problems import rate_limited_problem
from salesplane_gateway.request_context import caller
from salesplane_gateway.token_buckets import TokenBuckets

# app.extensions key of the app's TokenBuckets (a test may put buckets with its own clock there).
RATE_LIMITS_KEY = "salesplane_gateway.rate_limits"
# Kubernetes probes and the public contract are never limited.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json"})
# An IPv6 client usually holds a whole /64, so its addresses share one bucket.
_IPV6_PREFIX = 64
# flask.g flag: charge this request once its credentials are verified (or found wanting).
_DEFERRED = "rate_limit_deferred"


def install_rate_limits(app: Flask, config: GatewayConfig) -> None:
    """Limit every caller to config.rate_limit_per_second with a burst of config.rate_limit_burst;
    nothing when either is 0. Call after the API blueprint is registered: its hook must follow the
    blueprint's authentication, and after_request hooks installed before this one (CORS, security
    headers) run after it, so a 429 gets their headers too."""
    if not config.rate_limited:
        return
    if API_BLUEPRINT not in app.blueprints:
        raise RuntimeError("install_rate_limits needs the API blueprint registered first")
    app.extensions[RATE_LIMITS_KEY] = TokenBuckets(config.rate_limit_per_second, config.rate_limit_burst)
    app.before_request(_charge_unidentified)
    # Appended to the blueprint's own hooks, so it runs after their authentication.
    app.before_request_funcs.setdefault(API_BLUEPRINT, []).append(_charge_identified)
    app.after_request(_charge_unverified)


def _charge_unidentified() -> None:
    if request.path in EXEMPT_PATHS:
        return
    if request.blueprint == API_BLUEPRINT and "Authorization" in request.headers:
        setattr(g, _DEFERRED, True)
        return
    _charge(_address_key())


def _charge_identified() -> None:
    if g.pop(_DEFERRED, False):
        _charge(f"subject:{caller().subject}")


def _charge_unverified(response: Response) -> Response:
    if not g.pop(_DEFERRED, False):
        return response
    wait = _buckets().take(_address_key())
    return rate_limited_problem(_retry_after(wait)).to_response() if wait else response


def _charge(key: str) -> None:
    wait = _buckets().take(key)
    if wait:
        raise rate_limited_problem(_retry_after(wait))


def _buckets() -> TokenBuckets:
    # Flask types extensions as dict[str, Any]; install_rate_limits keeps TokenBuckets there.
    return cast(TokenBuckets, current_app.extensions[RATE_LIMITS_KEY])


def _retry_after(wait_seconds: float) -> int:
    return max(1, math.ceil(wait_seconds))


def _address_key() -> str:
    address = request.remote_addr or "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return f"address:{address}"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return f"address:{parsed.ipv4_mapped}"
        return f"address:{ipaddress.IPv6Network((parsed, _IPV6_PREFIX), strict=False)}"
    return f"address:{parsed}"
