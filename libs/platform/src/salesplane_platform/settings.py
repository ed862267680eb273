"""Typed service settings read once from the environment (12-factor)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from salesplane_platform.authentication import DEV_AUTH_SECRET, AuthSettings, auth_settings_from
from salesplane_platform.errors import ConfigurationError
from salesplane_platform.money import is_currency
from salesplane_platform.oidc import OidcSettings
from salesplane_platform.service_credentials import (
    ClientCredentialsSettings,
    ServiceCredentials,
    client_credentials_from,
    service_credentials,
)

ROLES = frozenset({"api", "relay", "consumer"})
__all__ = ["DEV_AUTH_SECRET", "ServiceSettings"]


@dataclass(frozen=True)
class ServiceSettings:
    service_name: str
    database_url: str
    kafka_bootstrap_servers: str
    event_log_path: Path
    grpc_port: int
    metrics_port: int
    roles: frozenset[str]
    # The development HS256 secret; empty outside development (authentication.py).
    auth_secret: str
    # Prepended to every topic and consumer group: lets environments (or test runs) share a cluster.
    topic_prefix: str = ""
    # Stable per replica (the pod name) for Kafka static group membership; None disables it.
    consumer_instance_id: str | None = None
    log_level: str = "INFO"
    shutdown_grace_seconds: float = 20.0
    grpc_workers: int = 16
    # Events a consumer applies in one transaction: larger batches share more of the fixed cost
    # (round trips, managers common to many deals) at the price of longer transactions.
    consumer_max_batch: int = 5000
    # Consumers (each with its share of the partitions) a process runs on Kafka. While one waits
    # for its database commit, another decodes and merges its batch; the local log has one.
    consumer_threads: int = 2
    data_dir: Path = field(default_factory=lambda: Path("var"))
    # The currency deals are valued in (amount_base) and forecasts and quotas are kept in.
    base_currency: str = "USD"
    # A worker loop (consumer, relay) with no heartbeat for this long is stuck: the process is
    # then neither ready nor live. Longer than any one round may take: a batch of
    # consumer_max_batch events, or a publish waiting out kafka_delivery_timeout_ms.
    worker_stuck_seconds: float = 120.0
    # How long the relay's producer keeps trying to deliver a batch before it gives up, closes
    # the producer and starts again with a new one.
    kafka_delivery_timeout_ms: int = 30000
    # The longest one database statement may run before PostgreSQL cancels it (db.make_engine).
    database_statement_timeout_ms: int = 30000
    # The OpenID Connect provider whose access tokens are accepted.
    oidc: OidcSettings | None = None
    # Subjects that are administrators before the organisation knows them (the first users).
    bootstrap_admins: frozenset[str] = frozenset()
    # This service's OAuth client, for the tokens it calls other services with (production).
    service_client: ClientCredentialsSettings | None = None

    @property
    def auth(self) -> AuthSettings:
        return AuthSettings(
            development=bool(self.auth_secret), shared_secret=self.auth_secret, oidc=self.oidc
        )

    def service_credentials(self) -> ServiceCredentials:
        """What this service calls its peers with: its own service principal (service_credentials.py)."""
        return service_credentials(self.service_name, self.auth, self.service_client)

    @property
    def uses_kafka(self) -> bool:
        return bool(self.kafka_bootstrap_servers)

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @property
    def consumer_group(self) -> str:
        return f"{self.topic_prefix}{self.service_name}"

    @classmethod
    def from_env(
        cls,
        service_name: str,
        *,
        default_grpc_port: int,
        default_metrics_port: int,
        environ: Mapping[str, str] | None = None,
    ) -> ServiceSettings:
        """Read SALESPLANE_* variables; unset ones get the embedded (laptop) defaults."""
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("SALESPLANE_DATA_DIR", "var"))
        roles = frozenset(
            r.strip() for r in env.get("SALESPLANE_ROLES", "api,relay,consumer").split(",") if r
        )
        if unknown := roles - ROLES:
            raise ConfigurationError(
                f"SALESPLANE_ROLES has unknown roles {sorted(unknown)}; use {sorted(ROLES)}"
            )
        auth = auth_settings_from(env)
        return cls(
            service_name=service_name,
            database_url=env.get("SALESPLANE_DATABASE_URL") or f"sqlite:///{data_dir / service_name}.db",
            kafka_bootstrap_servers=env.get("SALESPLANE_KAFKA_BOOTSTRAP_SERVERS", ""),
            event_log_path=Path(env.get("SALESPLANE_EVENT_LOG_PATH") or data_dir / "events.db"),
            grpc_port=port_setting(env, "SALESPLANE_GRPC_PORT", default_grpc_port),
            metrics_port=port_setting(env, "SALESPLANE_METRICS_PORT", default_metrics_port),
            roles=roles,
            auth_secret=auth.shared_secret,
            oidc=auth.oidc,
            bootstrap_admins=frozenset(
                part.strip() for part in env.get("SALESPLANE_BOOTSTRAP_ADMINS", "").split(",") if part.strip()
            ),
            service_client=client_credentials_from(env),
            topic_prefix=env.get("SALESPLANE_TOPIC_PREFIX", ""),
            consumer_instance_id=env.get("SALESPLANE_CONSUMER_INSTANCE_ID") or None,
            log_level=env.get("SALESPLANE_LOG_LEVEL", "INFO").upper(),
            shutdown_grace_seconds=float(env.get("SALESPLANE_SHUTDOWN_GRACE_SECONDS", "20")),
            grpc_workers=int(env.get("SALESPLANE_GRPC_WORKERS", "16")),
            consumer_max_batch=int(env.get("SALESPLANE_CONSUMER_MAX_BATCH", "5000")),
            consumer_threads=int(env.get("SALESPLANE_CONSUMER_THREADS", "2")),
            data_dir=data_dir,
            base_currency=base_currency_from(env),
            worker_stuck_seconds=float(env.get("SALESPLANE_WORKER_STUCK_SECONDS", "120")),
            kafka_delivery_timeout_ms=bounded_int(
                env, "SALESPLANE_KAFKA_DELIVERY_TIMEOUT_MS", 30000, low=1000
            ),
            database_statement_timeout_ms=bounded_int(
                env, "SALESPLANE_DATABASE_STATEMENT_TIMEOUT_MS", 30000, low=100
            ),
        )


BASE_CURRENCY_VARIABLE = "SALESPLANE_BASE_CURRENCY"
DEFAULT_BASE_CURRENCY = "USD"


def base_currency_from(env: Mapping[str, str]) -> str:
    """The currency deals are valued in (amount_base); every exchange rate is to it."""
    code = env.get(BASE_CURRENCY_VARIABLE, "") or DEFAULT_BASE_CURRENCY
    if not is_currency(code):
        raise ConfigurationError(f"{BASE_CURRENCY_VARIABLE}={code!r} is not an ISO 4217 currency code")
    return code


def bounded_int(env: Mapping[str, str], name: str, default: int, *, low: int) -> int:
    """A whole number of at least `low` from the environment; ConfigurationError otherwise."""
    raw = env.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < low:
        raise ConfigurationError(f"{name}={raw!r} is not a whole number of at least {low}")
    return int(raw)


def port_setting(env: Mapping[str, str], name: str, default: int) -> int:
    """A TCP port from the environment (0: any free port); ConfigurationError when malformed."""
    raw = env.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        raise ConfigurationError(f"{name}={raw!r} is not a TCP port")
    return int(raw)
