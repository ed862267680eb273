"""Settings of the browser login (OpenID Connect authorization code with PKCE), read with the
gateway's others and failing closed like the token verification.

    SALESPLANE_OIDC_CLIENT_ID                   the gateway's client at the provider; unset: no login
    SALESPLANE_OIDC_CLIENT_SECRET               its secret (client_secret_basic at the token endpoint)
    SALESPLANE_OIDC_ISSUER, _AUDIENCE           the provider (salesplane_platform.authentication)
    SALESPLANE_GATEWAY_PUBLIC_URL               the gateway's origin as browsers reach it, e.g.
                                                https://sales.example.com: the redirect URI is
                                                <it>/auth/callback, the logout returns to <it>/
    SALESPLANE_GATEWAY_SESSION_KEY              comma-separated keys, each 32 random bytes in base64
                                                (`openssl rand -base64 32`): the first encrypts the
                                                session cookies, every one decrypts them
    SALESPLANE_GATEWAY_SESSION_COOKIE_SECURE    true (default); false only in development, for a
                                                browser on plain http://<host> other than loopback
    SALESPLANE_GATEWAY_SESSION_MAX_AGE_SECONDS  a session's absolute lifetime (8 h; 5 min to 7 days)

Outside development a login without a session key, without a client secret or with a public URL
that is not https (loopback excepted: browsers treat it as secure) is refused at start. In
development a missing key is made up per process: sessions then end when the gateway restarts,
and several replicas cannot read each other's cookies.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from salesplane_platform.authentication import AuthSettings
from salesplane_platform.errors import ConfigurationError

log = logging.getLogger(__name__)

CALLBACK_PATH = "/auth/callback"
SESSION_KEY_BYTES = 32
DEFAULT_SESSION_MAX_AGE_SECONDS = 8 * 3600
MIN_SESSION_MAX_AGE_SECONDS = 300
MAX_SESSION_MAX_AGE_SECONDS = 7 * 24 * 3600
# Hosts whose plain-http origins browsers treat as secure contexts (Secure cookies work there).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class BrowserLoginSettings:
    client_id: str
    client_secret: str = field(repr=False)
    # scheme://host[:port] without a trailing slash.
    public_url: str
    # The first seals, all open (key rotation: prepend the new key, drop the old after max_age).
    session_keys: tuple[bytes, ...] = field(repr=False)
    # Off only in development (plain http on a host other than loopback).
    cookie_secure: bool = True
    session_max_age_seconds: int = DEFAULT_SESSION_MAX_AGE_SECONDS
    # The session's access token is refreshed when fewer seconds than this are left of it.
    refresh_margin_seconds: float = 30.0
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    # Deadline of each call to the provider (discovery, code exchange, refresh, revocation).
    provider_timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not self.client_id:
            raise ConfigurationError("the browser login needs a client id")
        if not self.session_keys:
            raise ConfigurationError("the browser login needs at least one session key")
        if any(len(key) != SESSION_KEY_BYTES for key in self.session_keys):
            raise ConfigurationError(f"every session key must be {SESSION_KEY_BYTES} bytes")
        if "openid" not in self.scopes:
            raise ConfigurationError("the browser login's scopes must include 'openid'")

    @property
    def redirect_uri(self) -> str:
        return self.public_url + CALLBACK_PATH

    @property
    def home_url(self) -> str:
        return self.public_url + "/"


def browser_login_settings_from(env: Mapping[str, str], auth: AuthSettings) -> BrowserLoginSettings | None:
    """The login's settings, or None when no client id is configured (the /auth routes then answer
    404). `auth` is the component's token verification: the login needs its provider."""
    client_id = env.get("SALESPLANE_OIDC_CLIENT_ID", "").strip()
    client_secret = env.get("SALESPLANE_OIDC_CLIENT_SECRET", "").strip()
    if not client_id:
        if client_secret:
            raise ConfigurationError(
                "SALESPLANE_OIDC_CLIENT_SECRET is set without SALESPLANE_OIDC_CLIENT_ID: "
                "name the client the secret belongs to"
            )
        return None
    if auth.oidc is None:
        raise ConfigurationError(
            "the browser login (SALESPLANE_OIDC_CLIENT_ID) needs the OpenID Connect provider: "
            "set SALESPLANE_OIDC_ISSUER and SALESPLANE_OIDC_AUDIENCE"
        )
    if not client_secret:
        raise ConfigurationError(
            "SALESPLANE_OIDC_CLIENT_SECRET is missing: the gateway is a confidential client of the "
            "provider and authenticates the code exchange with it"
        )
    secure = _boolean(env, "SALESPLANE_GATEWAY_SESSION_COOKIE_SECURE", True)
    if not secure and not auth.development:
        raise ConfigurationError(
            "SALESPLANE_GATEWAY_SESSION_COOKIE_SECURE=false is a development setting: outside "
            "SALESPLANE_ENV=development the session cookie travels over HTTPS only"
        )
    return BrowserLoginSettings(
        client_id=client_id,
        client_secret=client_secret,
        public_url=_public_url(env, development=auth.development),
        session_keys=_session_keys(env, development=auth.development),
        cookie_secure=secure,
        session_max_age_seconds=_session_max_age(env),
    )


def _public_url(env: Mapping[str, str], *, development: bool) -> str:
    name = "SALESPLANE_GATEWAY_PUBLIC_URL"
    raw = env.get(name, "").strip()
    if not raw:
        raise ConfigurationError(
            f"{name} is missing: the browser login needs the gateway's address as browsers reach it "
            "(e.g. https://sales.example.com) for its redirect URI"
        )
    parts = urllib.parse.urlsplit(raw.rstrip("/"))
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ConfigurationError(
            f"{name}={raw!r} must be an origin: scheme://host[:port], without a path (e.g. "
            "https://sales.example.com)"
        )
    try:
        port = parts.port
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} has an invalid port") from None
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS and not development:
        raise ConfigurationError(
            f"{name}={raw!r}: outside development the gateway's browser address must be https "
            "(or a loopback address)"
        )
    # As browsers send it in Origin (csrf.py compares them): lower case, no default port.
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


def _session_keys(env: Mapping[str, str], *, development: bool) -> tuple[bytes, ...]:
    name = "SALESPLANE_GATEWAY_SESSION_KEY"
    raw = [part.strip() for part in env.get(name, "").split(",") if part.strip()]
    if not raw:
        if not development:
            raise ConfigurationError(
                f"{name} is missing: the browser login encrypts its session cookies with it. Set "
                f"{SESSION_KEY_BYTES} random bytes in base64 (`openssl rand -base64 32`), the same "
                "on every replica"
            )
        log.warning(
            "no session key: sessions are encrypted with a key made up for this process only",
            extra={"setting": name},
        )
        return (os.urandom(SESSION_KEY_BYTES),)
    keys = []
    for position, encoded in enumerate(raw, start=1):
        # The standard alphabet is what `openssl rand -base64` prints; the URL-safe one is taken too.
        standard = encoded.replace("-", "+").replace("_", "/")
        try:
            key = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigurationError(f"{name}: key {position} is not base64") from None
        if len(key) != SESSION_KEY_BYTES:
            raise ConfigurationError(
                f"{name}: key {position} is {len(key)} bytes; each key must be {SESSION_KEY_BYTES} "
                "random bytes"
            )
        keys.append(key)
    return tuple(keys)


def _session_max_age(env: Mapping[str, str]) -> int:
    name = "SALESPLANE_GATEWAY_SESSION_MAX_AGE_SECONDS"
    raw = env.get(name, "").strip()
    if not raw:
        return DEFAULT_SESSION_MAX_AGE_SECONDS
    if not raw.isdigit() or not MIN_SESSION_MAX_AGE_SECONDS <= int(raw) <= MAX_SESSION_MAX_AGE_SECONDS:
        raise ConfigurationError(
            f"{name}={raw!r} must be a whole number of seconds from {MIN_SESSION_MAX_AGE_SECONDS} "
            f"to {MAX_SESSION_MAX_AGE_SECONDS}"
        )
    return int(raw)


def _boolean(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "false"):
        raise ConfigurationError(f"{name}={raw!r} must be true or false")
    return raw == "true"
