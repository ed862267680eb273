"""Access tokens verified by a provider's published keys: every forged, misdirected or stale token
is refused, a rotated key is picked up, and services are told from users.

The provider here is a key set served over HTTP from this process (a unit test's stand-in); the
integration tests do the same against a real OpenID Connect provider."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from salesplane_platform.errors import Unauthenticated, Unavailable
from salesplane_platform.oidc import OidcSettings, OidcTokenVerifier

ISSUER = "https://id.example.test/realms/sales"
AUDIENCE = "salesplane"


class KeySet:
    """A provider's JWKS endpoint whose keys a test can change (rotation)."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.fetches = 0
        served = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                served.fetches += 1
                body = json.dumps({"keys": [served.public_jwk(kid) for kid in served.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}/certs"

    def add_rsa(self, kid: str) -> Any:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self.keys[kid]

    def add_ec(self, kid: str) -> Any:
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1())
        return self.keys[kid]

    def public_jwk(self, kid: str) -> dict[str, Any]:
        key = self.keys[kid]
        if isinstance(key, rsa.RSAPrivateKey):
            jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
            return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}
        jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
        return {**jwk, "kid": kid, "alg": "ES256", "use": "sig"}

    def close(self) -> None:
        self._server.shutdown()


@pytest.fixture
def keys() -> Iterator[KeySet]:
    served = KeySet()
    served.add_rsa("k1")
    yield served
    served.close()


def verifier(keys: KeySet, **settings: Any) -> OidcTokenVerifier:
    values: dict[str, Any] = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "jwks_url": keys.url,
        "leeway_seconds": 30,
        "service_clients": frozenset({"salesplane-leads"}),
        "jwks_cooldown_seconds": 0.0,
    }
    return OidcTokenVerifier(OidcSettings(**{**values, **settings}))


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "7f0c-uuid",
        "preferred_username": "alice",
        "email": "alice@example.test",
        "iat": now,
        "exp": now + 300,
        "realm_access": {"roles": ["admin"]},
    }
    return {k: v for k, v in {**values, **overrides}.items() if v is not None}


def signed(keys: KeySet, kid: str = "k1", algorithm: str = "RS256", **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), keys.keys[kid], algorithm=algorithm, headers={"kid": kid})


def test_a_providers_token_names_the_user_and_grants_no_role_of_its_own(keys: KeySet) -> None:
    identity = verifier(keys).verify(signed(keys))
    assert identity.subject == "alice" and identity.email == "alice@example.test"
    # The token claims admin; the organisation decides roles, not the token.
    assert identity.roles == frozenset()


def test_an_ec_key_verifies_es256_tokens(keys: KeySet) -> None:
    keys.add_ec("e1")
    assert verifier(keys).verify(signed(keys, "e1", "ES256")).subject == "alice"


def test_the_user_claim_is_configuration(keys: KeySet) -> None:
    assert verifier(keys, user_claim="email").verify(signed(keys)).subject == "alice@example.test"
    with pytest.raises(Unauthenticated, match="no 'email' claim"):
        verifier(keys, user_claim="email").verify(signed(keys, email=None))


RELATIVE_TIMES = {"exp_in": "exp", "nbf_in": "nbf"}


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "https://other.example.test/realms/sales"},
        {"aud": "someone-else"},
        {"exp_in": -31},  # past the 30 s leeway
        {"nbf_in": 120},
        {"iat": None},
        {"exp": None},
        {"preferred_username": None},
        {"preferred_username": "service:salesplane-leads"},
    ],
    ids=[
        "other issuer",
        "wrong audience",
        "expired",
        "not yet valid",
        "no iat",
        "no exp",
        "no user",
        "service name",
    ],
)
def test_a_misdirected_stale_or_anonymous_token_is_refused(keys: KeySet, overrides: dict[str, Any]) -> None:
    # Times are seconds from now when the test runs, not when it was collected (a long run
    # would otherwise make "not yet valid" valid).
    now = int(time.time())
    claims_ = {RELATIVE_TIMES.get(k, k): now + v if k in RELATIVE_TIMES else v for k, v in overrides.items()}
    with pytest.raises(Unauthenticated):
        verifier(keys).verify(signed(keys, **claims_))


def test_clock_skew_within_the_leeway_is_tolerated(keys: KeySet) -> None:
    now = int(time.time())
    assert verifier(keys).verify(signed(keys, exp=now - 10, nbf=now + 10)).subject == "alice"


def test_an_unsigned_token_is_refused(keys: KeySet) -> None:
    header = {"alg": "none", "kid": "k1", "typ": "JWT"}
    unsigned = ".".join(_b64(json.dumps(part).encode()) for part in (header, claims())) + "."
    with pytest.raises(Unauthenticated, match="algorithm 'none'"):
        verifier(keys).verify(unsigned)


def test_hs256_signed_with_the_providers_public_key_is_refused(keys: KeySet) -> None:
    public_pem = (
        keys.keys["k1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = _b64(json.dumps({"alg": "HS256", "kid": "k1", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims()).encode())
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{payload}.{_b64(signature)}"
    with pytest.raises(Unauthenticated, match="algorithm 'HS256'"):
        verifier(keys).verify(forged)


def test_a_token_signed_by_another_key_with_a_known_key_id_is_refused(keys: KeySet) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims(), stranger, algorithm="RS256", headers={"kid": "k1"})
    with pytest.raises(Unauthenticated, match="Signature verification failed"):
        verifier(keys).verify(forged)


def test_an_unknown_key_id_is_refused_after_one_refetch(keys: KeySet) -> None:
    checker = verifier(keys)
    checker.verify(signed(keys))
    before = keys.fetches
    stranger_keys = KeySet()
    stranger_keys.add_rsa("k9")
    try:
        with pytest.raises(Unauthenticated, match="unknown key id 'k9'"):
            checker.verify(signed(stranger_keys, "k9"))
    finally:
        stranger_keys.close()
    assert keys.fetches == before + 1


def test_a_rotated_key_is_picked_up_and_old_tokens_verify_until_they_expire(keys: KeySet) -> None:
    checker = verifier(keys)
    old_token = signed(keys)
    assert checker.verify(old_token).subject == "alice"
    # The provider publishes a new key beside the old one and signs with it from now on.
    keys.add_rsa("k2")
    assert checker.verify(signed(keys, "k2", preferred_username="bob")).subject == "bob"
    assert checker.verify(old_token).subject == "alice"
    # Once the old key is withdrawn, a new verifier (or the cache's expiry) no longer knows it.
    del keys.keys["k1"]
    with pytest.raises(Unauthenticated, match="unknown key id 'k1'"):
        verifier(keys).verify(old_token)


def test_a_service_clients_token_is_a_service_principal_never_a_user(keys: KeySet) -> None:
    identity = verifier(keys).verify(signed(keys, azp="salesplane-leads", preferred_username="alice"))
    assert identity.subject == "service:salesplane-leads"
    assert identity.roles == frozenset({"service"})
    # Another client's token is an ordinary user token.
    assert verifier(keys).verify(signed(keys, azp="salesplane-console")).subject == "alice"


def test_the_bearer_header_is_required(keys: KeySet) -> None:
    checker = verifier(keys)
    for header in (None, "", "Basic abc", "Bearer "):
        with pytest.raises(Unauthenticated):
            checker.verify_header(header)
    assert checker.verify_header(f"Bearer {signed(keys)}").subject == "alice"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_an_unreachable_provider_is_unavailable_not_a_bad_token_and_does_not_stop_a_start(
    keys: KeySet,
) -> None:
    token = signed(keys)
    # Neither the discovery document nor the key set is read before the first token.
    for settings in (
        {"jwks_url": "http://127.0.0.1:9/certs"},
        {"jwks_url": "", "issuer": "http://127.0.0.1:9/r"},
    ):
        checker = verifier(keys, **settings)
        with pytest.raises(Unavailable):
            checker.verify(token)
