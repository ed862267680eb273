"""A service's own token for its peers: the client-credentials grant at a fake token endpoint (cached
until shortly before expiry, one fetch however many threads ask, UNAVAILABLE when the provider is
not there or refuses), and development tokens only in development."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest

from salesplane_platform.authentication import auth_settings_from
from salesplane_platform.errors import ConfigurationError, Unavailable
from salesplane_platform.identity import TokenVerifier
from salesplane_platform.service_credentials import (
    ClientCredentialsSettings,
    ClientCredentialsToken,
    DevelopmentServiceToken,
    NoServiceCredentials,
    client_credentials_from,
    service_credentials,
)

SECRET = "credentials-test-secret-of-32-bytes!"
DEVELOPMENT = auth_settings_from({"SALESPLANE_ENV": "development", "SALESPLANE_AUTH_SECRET": SECRET})
PRODUCTION = auth_settings_from(
    {"SALESPLANE_OIDC_ISSUER": "https://id.example/realms/sales", "SALESPLANE_OIDC_AUDIENCE": "salesplane"}
)


class FakeProvider:
    """A token endpoint (and discovery document) that counts its grants."""

    def __init__(self) -> None:
        self.grants: list[dict[str, Any]] = []
        self.expires_in = 300
        self.refuse = False
        self.delay = 0.0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != "/realm/.well-known/openid-configuration":
                    self._answer(404, {})
                    return
                self._answer(200, {"issuer": provider.issuer, "token_endpoint": provider.issuer + "/token"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
                client = base64.b64decode(encoded).decode() if scheme == "Basic" else ""
                time.sleep(provider.delay)
                provider.grants.append({"form": form, "client": client, "path": self.path})
                if provider.refuse or client != "salesplane-leads:s3cret%3D":
                    self._answer(401, {"error": "invalid_client", "error_description": "bad secret"})
                    return
                self._answer(
                    200,
                    {
                        "access_token": f"token-{len(provider.grants)}",
                        "token_type": "Bearer",
                        "expires_in": provider.expires_in,
                    },
                )

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}/realm"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def credentials(
    provider: FakeProvider, clock: Clock | None = None, **settings: Any
) -> ClientCredentialsToken:
    # "=" in the secret: client_secret_basic form-encodes the id and secret before Base64.
    return ClientCredentialsToken(
        ClientCredentialsSettings("salesplane-leads", "s3cret=", **settings),
        issuer=provider.issuer,
        clock=clock or time.time,
    )


def test_the_grant_is_made_once_and_its_token_reused_until_shortly_before_it_expires(
    provider: FakeProvider,
) -> None:
    clock = Clock()
    token = credentials(provider, clock)

    assert token.bearer_token() == "token-1"
    clock.now += 269
    assert token.bearer_token() == "token-1"
    clock.now += 1  # 300 s tokens are replaced 30 s before they expire
    assert token.bearer_token() == "token-2"

    assert [grant["form"] for grant in provider.grants] == [{"grant_type": "client_credentials"}] * 2
    assert {grant["path"] for grant in provider.grants} == {"/realm/token"}


def test_a_short_lived_token_is_still_reused_for_half_its_life(provider: FakeProvider) -> None:
    clock = Clock()
    provider.expires_in = 20
    token = credentials(provider, clock)

    assert token.bearer_token() == "token-1"
    clock.now += 9
    assert token.bearer_token() == "token-1"
    clock.now += 1
    assert token.bearer_token() == "token-2"


def test_threads_asking_at_once_share_one_grant(provider: FakeProvider) -> None:
    provider.delay = 0.2
    token = credentials(provider)
    answers: list[str] = []

    threads = [threading.Thread(target=lambda: answers.append(token.bearer_token())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == ["token-1"] * 8
    assert len(provider.grants) == 1


def test_a_configured_token_url_is_used_without_discovery(provider: FakeProvider) -> None:
    token = credentials(provider, token_url=provider.issuer + "/token")

    assert token.bearer_token() == "token-1"


def test_a_refused_client_or_an_unreachable_provider_is_unavailable(provider: FakeProvider) -> None:
    provider.refuse = True
    with pytest.raises(
        Unavailable, match="refused the client credentials of 'salesplane-leads': invalid_client"
    ):
        credentials(provider).bearer_token()

    gone = ClientCredentialsToken(
        ClientCredentialsSettings("salesplane-leads", "s3cret="), issuer="http://127.0.0.1:9/realm"
    )
    with pytest.raises(Unavailable, match="cannot be used yet"):
        gone.bearer_token()
    gone_endpoint = ClientCredentialsToken(
        ClientCredentialsSettings("salesplane-leads", "s3cret=", token_url="http://127.0.0.1:9/token")
    )
    with pytest.raises(Unavailable, match="cannot get a service token"):
        gone_endpoint.bearer_token()


def test_development_tokens_are_short_lived_service_tokens_renewed_before_they_expire() -> None:
    clock = Clock()
    minted = DevelopmentServiceToken(DEVELOPMENT, "leads", clock=clock)

    first = minted.bearer_token()
    identity = TokenVerifier(SECRET).verify(first)
    claims = jwt.decode(first, SECRET, algorithms=["HS256"], issuer="salesplane")

    assert (identity.subject, identity.roles) == ("service:leads", frozenset({"service"}))
    assert claims["exp"] - claims["iat"] <= 300
    assert minted.bearer_token() == first
    clock.now += 270
    time.sleep(1.1)  # a new iat
    assert minted.bearer_token() != first


def test_nothing_outside_development_mints_a_token() -> None:
    with pytest.raises(ConfigurationError):
        DevelopmentServiceToken(PRODUCTION, "leads")
    without_client = service_credentials("leads", PRODUCTION, None)

    assert isinstance(without_client, NoServiceCredentials)
    with pytest.raises(Unavailable, match="SALESPLANE_OIDC_CLIENT_ID"):
        without_client.bearer_token()
    assert isinstance(service_credentials("leads", DEVELOPMENT, None), DevelopmentServiceToken)
    client = ClientCredentialsSettings("salesplane-leads", "s3cret=")
    assert isinstance(service_credentials("leads", PRODUCTION, client), ClientCredentialsToken)


def test_the_client_settings_go_together_and_need_a_provider() -> None:
    assert client_credentials_from({}) is None
    assert client_credentials_from(
        {"SALESPLANE_OIDC_CLIENT_ID": "salesplane-leads", "SALESPLANE_OIDC_CLIENT_SECRET": "x"}
    ) == ClientCredentialsSettings("salesplane-leads", "x")
    with pytest.raises(ConfigurationError, match="go together"):
        client_credentials_from({"SALESPLANE_OIDC_CLIENT_ID": "salesplane-leads"})
    with pytest.raises(ConfigurationError, match="needs the provider"):
        service_credentials("leads", DEVELOPMENT, ClientCredentialsSettings("salesplane-leads", "x"))
    assert "s3cret" not in repr(ClientCredentialsSettings("salesplane-leads", "s3cret"))
