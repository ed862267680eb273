"""The gateway as an OpenID Connect client of the provider, for the browser login.

Authlib's OAuth 2 client (over requests) speaks the protocol: the authorization URL with PKCE
(S256), the code exchange and the refresh at the token endpoint, authenticated with the client
secret (client_secret_basic), and the revocation of a refresh token at logout. The ID token is
verified here with PyJWT by the provider's published keys, under the same policy as oidc.py's
access tokens (only the configured asymmetric algorithms, a key id required, bounded clock skew),
for the audience of our client id and the login's nonce. The access token is left to the gateway's
own verifier, as for any bearer token.

The provider's endpoints come from its discovery document, whose issuer must be the configured
one. It is read on first use, not at start: a provider briefly unreachable while the gateway
starts must not keep it from starting (the login answers 503 meanwhile).
"""

from __future__ import annotations

import hmac
import logging
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from jwt import PyJWKClient

from salesplane_gateway.login_settings import BrowserLoginSettings
from salesplane_platform.errors import Unauthenticated, Unavailable
from salesplane_platform.oidc import OidcSettings, verified_claims

log = logging.getLogger(__name__)

PKCE_METHOD = "S256"


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str = ""
    revocation_endpoint: str = ""


@dataclass(frozen=True)
class TokenSet:
    """What the token endpoint answered; empty strings where it sent nothing (a refresh may come
    without a new refresh or ID token)."""

    access_token: str
    refresh_token: str
    id_token: str


class OidcClient:
    def __init__(self, settings: BrowserLoginSettings, provider: OidcSettings) -> None:
        self._settings = settings
        self._provider = provider
        self._metadata: ProviderMetadata | None = None
        self._keys: PyJWKClient | None = None
        self._lock = threading.Lock()

    @property
    def issuer(self) -> str:
        return self._provider.issuer

    def metadata(self) -> ProviderMetadata:
        """The provider's endpoints (read once); Unavailable while they cannot be read."""
        with self._lock:
            if self._metadata is None:
                self._metadata = self._discover()
            return self._metadata

    def authorization_url(self, *, state: str, nonce: str, code_verifier: str) -> str:
        with self._session(scope=" ".join(self._settings.scopes)) as session:
            url, _ = session.create_authorization_url(
                self.metadata().authorization_endpoint, state=state, code_verifier=code_verifier, nonce=nonce
            )
        return str(url)

    def exchange_code(self, *, code: str, code_verifier: str) -> TokenSet:
        """The tokens for an authorization code; Unauthenticated when the provider refuses it (a
        code used before, expired, issued to another client or for another verifier)."""
        endpoint = self.metadata().token_endpoint
        return self._token_request(
            lambda session: session.fetch_token(
                endpoint, grant_type="authorization_code", code=code, code_verifier=code_verifier
            )
        )

    def refresh(self, refresh_token: str) -> TokenSet:
        """New tokens for a refresh token; Unauthenticated when the provider refuses it (the
        session at the provider has ended, or the token was revoked)."""
        endpoint = self.metadata().token_endpoint
        return self._token_request(
            lambda session: session.refresh_token(endpoint, refresh_token=refresh_token)
        )

    def revoke(self, refresh_token: str) -> None:
        """Best effort (RFC 7009): a logout goes on whether or not the provider answers."""
        try:
            endpoint = self.metadata().revocation_endpoint
            if not endpoint or not refresh_token:
                return
            with self._session() as session:
                answer = session.revoke_token(endpoint, token=refresh_token, token_type_hint="refresh_token")
            if answer.status_code != 200:
                log.warning("the refresh token was not revoked", extra={"status": answer.status_code})
        except (Unavailable, requests.RequestException) as error:
            log.warning("cannot revoke the refresh token at the provider", extra={"error": str(error)})

    def verify_id_token(self, id_token: str, *, nonce: str | None) -> dict[str, Any]:
        """The ID token's verified claims: signed by the provider, issued by it to our client, not
        expired, and carrying the login's nonce (when `nonce` is given: a refresh has none)."""
        claims = verified_claims(
            id_token,
            what="ID token",
            algorithms=list(self._provider.algorithms),
            key_client=self._key_client(),
            audience=self._settings.client_id,
            issuer=self._provider.issuer,
            leeway_seconds=self._provider.leeway_seconds,
        )
        authorized_party = claims.get("azp")
        if authorized_party is not None and authorized_party != self._settings.client_id:
            raise Unauthenticated("invalid ID token: issued to another client (azp)")
        if nonce is not None:
            received = claims.get("nonce")
            if not isinstance(received, str) or not hmac.compare_digest(received.encode(), nonce.encode()):
                raise Unauthenticated("invalid ID token: the nonce is not this login's")
        return claims

    def end_session_url(self, *, id_token_hint: str) -> str:
        """Where the browser ends its session at the provider (RP-initiated logout) and comes back
        to the gateway's home; the home itself when the provider has no such endpoint."""
        endpoint = self.metadata().end_session_endpoint
        if not endpoint:
            return self._settings.home_url
        parameters = {
            "client_id": self._settings.client_id,
            "post_logout_redirect_uri": self._settings.home_url,
        }
        if id_token_hint:
            parameters["id_token_hint"] = id_token_hint
        separator = "&" if urllib.parse.urlsplit(endpoint).query else "?"
        return endpoint + separator + urllib.parse.urlencode(parameters)

    def logout_origin(self) -> str:
        """The origin the logout form's redirect leads to (for the page's form-action policy)."""
        try:
            endpoint = self.metadata().end_session_endpoint or self._provider.issuer
        except Unavailable:
            endpoint = self._provider.issuer
        parts = urllib.parse.urlsplit(endpoint)
        return f"{parts.scheme}://{parts.netloc}"

    # -- the provider ----------------------------------------------------------------------------

    def _session(self, *, scope: str | None = None) -> OAuth2Session:
        return OAuth2Session(
            client_id=self._settings.client_id,
            client_secret=self._settings.client_secret,
            token_endpoint_auth_method="client_secret_basic",
            scope=scope,
            redirect_uri=self._settings.redirect_uri,
            code_challenge_method=PKCE_METHOD,
            default_timeout=self._settings.provider_timeout_seconds,
        )

    def _token_request(self, request: Callable[[OAuth2Session], dict[str, Any]]) -> TokenSet:
        try:
            with self._session() as session:
                token = request(session)
        except OAuthError as error:
            # The provider's own refusal (invalid_grant, invalid_client, ...): say which, never
            # echo its description to the browser.
            if error.error in ("invalid_client", "unauthorized_client"):
                log.error("the provider refused our client credentials", extra={"error": error.error})
            raise Unauthenticated(f"the identity provider refused: {error.error}") from error
        except (requests.RequestException, ValueError) as error:
            raise Unavailable(f"the identity provider's token endpoint did not answer: {error}") from error
        access_token = token.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise Unauthenticated("the identity provider answered without an access token")
        return TokenSet(
            access_token=access_token,
            refresh_token=str(token.get("refresh_token") or ""),
            id_token=str(token.get("id_token") or ""),
        )

    def _discover(self) -> ProviderMetadata:
        url = self._provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            response = requests.get(url, timeout=self._settings.provider_timeout_seconds)
            response.raise_for_status()
            document = response.json()
        except (requests.RequestException, ValueError) as error:
            raise Unavailable(f"cannot read the identity provider's discovery document: {error}") from error
        if not isinstance(document, dict) or document.get("issuer") != self._provider.issuer:
            found = document.get("issuer") if isinstance(document, dict) else None
            log.error("the discovery document names another issuer", extra={"url": url, "issuer": found})
            raise Unavailable(f"{url} names issuer {found!r}, not {self._provider.issuer!r}")
        required = ("authorization_endpoint", "token_endpoint", "jwks_uri")
        missing = [name for name in required if not isinstance(document.get(name), str) or not document[name]]
        if missing:
            raise Unavailable(f"{url} names no {', '.join(missing)}")
        methods = document.get("code_challenge_methods_supported")
        if isinstance(methods, list) and PKCE_METHOD not in methods:
            raise Unavailable(f"the identity provider does not support PKCE {PKCE_METHOD}")
        return ProviderMetadata(
            issuer=document["issuer"],
            authorization_endpoint=document["authorization_endpoint"],
            token_endpoint=document["token_endpoint"],
            jwks_uri=document["jwks_uri"],
            end_session_endpoint=str(document.get("end_session_endpoint") or ""),
            revocation_endpoint=str(document.get("revocation_endpoint") or ""),
        )

    def _key_client(self) -> PyJWKClient:
        jwks_uri = self.metadata().jwks_uri
        with self._lock:
            if self._keys is None:
                self._keys = PyJWKClient(
                    jwks_uri,
                    cache_jwk_set=True,
                    lifespan=self._provider.jwks_lifespan_seconds,
                    timeout=self._settings.provider_timeout_seconds,
                    cooldown_duration=self._provider.jwks_cooldown_seconds,
                )
            return self._keys
