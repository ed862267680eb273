"""The bearer token a service sends to its peers: its own credentials, never a user's.

A service calling another (leads converting a lead, forecasting reassigning a leaving user's work)
presents itself as the service principal `service:<name>`, which the peer lets call only the RPCs
it allows that service (service_principals.py); who it acts for travels beside it and is only
recorded. So no service relays a user's token, and no service's credentials can act as a user.

* **Production:** the OAuth 2.0 client-credentials grant (RFC 6749 §4.4) at the OpenID Connect
  provider's token endpoint, discovered from SALESPLANE_OIDC_ISSUER, with this service's own client
  (Authlib makes the request and reads the answer). The token is reused until shortly before it
  expires (REFRESH_MARGIN_SECONDS), one fetch at a time however many threads ask; a provider that
  cannot be reached or refuses the client is UNAVAILABLE to the caller. The peers list the client
  in SALESPLANE_OIDC_SERVICE_CLIENTS (as `client=<service name>`).
* **Development** (SALESPLANE_ENV=development only, where the process already holds the development
  secret to verify tokens): a short-lived HS256 token for `service:<name>`, minted with that secret.
  Outside development there is no secret (authentication.py refuses one), so nothing is minted.
* **Neither:** calls to peers fail with UNAVAILABLE, naming the settings to add.

    SALESPLANE_OIDC_CLIENT_ID          this service's OAuth client (client-credentials grant)
    SALESPLANE_OIDC_CLIENT_SECRET      its secret (from a Kubernetes Secret)
    SALESPLANE_OIDC_TOKEN_URL          optional; the issuer's token_endpoint otherwise
"""

from __future__ import annotations

import base64
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from salesplane_platform.authentication import AuthSettings
from salesplane_platform.errors import ConfigurationError, Unavailable
from salesplane_platform.identity import ROLE_SERVICE, SERVICE_PREFIX, issue_token
from salesplane_platform.oidc import discovered_url

# A token is replaced this long before it expires, so a call never leaves with one about to lapse.
REFRESH_MARGIN_SECONDS = 30.0
# The lifetime assumed when the provider's answer names none.
DEFAULT_LIFETIME_SECONDS = 60.0
# Development tokens live this long.
DEVELOPMENT_TOKEN_SECONDS = 300
PROVIDER_TIMEOUT_SECONDS = 10.0
log = logging.getLogger(__name__)


class ServiceCredentials(Protocol):
    def bearer_token(self) -> str:
        """A token for `service:<name>`, valid for a while yet; Unavailable when none can be had."""


@dataclass(frozen=True)
class ClientCredentialsSettings:
    client_id: str
    client_secret: str = field(repr=False)
    # Empty: the token_endpoint of the issuer's discovery document.
    token_url: str = ""


def client_credentials_from(env: Mapping[str, str]) -> ClientCredentialsSettings | None:
    client_id = env.get("SALESPLANE_OIDC_CLIENT_ID", "").strip()
    client_secret = env.get("SALESPLANE_OIDC_CLIENT_SECRET", "").strip()
    if not client_id and not client_secret:
        return None
    if not client_id or not client_secret:
        raise ConfigurationError("SALESPLANE_OIDC_CLIENT_ID and SALESPLANE_OIDC_CLIENT_SECRET go together")
    return ClientCredentialsSettings(
        client_id, client_secret, env.get("SALESPLANE_OIDC_TOKEN_URL", "").strip()
    )


def service_credentials(
    service_name: str, auth: AuthSettings, client: ClientCredentialsSettings | None
) -> ServiceCredentials:
    """The credentials this service calls its peers with (see the module's description)."""
    if client is not None:
        issuer = auth.oidc.issuer if auth.oidc is not None else ""
        if not issuer and not client.token_url:
            raise ConfigurationError(
                "SALESPLANE_OIDC_CLIENT_ID needs the provider: "
                "SALESPLANE_OIDC_ISSUER (or SALESPLANE_OIDC_TOKEN_URL)"
            )
        return ClientCredentialsToken(client, issuer=issuer)
    if auth.development and auth.shared_secret:
        return DevelopmentServiceToken(auth, service_name)
    log.warning(
        "no service credentials: calls to other services will fail until SALESPLANE_OIDC_CLIENT_ID "
        "and SALESPLANE_OIDC_CLIENT_SECRET are set",
        extra={"service_name": service_name},
    )
    return NoServiceCredentials(service_name)


class DevelopmentServiceToken:
    """A short-lived development token for `service:<name>` (SALESPLANE_ENV=development only)."""

    def __init__(
        self, auth: AuthSettings, service_name: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        if not (auth.development and auth.shared_secret):
            raise ConfigurationError("development service tokens exist in SALESPLANE_ENV=development only")
        self._secret = auth.shared_secret
        self._subject = SERVICE_PREFIX + service_name
        self._clock = clock
        self._lock = threading.Lock()
        self._token = ""
        self._renew_at = 0.0

    def bearer_token(self) -> str:
        with self._lock:
            now = self._clock()
            if now >= self._renew_at:
                self._token = issue_token(
                    self._secret, self._subject, [ROLE_SERVICE], ttl_seconds=DEVELOPMENT_TOKEN_SECONDS
                )
                self._renew_at = now + DEVELOPMENT_TOKEN_SECONDS - REFRESH_MARGIN_SECONDS
            return self._token


class ClientCredentialsToken:
    """The client-credentials grant's access token, kept until REFRESH_MARGIN_SECONDS before its
    expiry. Thread-safe: one fetch at a time, and threads that waited for it reuse its token."""

    def __init__(
        self,
        settings: ClientCredentialsSettings,
        *,
        issuer: str = "",
        refresh_margin_seconds: float = REFRESH_MARGIN_SECONDS,
        timeout_seconds: float = PROVIDER_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._issuer = issuer
        self._margin = refresh_margin_seconds
        self._timeout = timeout_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._token_url = settings.token_url
        self._token = ""
        self._renew_at = 0.0
        # Used under the lock only (a requests session is not meant to be shared between threads).
        self._session = OAuth2Session(
            settings.client_id,
            settings.client_secret,
            token_endpoint_auth_method=form_encoded_basic,
        )

    def bearer_token(self) -> str:
        with self._lock:
            if not self._token or self._clock() >= self._renew_at:
                self._token, self._renew_at = self._fetch()
            return self._token

    def close(self) -> None:
        self._session.close()

    def _fetch(self) -> tuple[str, float]:
        asked_at = self._clock()
        url = self._endpoint()
        try:
            answer: Mapping[str, Any] = self._session.fetch_token(
                url, grant_type="client_credentials", timeout=self._timeout
            )
        except OAuthError as error:
            raise Unavailable(
                f"the identity provider refused the client credentials of {self._settings.client_id!r}: "
                f"{error.error}"
            ) from error
        except (requests.RequestException, ValueError) as error:
            raise Unavailable(f"cannot get a service token from {url}: {error}") from error
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise Unavailable(f"{url} answered the client-credentials grant without an access token")
        lifetime = _lifetime(answer)
        # Never cached longer than half its life: a short-lived token is still reused a while.
        return token, asked_at + max(lifetime - self._margin, lifetime / 2)

    def _endpoint(self) -> str:
        if not self._token_url:
            try:
                self._token_url = discovered_url(self._issuer, "token_endpoint", timeout=self._timeout)
            except ConfigurationError as error:
                raise Unavailable(f"the identity provider cannot be used yet: {error}") from error
        return self._token_url


def form_encoded_basic(
    client: Any, method: str, uri: str, headers: dict[str, str], body: str
) -> tuple[str, dict[str, str], str]:
    """client_secret_basic as RFC 6749 §2.3.1 has it: the id and the secret form-encoded before
    Base64 (Authlib's own sends them as they are, which a secret with `%`, `+` or `:` breaks)."""
    pair = f"{urllib.parse.quote_plus(client.client_id)}:{urllib.parse.quote_plus(client.client_secret)}"
    headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    return uri, headers, body


class NoServiceCredentials:
    """A service without credentials: calls to its peers fail, saying what to configure."""

    def __init__(self, service_name: str) -> None:
        self._service_name = service_name

    def bearer_token(self) -> str:
        raise Unavailable(
            f"the {self._service_name} service has no credentials to call other services: set "
            "SALESPLANE_OIDC_CLIENT_ID and SALESPLANE_OIDC_CLIENT_SECRET (its OAuth client)"
        )


def _lifetime(answer: Mapping[str, Any]) -> float:
    expires_in = answer.get("expires_in")
    try:
        lifetime = float(expires_in) if expires_in is not None else DEFAULT_LIFETIME_SECONDS
    except (TypeError, ValueError):
        lifetime = DEFAULT_LIFETIME_SECONDS
    return max(lifetime, 0.0)
