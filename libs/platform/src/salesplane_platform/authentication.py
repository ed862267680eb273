"""How a component verifies bearer tokens, read once from the environment, failing closed.

Production verifies the access tokens of an OpenID Connect provider by its public keys (oidc.py):
no component then holds a key that can mint a user's token. Development (`SALESPLANE_ENV=development`,
which `make run` and the test tooling set) also accepts HS256 tokens signed with a shared secret,
so `make token` works without a provider; outside it, a shared secret is refused, and so is a
start without any verification keys. The development secret is never a default anywhere else.

    SALESPLANE_ENV                       development (or dev) | anything else = production
    SALESPLANE_AUTH_SECRET               development only: the HS256 secret (default: the dev one)
    SALESPLANE_OIDC_ISSUER               the provider's issuer URL (iss)
    SALESPLANE_OIDC_AUDIENCE             the audience Salesplane's tokens carry (aud)
    SALESPLANE_OIDC_JWKS_URL             optional; discovered from the issuer otherwise
    SALESPLANE_OIDC_ALGORITHMS           optional, comma-separated; RS256,ES256
    SALESPLANE_OIDC_LEEWAY_SECONDS       optional clock skew, 0..300; 30
    SALESPLANE_OIDC_USER_CLAIM           optional; the claim holding the user id (preferred_username)
    SALESPLANE_OIDC_SERVICE_CLIENTS      optional, comma-separated OAuth clients that are services
                                         ("client", or "client=name" for the principal service:name)
    SALESPLANE_OIDC_JWKS_COOLDOWN_SECONDS optional; the least time between two key-set fetches (10)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import jwt

from salesplane_platform.errors import ConfigurationError, Unauthenticated
from salesplane_platform.identity import Identity, TokenVerifier, bearer_token
from salesplane_platform.oidc import DEFAULT_ALGORITHMS, OidcSettings, OidcTokenVerifier

# Only the development mode may fall back to this.
DEV_AUTH_SECRET = "salesplane-dev-secret-not-for-production"
DEVELOPMENT_MODES = frozenset({"development", "dev"})
MIN_SECRET_LENGTH = 32


class Verifier(Protocol):
    def verify_header(self, header_value: str | None) -> Identity: ...


@dataclass(frozen=True)
class AuthSettings:
    development: bool
    # The HS256 secret; empty outside development.
    shared_secret: str
    oidc: OidcSettings | None

    @property
    def describes(self) -> str:
        """For the start-up log: what tokens this component accepts (never the secret)."""
        kinds = []
        if self.oidc is not None:
            kinds.append(f"OpenID Connect tokens of {self.oidc.issuer} for {self.oidc.audience}")
        if self.shared_secret:
            kinds.append("development HS256 tokens")
        return " and ".join(kinds)


def auth_settings_from(env: Mapping[str, str]) -> AuthSettings:
    development = env.get("SALESPLANE_ENV", "").strip().lower() in DEVELOPMENT_MODES
    oidc = oidc_settings_from(env)
    secret = env.get("SALESPLANE_AUTH_SECRET", "")
    if not development:
        if secret:
            raise ConfigurationError(
                "SALESPLANE_AUTH_SECRET is a development setting: whoever reads a shared secret can "
                "mint a token for any user. Outside SALESPLANE_ENV=development configure an OpenID "
                "Connect provider (SALESPLANE_OIDC_ISSUER, SALESPLANE_OIDC_AUDIENCE) instead"
            )
        if oidc is None:
            raise ConfigurationError(
                "no token verification keys: set SALESPLANE_OIDC_ISSUER and SALESPLANE_OIDC_AUDIENCE "
                "(or SALESPLANE_ENV=development to accept development tokens)"
            )
        return AuthSettings(development=False, shared_secret="", oidc=oidc)
    if secret and len(secret) < MIN_SECRET_LENGTH:
        raise ConfigurationError(f"SALESPLANE_AUTH_SECRET must be at least {MIN_SECRET_LENGTH} characters")
    return AuthSettings(development=True, shared_secret=secret or DEV_AUTH_SECRET, oidc=oidc)


def oidc_settings_from(env: Mapping[str, str]) -> OidcSettings | None:
    issuer = env.get("SALESPLANE_OIDC_ISSUER", "").strip()
    audience = env.get("SALESPLANE_OIDC_AUDIENCE", "").strip()
    if not issuer and not audience:
        return None
    if not issuer or not audience:
        raise ConfigurationError("SALESPLANE_OIDC_ISSUER and SALESPLANE_OIDC_AUDIENCE go together")
    return OidcSettings(
        issuer=issuer,
        audience=audience,
        jwks_url=env.get("SALESPLANE_OIDC_JWKS_URL", "").strip(),
        algorithms=_listed(env.get("SALESPLANE_OIDC_ALGORITHMS", "")) or DEFAULT_ALGORITHMS,
        leeway_seconds=_number(env, "SALESPLANE_OIDC_LEEWAY_SECONDS", 30),
        user_claim=env.get("SALESPLANE_OIDC_USER_CLAIM", "").strip() or "preferred_username",
        service_clients=frozenset(_listed(env.get("SALESPLANE_OIDC_SERVICE_CLIENTS", ""))),
        jwks_cooldown_seconds=float(_number(env, "SALESPLANE_OIDC_JWKS_COOLDOWN_SECONDS", 10)),
    )


class TokenVerifiers:
    """The provider's tokens, and in development the shared-secret ones: a token's header names
    its algorithm, and HS256 goes to the secret only when there is one (development)."""

    def __init__(self, settings: AuthSettings) -> None:
        self._oidc = OidcTokenVerifier(settings.oidc) if settings.oidc is not None else None
        self._shared = TokenVerifier(settings.shared_secret) if settings.shared_secret else None

    def verify_header(self, header_value: str | None) -> Identity:
        token = bearer_token(header_value)
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError as error:
            raise Unauthenticated(f"invalid bearer token: {error}") from error
        if algorithm == "HS256" and self._shared is not None:
            return self._shared.verify(token)
        if self._oidc is not None:
            return self._oidc.verify(token)
        if self._shared is not None:
            return self._shared.verify(token)
        raise Unauthenticated("no verifier for this token")


def _listed(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _number(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ConfigurationError(f"{name}={raw!r} is not a whole number")
    return int(raw)
