"""Who is calling: a verified bearer token (JWT) carried in gRPC metadata.

The gateway authenticates web clients and forwards their token; other enterprise systems and
services present their own. Every service verifies the signature itself, so an identity can never
be forged by writing metadata by hand.

A service principal (`service:<name>`, with only the service role) acts for Salesplane, never as a
user: it holds no user role, is no admin, and each service lets it call only the RPCs it names for
it (service_principals.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import jwt

from salesplane_platform.errors import Unauthenticated

AUTHORIZATION_HEADER = "authorization"
ISSUER = "salesplane"
ALGORITHM = "HS256"

ROLE_REP = "rep"
ROLE_MANAGER = "manager"
ROLE_ADMIN = "admin"
ROLE_MARKETING = "marketing"
ROLE_SERVICE = "service"
KNOWN_ROLES = frozenset({ROLE_REP, ROLE_MANAGER, ROLE_ADMIN, ROLE_MARKETING, ROLE_SERVICE})
# The subjects of service principals; a user id can never start with it.
SERVICE_PREFIX = "service:"


@dataclass(frozen=True)
class Identity:
    subject: str
    roles: frozenset[str]
    # As the identity provider vouches for it (empty when it does not, or for a service).
    email: str = ""
    # Who vouched for it: ISSUER for development tokens (and identities made in code), else the
    # OpenID Connect provider's issuer.
    issuer: str = ISSUER

    @property
    def is_service(self) -> bool:
        """A service principal: it may call only the RPCs allowed to it, and holds no user role.
        Either mark makes one, so an identity made carelessly fails closed."""
        return ROLE_SERVICE in self.roles or self.subject.startswith(SERVICE_PREFIX)

    @property
    def is_admin(self) -> bool:
        return ROLE_ADMIN in self.roles and not self.is_service

    def has_any(self, *roles: str) -> bool:
        if self.is_service:
            return False
        return bool(self.roles.intersection(roles)) or self.is_admin


def service_principal(service_name: str, *, issuer: str = ISSUER) -> Identity:
    """The identity of a Salesplane service (`service:<name>`), with the service role only."""
    return Identity(SERVICE_PREFIX + service_name, frozenset({ROLE_SERVICE}), issuer=issuer)


def issue_token(secret: str, subject: str, roles: Iterable[str], *, ttl_seconds: int = 8 * 3600) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": subject,
        "roles": sorted(set(roles)),
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


class TokenVerifier:
    """Verifies bearer tokens. A client sends the same token with every call until it expires, so
    verified tokens are remembered (bounded, until their expiry) instead of re-checking the
    signature on every request."""

    CACHE_SIZE = 4096

    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._verified: dict[str, tuple[Identity, float]] = {}

    def verify(self, token: str) -> Identity:
        remembered = self._verified.get(token)
        if remembered is not None and remembered[1] > time.time():
            return remembered[0]
        identity, expires_at = self._verify_signature(token)
        if len(self._verified) >= self.CACHE_SIZE:
            # Crude but bounded: start over rather than track recency on the hot path.
            self._verified.clear()
        self._verified[token] = (identity, expires_at)
        return identity

    def _verify_signature(self, token: str) -> tuple[Identity, float]:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["sub", "exp"]},
            )
        except jwt.PyJWTError as error:
            raise Unauthenticated(f"invalid bearer token: {error}") from error
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise Unauthenticated("invalid bearer token: roles must be a list of strings")
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated("invalid bearer token: empty subject")
        return _development_identity(subject, frozenset(roles) & KNOWN_ROLES), float(claims["exp"])

    def verify_header(self, header_value: str | None) -> Identity:
        return self.verify(bearer_token(header_value))


def _development_identity(subject: str, roles: frozenset[str]) -> Identity:
    """A service principal and nothing else, or a user and never a service: a `service:` subject
    carries the service role only (whatever else its token claims), and the service role goes with
    a `service:` subject only."""
    if subject.startswith(SERVICE_PREFIX):
        if len(subject) == len(SERVICE_PREFIX):
            raise Unauthenticated("invalid bearer token: a service principal needs a name")
        return Identity(subject=subject, roles=frozenset({ROLE_SERVICE}))
    if ROLE_SERVICE in roles:
        raise Unauthenticated(f"invalid bearer token: the service role needs a {SERVICE_PREFIX!r} subject")
    return Identity(subject=subject, roles=roles)


def bearer_token(header_value: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header; Unauthenticated otherwise."""
    if not header_value:
        raise Unauthenticated("missing bearer token")
    scheme, _, token = header_value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("authorization must be 'Bearer <token>'")
    return token.strip()
