"""Gateway settings, read once from the environment (12-factor)."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from salesplane_gateway.login_settings import BrowserLoginSettings, browser_login_settings_from
from salesplane_platform.authentication import auth_settings_from
from salesplane_platform.errors import ConfigurationError
from salesplane_platform.oidc import OidcSettings
from salesplane_platform.settings import port_setting

# The upstream services, in the order /readyz reports them. "org" is the OrgService, which the
# forecasting service serves: its target defaults to forecasting's.
UPSTREAMS = ("leads", "opportunities", "forecasting", "org", "reporting")

DEFAULT_TARGETS: dict[str, str] = {
    "leads": "127.0.0.1:50051",
    "opportunities": "127.0.0.1:50052",
    "forecasting": "127.0.0.1:50053",
    "reporting": "127.0.0.1:50054",
}


@dataclass(frozen=True)
class GatewayConfig:
    # The development HS256 secret; empty outside development (salesplane_platform.authentication).
    auth_secret: str
    leads_target: str = DEFAULT_TARGETS["leads"]
    opportunities_target: str = DEFAULT_TARGETS["opportunities"]
    forecasting_target: str = DEFAULT_TARGETS["forecasting"]
    reporting_target: str = DEFAULT_TARGETS["reporting"]
    # None: the forecasting target.
    org_target: str | None = None
    host: str = "0.0.0.0"
    port: int = 8080
    # Prometheus metrics (http_metrics.py) on a port of their own; 0: not served.
    metrics_port: int = 9100
    # Deadline of every gRPC call made for an HTTP request...
    rpc_timeout_seconds: float = 5.0
    # ...but that of each chunk of a CSV import, which writes hundreds of rows...
    import_rpc_timeout_seconds: float = 60.0
    # ...and that of a whole download (a report export streams every row).
    download_rpc_timeout_seconds: float = 300.0
    # Deadline of each upstream health check behind /readyz (they run in parallel).
    readiness_timeout_seconds: float = 1.0
    # Largest request body accepted (bytes).
    max_body_bytes: int = 1024 * 1024
    # Largest CSV file accepted by the lead import (bytes).
    max_import_bytes: int = 20 * 1024 * 1024
    threads: int = 8
    log_level: str = "INFO"
    # The OpenID Connect provider whose access tokens are accepted.
    oidc: OidcSettings | None = None
    # The browser login (login_settings.py); None: not configured, its routes answer 404.
    browser_login: BrowserLoginSettings | None = None
    # Per-caller token buckets (rate_limits.py, in this process: each replica limits on its own):
    # a sustained rate and a burst on top; either 0 turns the limit off.
    rate_limit_per_second: float = 20.0
    rate_limit_burst: int = 40
    # Proxies in front of the gateway whose X-Forwarded-For and -Proto are believed (an ingress: 1).
    trusted_proxies: int = 0
    # Origins whose browser apps may call the API (cors.py); none: CORS is off.
    cors_origins: tuple[str, ...] = ()
    cors_allow_credentials: bool = False
    cors_max_age_seconds: int = 600

    @property
    def rate_limited(self) -> bool:
        return self.rate_limit_per_second > 0 and self.rate_limit_burst > 0

    @property
    def targets(self) -> dict[str, str]:
        """host:port of every upstream, by name."""
        return {
            "leads": self.leads_target,
            "opportunities": self.opportunities_target,
            "forecasting": self.forecasting_target,
            "org": self.org_target or self.forecasting_target,
            "reporting": self.reporting_target,
        }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GatewayConfig:
        """Read SALESPLANE_* variables; unset ones get the laptop defaults."""
        env = os.environ if environ is None else environ
        targets = {
            name: env.get(f"SALESPLANE_{name.upper()}_TARGET") or DEFAULT_TARGETS[name]
            for name in DEFAULT_TARGETS
        }
        auth = auth_settings_from(env)
        cors_origins = _origins(env, "SALESPLANE_GATEWAY_CORS_ORIGINS")
        cors_allow_credentials = _boolean(env, "SALESPLANE_GATEWAY_CORS_ALLOW_CREDENTIALS", False)
        if cors_allow_credentials and "*" in cors_origins:
            raise ConfigurationError(
                "SALESPLANE_GATEWAY_CORS_ALLOW_CREDENTIALS=true cannot be combined with "
                "SALESPLANE_GATEWAY_CORS_ORIGINS='*': list the origins that may send credentials"
            )
        return cls(
            auth_secret=auth.shared_secret,
            oidc=auth.oidc,
            browser_login=browser_login_settings_from(env, auth),
            leads_target=targets["leads"],
            opportunities_target=targets["opportunities"],
            forecasting_target=targets["forecasting"],
            reporting_target=targets["reporting"],
            org_target=env.get("SALESPLANE_ORG_TARGET") or None,
            host=env.get("SALESPLANE_GATEWAY_HOST") or "0.0.0.0",
            port=port_setting(env, "SALESPLANE_GATEWAY_PORT", 8080),
            metrics_port=port_setting(env, "SALESPLANE_GATEWAY_METRICS_PORT", 9100),
            rpc_timeout_seconds=_positive_float(env, "SALESPLANE_GATEWAY_RPC_TIMEOUT_SECONDS", 5.0),
            import_rpc_timeout_seconds=_positive_float(
                env, "SALESPLANE_GATEWAY_IMPORT_RPC_TIMEOUT_SECONDS", 60.0
            ),
            download_rpc_timeout_seconds=_positive_float(
                env, "SALESPLANE_GATEWAY_DOWNLOAD_RPC_TIMEOUT_SECONDS", 300.0
            ),
            readiness_timeout_seconds=_positive_float(
                env, "SALESPLANE_GATEWAY_READINESS_TIMEOUT_SECONDS", 1.0
            ),
            max_body_bytes=_positive_int(env, "SALESPLANE_GATEWAY_MAX_BODY_BYTES", 1024 * 1024),
            max_import_bytes=_positive_int(env, "SALESPLANE_GATEWAY_MAX_IMPORT_BYTES", 20 * 1024 * 1024),
            threads=_positive_int(env, "SALESPLANE_GATEWAY_THREADS", 8),
            log_level=env.get("SALESPLANE_LOG_LEVEL", "INFO").upper(),
            rate_limit_per_second=_non_negative_float(env, "SALESPLANE_GATEWAY_RATE_LIMIT_PER_SECOND", 20.0),
            rate_limit_burst=_non_negative_int(env, "SALESPLANE_GATEWAY_RATE_LIMIT_BURST", 40),
            trusted_proxies=_non_negative_int(env, "SALESPLANE_GATEWAY_TRUSTED_PROXIES", 0),
            cors_origins=cors_origins,
            cors_allow_credentials=cors_allow_credentials,
            cors_max_age_seconds=_positive_int(env, "SALESPLANE_GATEWAY_CORS_MAX_AGE_SECONDS", 600),
        )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigurationError(f"{name}={raw!r} must be a positive integer")
    return int(raw)


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise ConfigurationError(f"{name}={raw!r} must be a positive number")
    return value


def _non_negative_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    if not raw:
        return default
    if not raw.isdigit():
        raise ConfigurationError(f"{name}={raw!r} must be a whole number (0 or more)")
    return int(raw)


def _non_negative_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number") from None
    if not (math.isfinite(value) and value >= 0):
        raise ConfigurationError(f"{name}={raw!r} must be a number of 0 or more")
    return value


def _boolean(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "false"):
        raise ConfigurationError(f"{name}={raw!r} must be true or false")
    return raw == "true"


# An origin as browsers send it: lower-case scheme and host, a port only when not the default.
_ORIGIN = re.compile(
    r"^(?P<scheme>https?)://(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::(?P<port>\d{1,5}))?$"
)
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated exact origins, or `*` alone for any origin."""
    origins = tuple(dict.fromkeys(part.strip() for part in env.get(name, "").split(",") if part.strip()))
    if "*" in origins and len(origins) > 1:
        raise ConfigurationError(f"{name}: '*' already allows every origin; do not list others with it")
    for origin in origins:
        match = _ORIGIN.match(origin)
        if origin != "*" and (match is None or match["port"] == _DEFAULT_PORTS[match["scheme"]]):
            raise ConfigurationError(
                f"{name}: {origin!r} is not an origin as browsers send it: scheme://host[:port] in lower "
                "case, without a path, a trailing slash or the default port (e.g. https://app.example.com)"
            )
    return origins
