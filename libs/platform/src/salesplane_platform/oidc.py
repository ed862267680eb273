"""Access tokens of an OpenID Connect provider, verified by the keys it publishes (its JWKS).

PyJWT does the JOSE work (signature, expiry, not-before, issuer, audience) and fetches the key set
(PyJWKClient: cached, refetched when a token names a key id the cache lacks, at most once per
cooldown so random key ids cannot make us hammer the provider). What is ours is the policy:

* Only asymmetric algorithms the settings allow (RS256 and ES256 by default). A token's header is
  never trusted to choose: `alg: none` and HS256 (e.g. "signed" with the provider's public key as an
  HMAC secret) are refused before any key is looked up.
* issuer, audience, exp, iat and sub are required; clock skew is bounded by leeway_seconds.
* Who the caller is comes from one configured claim (`preferred_username` by default, the user id
  in Salesplane's organisation, or `email`); what they may do is decided elsewhere, from the
  organisation (org_identity.py). The token's own role claims are ignored for users.
* A token issued to one of the configured service clients (its `azp`, the OAuth client that asked
  for it with the client-credentials grant) is a service principal: `service:<client>`, with the
  service role; a client listed as `client=name` (`salesplane-leads=leads`) is `service:<name>`, the
  name the services' allow-lists use. It can never name a user, so a service's credentials cannot
  act as one.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt import PyJWKClient

from salesplane_platform.errors import ConfigurationError, Unauthenticated, Unavailable
from salesplane_platform.identity import SERVICE_PREFIX, Identity, bearer_token, service_principal

ALLOWED_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"})
DEFAULT_ALGORITHMS = ("RS256", "ES256")
MAX_LEEWAY_SECONDS = 300


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    audience: str
    # Empty: discovered from the issuer's /.well-known/openid-configuration at start.
    jwks_url: str = ""
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    leeway_seconds: int = 30
    # The claim whose value is the Salesplane user id ("email": the user with that e-mail).
    user_claim: str = "preferred_username"
    # OAuth clients whose client-credentials tokens are service principals: "client" (the
    # principal service:client) or "client=name" (service:name).
    service_clients: frozenset[str] = field(default_factory=frozenset)
    # How long the key set is kept, and the shortest time between two fetches for unknown key ids.
    jwks_lifespan_seconds: float = 300.0
    jwks_cooldown_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not self.issuer or not self.audience:
            raise ConfigurationError("OpenID Connect needs an issuer and an audience")
        if unknown := set(self.algorithms) - ALLOWED_ALGORITHMS:
            raise ConfigurationError(
                f"token algorithms {sorted(unknown)} are not allowed; "
                f"use some of {sorted(ALLOWED_ALGORITHMS)}"
            )
        if not self.algorithms:
            raise ConfigurationError("at least one token algorithm is needed")
        if not 0 <= self.leeway_seconds <= MAX_LEEWAY_SECONDS:
            raise ConfigurationError(f"the clock-skew leeway must be 0..{MAX_LEEWAY_SECONDS} seconds")
        if not self.user_claim:
            raise ConfigurationError("the user claim must be named")
        service_names(self.service_clients)

    @property
    def service_names(self) -> dict[str, str]:
        """OAuth client id -> the name of the service it is (its principal is service:<name>)."""
        return service_names(self.service_clients)


def service_names(entries: frozenset[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for entry in entries:
        client, equals, name = (part.strip() for part in entry.partition("="))
        if not client or (equals and (not name or ":" in name)):
            raise ConfigurationError(f"service client {entry!r} is not 'client' or 'client=name'")
        names[client] = name or client
    return names


def discovery_document(issuer: str, *, timeout: float = 10.0) -> dict[str, Any]:
    """The provider's discovery document; its issuer must be the one configured (a document that
    names another issuer is a misconfiguration, or someone else's provider)."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            document = json.loads(response.read())
    except (OSError, ValueError) as error:
        raise ConfigurationError(
            f"cannot read the OpenID Connect discovery document {url}: {error}"
        ) from error
    if not isinstance(document, dict) or document.get("issuer") != issuer:
        named = document.get("issuer") if isinstance(document, dict) else None
        raise ConfigurationError(f"{url} names issuer {named!r}, not {issuer!r}")
    return document


def discovered_url(issuer: str, name: str, *, timeout: float = 10.0) -> str:
    """One endpoint of the discovery document (jwks_uri, token_endpoint)."""
    value = discovery_document(issuer, timeout=timeout).get(name)
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"the discovery document of {issuer} has no {name}")
    return value


def discover_jwks_url(issuer: str, *, timeout: float = 10.0) -> str:
    """The provider's jwks_uri from its discovery document."""
    return discovered_url(issuer, "jwks_uri", timeout=timeout)


class OidcTokenVerifier:
    """Verifies the provider's access tokens; remembers each verified token until it expires (a
    client sends the same one with every call), bounded."""

    CACHE_SIZE = 4096

    def __init__(self, settings: OidcSettings) -> None:
        self._settings = settings
        self._algorithms = list(settings.algorithms)
        self._service_names = settings.service_names
        # Made on the first token, not at start: a provider briefly unreachable while pods start
        # must not keep them from starting (calls are refused with UNAVAILABLE meanwhile).
        self._keys: PyJWKClient | None = None
        self._keys_lock = threading.Lock()
        self._verified: dict[str, tuple[Identity, float]] = {}

    def _key_client(self) -> PyJWKClient:
        with self._keys_lock:
            if self._keys is None:
                try:
                    url = self._settings.jwks_url or discover_jwks_url(self._settings.issuer)
                except ConfigurationError as error:
                    raise Unavailable(f"the identity provider cannot be used yet: {error}") from error
                self._keys = PyJWKClient(
                    url,
                    cache_jwk_set=True,
                    lifespan=self._settings.jwks_lifespan_seconds,
                    timeout=10,
                    cooldown_duration=self._settings.jwks_cooldown_seconds,
                )
            return self._keys

    def verify_header(self, header_value: str | None) -> Identity:
        return self.verify(bearer_token(header_value))

    def verify(self, token: str) -> Identity:
        remembered = self._verified.get(token)
        if remembered is not None and remembered[1] > time.time():
            return remembered[0]
        claims = self.claims(token)
        identity = self._identity(claims)
        if len(self._verified) >= self.CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = (identity, float(claims["exp"]))
        return identity

    def claims(self, token: str) -> dict[str, Any]:
        """The verified claims of a token; Unauthenticated for anything not issued to us, now, by
        the provider."""
        return verified_claims(
            token,
            what="bearer token",
            algorithms=self._algorithms,
            key_client=self._key_client(),
            audience=self._settings.audience,
            issuer=self._settings.issuer,
            leeway_seconds=self._settings.leeway_seconds,
        )

    def _identity(self, claims: dict[str, Any]) -> Identity:
        client = claims.get("azp") or claims.get("client_id")
        if isinstance(client, str) and client in self._service_names:
            return service_principal(self._service_names[client], issuer=self._settings.issuer)
        subject = claims.get(self._settings.user_claim)
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated(f"invalid bearer token: no {self._settings.user_claim!r} claim")
        if subject.startswith(SERVICE_PREFIX):
            raise Unauthenticated("invalid bearer token: a user cannot be named as a service")
        email = claims.get("email") if claims.get("email_verified", True) else None
        # No roles from the token: the organisation decides them.
        return Identity(
            subject, frozenset(), email=email if isinstance(email, str) else "", issuer=self._settings.issuer
        )


def verified_claims(
    token: str,
    *,
    what: str,
    algorithms: Sequence[str],
    key_client: jwt.PyJWKClient,
    audience: str,
    issuer: str,
    leeway_seconds: int,
) -> dict[str, Any]:
    """The claims of a JWT the provider signed (by the key its header names, with one of the
    configured algorithms only), issued by `issuer` to `audience`, not expired. Unauthenticated
    naming `what` for anything else; Unavailable when the provider's keys cannot be fetched."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise Unauthenticated(f"invalid {what}: {error}") from error
    algorithm = header.get("alg")
    if algorithm not in algorithms:
        raise Unauthenticated(f"invalid {what}: algorithm {algorithm!r} is not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Unauthenticated(f"invalid {what}: no key id")
    try:
        key = key_client.get_signing_key(kid)
    except jwt.PyJWKClientConnectionError as error:
        # The provider's outage is not the caller's fault: retryable, not 401.
        raise Unavailable(f"cannot fetch the identity provider's keys: {error}") from error
    except jwt.PyJWKClientError as error:
        raise Unauthenticated(f"invalid {what}: unknown key id {kid!r}") from error
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=list(algorithms),
            audience=audience,
            issuer=issuer,
            leeway=leeway_seconds,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as error:
        raise Unauthenticated(f"invalid {what}: {error}") from error
    return claims
