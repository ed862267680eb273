"""Access tokens of a real OpenID Connect provider (Keycloak, started by the test tooling): its
users' and service account's tokens verify; another issuer's, a forged, an unsigned and an
HS256-with-the-public-key token do not; a key rotation at the provider is picked up while tokens
of the old key keep verifying; and a component in production takes the provider's tokens and
refuses development ones."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.request

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from salesplane_platform.authentication import DEV_AUTH_SECRET, TokenVerifiers, auth_settings_from
from salesplane_platform.errors import Unauthenticated
from salesplane_platform.identity import issue_token
from salesplane_platform.oidc import OidcSettings, OidcTokenVerifier
from salesplane_testing.keycloak_server import AUDIENCE, SERVICE_CLIENT, KeycloakServer

pytestmark = pytest.mark.integration


def verifier(keycloak: KeycloakServer, **settings: object) -> OidcTokenVerifier:
    values: dict[str, object] = {
        "issuer": keycloak.issuer,
        "audience": AUDIENCE,
        "service_clients": frozenset({SERVICE_CLIENT}),
        "jwks_cooldown_seconds": 0.0,
    }
    return OidcTokenVerifier(OidcSettings(**{**values, **settings}))  # type: ignore[arg-type]


def test_the_providers_user_and_service_tokens_verify(keycloak: KeycloakServer) -> None:
    checker = verifier(keycloak)  # the key set URL discovered from the issuer
    alice = checker.verify(keycloak.password_token("alice"))
    assert (alice.subject, alice.email, alice.roles) == ("alice", "alice@example.test", frozenset())
    service = checker.verify(keycloak.service_token())
    assert (service.subject, service.roles) == ("service:salesplane-leads", frozenset({"service"}))


def test_a_token_of_another_issuer_or_for_another_audience_is_refused(keycloak: KeycloakServer) -> None:
    # The master realm is another issuer on the same server, with its own keys.
    with pytest.raises(Unauthenticated):
        verifier(keycloak).verify(keycloak.admin_token())
    with pytest.raises(Unauthenticated, match="Audience"):
        verifier(keycloak, audience="someone-else").verify(keycloak.password_token("bob"))


def test_forged_unsigned_and_confused_tokens_are_refused(keycloak: KeycloakServer) -> None:
    checker = verifier(keycloak)
    genuine = keycloak.password_token("carol")
    _, payload, _ = genuine.split(".")
    kid = jwt.get_unverified_header(genuine)["kid"]

    unsigned = f"{_b64(json.dumps({'alg': 'none', 'kid': kid}).encode())}.{payload}."
    with pytest.raises(Unauthenticated, match="algorithm 'none'"):
        checker.verify(unsigned)

    certs = json.loads(urllib.request.urlopen(f"{keycloak.issuer}/protocol/openid-connect/certs").read())
    [jwk] = [key for key in certs["keys"] if key["kid"] == kid]
    public_pem = (
        jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk)).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )  # type: ignore[union-attr]
    )
    confused_header = _b64(json.dumps({"alg": "HS256", "kid": kid}).encode())
    mac = hmac.new(public_pem, f"{confused_header}.{payload}".encode(), hashlib.sha256).digest()
    with pytest.raises(Unauthenticated, match="algorithm 'HS256'"):
        checker.verify(f"{confused_header}.{payload}.{_b64(mac)}")

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = jwt.decode(genuine, options={"verify_signature": False})
    with pytest.raises(Unauthenticated, match="Signature verification failed"):
        checker.verify(jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": kid}))
    with pytest.raises(Unauthenticated, match="unknown key id"):
        checker.verify(jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": "not-the-providers"}))
    # The genuine token still verifies after all that.
    assert checker.verify(genuine).subject == "carol"


def test_a_key_rotation_at_the_provider_is_picked_up_and_old_tokens_keep_verifying(
    keycloak: KeycloakServer,
) -> None:
    checker = verifier(keycloak)
    before = keycloak.password_token("alice")
    assert checker.verify(before).subject == "alice"
    keycloak.rotate_signing_key()
    after = keycloak.password_token("alice")
    assert jwt.get_unverified_header(after)["kid"] != jwt.get_unverified_header(before)["kid"]
    # The cached key set lacks the new key id: one refetch finds it.
    assert checker.verify(after).subject == "alice"
    assert checker.verify(before).subject == "alice"


def test_a_production_component_takes_the_providers_tokens_and_refuses_development_ones(
    keycloak: KeycloakServer,
) -> None:
    settings = auth_settings_from(
        {
            "SALESPLANE_ENV": "production",
            "SALESPLANE_OIDC_ISSUER": keycloak.issuer,
            "SALESPLANE_OIDC_AUDIENCE": AUDIENCE,
        }
    )
    verifiers = TokenVerifiers(settings)
    assert verifiers.verify_header(f"Bearer {keycloak.password_token('bob')}").subject == "bob"
    with pytest.raises(Unauthenticated):
        verifiers.verify_header(f"Bearer {issue_token(DEV_AUTH_SECRET, 'root', ['admin'])}")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
