"""The browser login against a stand-in OpenID Connect provider (served over HTTP in this process):
the authorization request with PKCE, the callback's checks, the session cookie, session-
authenticated API calls with their CSRF check, the refresh, the logout, and a gateway without a
configured client. The same flow against the real provider (Keycloak, in a browser):
integration/test_browser_login.py."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask.testing import FlaskClient
from werkzeug.serving import make_server
from werkzeug.test import TestResponse
from werkzeug.wrappers import Request, Response

from salesplane.forecasting.v1 import settings_pb2
from salesplane_gateway.login_settings import BrowserLoginSettings
from salesplane_platform.oidc import OidcSettings

PROBLEM = "application/problem+json"
CLIENT_ID = "salesplane-console"
CLIENT_SECRET = "console-secret"
AUDIENCE = "salesplane"
PUBLIC_URL = "http://localhost"
SESSION_KEY = bytes(range(32))
SESSION_COOKIE = "__Host-salesplane-session.0"
LOGIN_COOKIE = "__Host-salesplane-login"
USERS = {
    "alice": {"name": "Alice Tester", "email": "alice@example.test"},
    "mallory": {"name": "<script>alert(1)</script>", "email": "mallory@example.test"},
}


class FakeProvider:
    """Just enough of an OpenID Connect provider: discovery, keys, and a token endpoint that keeps
    to the rules the gateway relies on (single-use codes bound to their PKCE challenge, client
    authentication, refresh tokens that can be refused). `authorize` stands for the user signing in
    at the provider's pages."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "fake-key-1"
        self.codes: dict[str, dict[str, str]] = {}
        self.refresh_tokens: dict[str, str] = {}
        self.revoked: list[str] = []
        self.grants: list[str] = []
        self.access_lifetime = 300
        self.refuse_refresh = False
        self.nonce_override: str | None = None
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}/realms/test"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> FakeProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        self.codes.clear()
        self.refresh_tokens.clear()
        self.revoked.clear()
        self.grants.clear()
        self.access_lifetime = 300
        self.refuse_refresh = False
        self.nonce_override = None

    # -- the user at the provider's login page --------------------------------------------------

    def authorize(self, authorization_url: str, user: str = "alice") -> str:
        """The redirect back to the gateway (its path and query) after `user` signed in."""
        assert authorization_url.startswith(f"{self.issuer}/protocol/openid-connect/auth?")
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorization_url).query))
        assert query["client_id"] == CLIENT_ID
        assert query["response_type"] == "code"
        assert query["redirect_uri"] == f"{PUBLIC_URL}/auth/callback"
        assert query["code_challenge_method"] == "S256"
        assert "openid" in query["scope"].split()
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "challenge": query["code_challenge"],
            "nonce": query["nonce"],
            "redirect_uri": query["redirect_uri"],
            "user": user,
        }
        answer = urllib.parse.urlencode({"code": code, "state": query["state"], "iss": self.issuer})
        return f"/auth/callback?{answer}"

    # -- HTTP ------------------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        path = request.path.removeprefix("/realms/test")
        handlers = {
            "/.well-known/openid-configuration": self._discovery,
            "/protocol/openid-connect/certs": self._certs,
            "/protocol/openid-connect/token": self._token,
            "/protocol/openid-connect/revoke": self._revoke,
        }
        handler = handlers.get(path)
        response = handler(request) if handler else Response("not found", status=404)
        return response(environ, start_response)

    def _discovery(self, request: Request) -> Response:
        base = f"{self.issuer}/protocol/openid-connect"
        return _json(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{base}/auth",
                "token_endpoint": f"{base}/token",
                "jwks_uri": f"{base}/certs",
                "end_session_endpoint": f"{base}/logout",
                "revocation_endpoint": f"{base}/revoke",
                "code_challenge_methods_supported": ["plain", "S256"],
            }
        )

    def _certs(self, request: Request) -> Response:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return _json({"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]})

    def _client_authenticated(self, request: Request) -> bool:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    def _token(self, request: Request) -> Response:
        if not self._client_authenticated(request):
            return _json({"error": "invalid_client"}, 401)
        form = request.form
        self.grants.append(form["grant_type"])
        if form["grant_type"] == "authorization_code":
            grant = self.codes.pop(form.get("code", ""), None)  # a code is good once
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
            if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
                return _json({"error": "invalid_grant", "error_description": "Code not valid"}, 400)
            if challenge.decode() != grant["challenge"]:
                return _json({"error": "invalid_grant", "error_description": "PKCE verification failed"}, 400)
            return _json(self._tokens(grant["user"], nonce=self.nonce_override or grant["nonce"]))
        if form["grant_type"] == "refresh_token":
            user = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if user is None or self.refuse_refresh:
                return _json({"error": "invalid_grant", "error_description": "Session not active"}, 400)
            return _json(self._tokens(user, nonce=None))
        return _json({"error": "unsupported_grant_type"}, 400)

    def _revoke(self, request: Request) -> Response:
        if not self._client_authenticated(request):
            return _json({"error": "invalid_client"}, 401)
        self.revoked.append(request.form["token"])
        self.refresh_tokens.pop(request.form["token"], None)
        return Response("", status=200)

    def _tokens(self, user: str, *, nonce: str | None) -> dict[str, Any]:
        now = int(time.time())
        common = {"iss": self.issuer, "sub": f"id-{user}", "iat": now, "azp": CLIENT_ID}
        profile = {"preferred_username": user, "email_verified": True, **USERS[user]}
        access = {
            **common,
            **profile,
            "aud": AUDIENCE,
            "exp": now + self.access_lifetime,
            "jti": uuid.uuid4().hex,
        }
        identity = {**common, **profile, "aud": CLIENT_ID, "exp": now + 300}
        if nonce is not None:
            identity["nonce"] = nonce
        refresh_token = secrets.token_urlsafe(24)
        self.refresh_tokens[refresh_token] = user
        return {
            "access_token": self.sign(access),
            "id_token": self.sign(identity),
            "refresh_token": refresh_token,
            "token_type": "Bearer",
            "expires_in": self.access_lifetime,
        }

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


@pytest.fixture(scope="module")
def provider_server() -> Iterator[FakeProvider]:
    provider = FakeProvider().start()
    yield provider
    provider.stop()


@pytest.fixture
def provider(provider_server: FakeProvider) -> Iterator[FakeProvider]:
    provider_server.reset()
    yield provider_server
    provider_server.reset()


def login_settings(**overrides: Any) -> BrowserLoginSettings:
    values: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "public_url": PUBLIC_URL,
        "session_keys": (SESSION_KEY,),
        **overrides,
    }
    return BrowserLoginSettings(**values)


@pytest.fixture
def browser(make_client: Any, provider: FakeProvider) -> FlaskClient:
    """A gateway with the browser login configured against the fake provider."""
    return make_client(
        oidc=OidcSettings(issuer=provider.issuer, audience=AUDIENCE, jwks_cooldown_seconds=0.0),
        browser_login=login_settings(),
        rate_limit_per_second=0,
    )


def sign_in(
    client: FlaskClient, provider: FakeProvider, user: str = "alice", next_path: str | None = None
) -> TestResponse:
    query = f"?{urllib.parse.urlencode({'next': next_path})}" if next_path is not None else ""
    started = client.get(f"/auth/login{query}")
    assert started.status_code == 302, started.get_data(as_text=True)
    return client.get(provider.authorize(started.headers["Location"], user))


def session_json(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/auth/session")
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(response.get_json())


def set_cookies(response: TestResponse) -> dict[str, str]:
    """name -> the whole Set-Cookie header, of one response."""
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


# -- signing in ------------------------------------------------------------------------------------


def test_signing_in_sends_the_browser_to_the_provider_with_state_nonce_and_pkce(
    browser: FlaskClient, provider: FakeProvider
) -> None:
    response = browser.get("/auth/login")

    assert response.status_code == 302
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(response.headers["Location"]).query))
    assert query["client_id"] == CLIENT_ID
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43  # base64url of a SHA-256
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    assert query["scope"].split() == ["openid", "profile", "email"]
    login_cookie = set_cookies(response)[LOGIN_COOKIE]
    assert "HttpOnly" in login_cookie and "Secure" in login_cookie and "SameSite=Lax" in login_cookie
    assert "Max-Age=600" in login_cookie
    # The cookie is sealed: neither the state nor the verifier can be read from it.
    assert query["state"] not in login_cookie


def test_a_successful_callback_issues_the_session_and_returns_to_next(
    browser: FlaskClient, provider: FakeProvider
) -> None:
    response = sign_in(browser, provider, next_path="/reports?period=2026-Q4")

    assert response.status_code == 303
    assert response.headers["Location"] == "/reports?period=2026-Q4"
    assert provider.grants == ["authorization_code"]
    session = session_json(browser)
    assert (session["subject"], session["email"], session["name"]) == (
        "alice",
        "alice@example.test",
        "Alice Tester",
    )
    assert session["expires_at"].endswith("Z") and session["csrf_token"]
    # The pending login is used up.
    assert "Max-Age=0" in set_cookies(response)[LOGIN_COOKIE]
    assert browser.get_cookie(LOGIN_COOKIE) is None


def test_the_session_cookie_is_http_only_secure_same_site_lax_host_only_and_bounded(
    browser: FlaskClient, provider: FakeProvider
) -> None:
    response = sign_in(browser, provider)

    cookie = set_cookies(response)[SESSION_COOKIE]
    attributes = [part.strip() for part in cookie.split(";")]
    assert "HttpOnly" in attributes
    assert "Secure" in attributes
    assert "SameSite=Lax" in attributes
    assert "Path=/" in attributes
    assert not any(part.lower().startswith("domain=") for part in attributes)
    max_age = next(int(part.split("=")[1]) for part in attributes if part.startswith("Max-Age="))
    assert 8 * 3600 - 5 <= max_age <= 8 * 3600
    # Encrypted: no token can be read from it.
    [refresh_token] = provider.refresh_tokens
    assert refresh_token not in cookie


def test_in_development_the_cookie_may_go_without_secure_and_then_without_the_host_prefix(
    make_client: Any, provider: FakeProvider
) -> None:
    client = make_client(
        oidc=OidcSettings(issuer=provider.issuer, audience=AUDIENCE),
        browser_login=login_settings(cookie_secure=False),
    )

    response = sign_in(client, provider)

    cookie = set_cookies(response)["salesplane-session.0"]
    assert "Secure" not in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "http:evil.example",
    ],
)
def test_a_next_that_leads_off_the_gateway_is_refused(browser: FlaskClient, target: str) -> None:
    response = browser.get("/auth/login", query_string={"next": target})

    assert response.status_code == 400
    assert response.mimetype == PROBLEM
    assert response.get_json()["errors"][0]["field"] == "next"
    assert "Set-Cookie" not in response.headers


def test_a_callback_with_a_wrong_state_is_a_400_problem_and_ends_that_login(
    browser: FlaskClient, provider: FakeProvider
) -> None:
    started = browser.get("/auth/login")
    callback = provider.authorize(started.headers["Location"])
    forged = callback.replace("state=", "state=x")

    response = browser.get(forged)

    assert response.status_code == 400
    assert response.mimetype == PROBLEM
    assert response.get_json()["type"].endswith("/login-failed")
    assert "state" in response.get_json()["detail"]
    assert provider.grants == []  # the code was never exchanged
    # The login in progress is gone: even the genuine answer is refused now.
    assert browser.get(callback).status_code == 400
    assert browser.get("/auth/session").status_code == 401


def test_a_replayed_callback_is_refused_and_a_code_is_good_once(
    browser: FlaskClient, provider: FakeProvider
) -> None:
    started = browser.get("/auth/login")
    pending = browser.get_cookie(LOGIN_COOKIE)
    assert pending is not None
    callback = provider.authorize(started.headers["Location"])
    assert browser.get(callback).status_code == 303

    replayed = browser.get(callback)  # this browser's login is used up
    assert replayed.status_code == 400
    assert "No sign-in is in progress" in replayed.get_json()["detail"]

    # Even with the pending login's cookie put back, the provider refuses the code a second time.
    other = FlaskClient(browser.application, use_cookies=True)
    other.set_cookie(LOGIN_COOKIE, pending.value)
    stolen = other.get(callback)
    assert stolen.status_code == 400
    assert "invalid_grant" in stolen.get_json()["detail"]


def test_a_code_redeemed_without_its_pkce_verifier_is_refused(
    browser: FlaskClient, provider: FakeProvider
) -> None:
    # An attacker's browser starts its own login, then injects a code issued for the victim's.
    victim = FlaskClient(browser.application, use_cookies=True)
    victims_callback = provider.authorize(victim.get("/auth/login").headers["Location"])
    attacker_started = browser.get("/auth/login")
    attacker_state = dict(
        urllib.parse.parse_qsl(urllib.parse.urlsplit(attacker_started.headers["Location"]).query)
    )["state"]
    victims_code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(victims_callback).query))["code"]

    response = browser.get("/auth/callback", query_string={"code": victims_code, "state": attacker_state})

    assert response.status_code == 400
    assert "invalid_grant" in response.get_json()["detail"]


def test_an_id_token_for_another_login_is_refused(browser: FlaskClient, provider: FakeProvider) -> None:
    provider.nonce_override = "a-nonce-of-another-login"

    response = sign_in(browser, provider)

    assert response.status_code == 400
    assert "nonce" in response.get_json()["detail"]
    assert SESSION_COOKIE not in set_cookies(response)


def test_an_answer_naming_another_issuer_is_refused(browser: FlaskClient, provider: FakeProvider) -> None:
    started = browser.get("/auth/login")
    callback = provider.authorize(started.headers["Location"])
    mixed_up = callback.replace(urllib.parse.quote(provider.issuer, safe=""), "https%3A%2F%2Fother.example")

    response = browser.get(mixed_up)

    assert response.status_code == 400
    assert "another identity provider" in response.get_json()["detail"]


def test_the_providers_refusal_is_a_400_problem(browser: FlaskClient, provider: FakeProvider) -> None:
    started = browser.get("/auth/login")
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(started.headers["Location"]).query))["state"]

    response = browser.get("/auth/callback", query_string={"error": "access_denied", "state": state})

    assert response.status_code == 400
    assert "access_denied" in response.get_json()["detail"]


# -- the API with the session ----------------------------------------------------------------------


def test_a_session_authenticated_post_without_the_csrf_token_is_403(
    browser: FlaskClient, provider: FakeProvider, fake: Any
) -> None:
    sign_in(browser, provider)

    response = browser.post("/v1/leads", json={"lead": {"last_name": "Lovelace"}})

    assert response.status_code == 403
    assert response.mimetype == PROBLEM
    assert response.get_json()["type"] == "https://salesplane.dev/problems/csrf-failed"
    assert fake.requests("CreateLead") == []


def test_a_session_authenticated_post_with_the_csrf_token_reaches_the_service_with_the_sessions_token(
    browser: FlaskClient, provider: FakeProvider, fake: Any
) -> None:
    sign_in(browser, provider)
    csrf = session_json(browser)["csrf_token"]

    response = browser.post(
        "/v1/leads",
        json={"lead": {"last_name": "Lovelace"}},
        headers={"X-CSRF-Token": csrf, "Origin": PUBLIC_URL, "Sec-Fetch-Site": "same-origin"},
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    [(_, _, metadata)] = [call for call in fake.calls if call[0] == "CreateLead"]
    token = metadata["authorization"].removeprefix("Bearer ")
    assert jwt.decode(token, options={"verify_signature": False})["preferred_username"] == "alice"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-CSRF-Token": "not-the-sessions-token"},
        {"Origin": "https://evil.example"},
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_a_wrong_token_or_another_origin_is_refused_even_with_a_valid_token(
    browser: FlaskClient, provider: FakeProvider, headers: dict[str, str]
) -> None:
    sign_in(browser, provider)
    csrf = session_json(browser)["csrf_token"]

    response = browser.delete(f"/v1/opportunities/{uuid.uuid4()}", headers={"X-CSRF-Token": csrf, **headers})

    assert response.status_code == 403
    assert response.get_json()["type"].endswith("/csrf-failed")


def test_a_session_authenticated_read_needs_no_csrf_token(
    browser: FlaskClient, provider: FakeProvider, lead_id: str
) -> None:
    sign_in(browser, provider)

    assert browser.get(f"/v1/leads/{lead_id}").status_code == 200


def test_bearer_requests_are_not_subject_to_csrf_even_beside_a_session_cookie(
    browser: FlaskClient, provider: FakeProvider, bearer: Any, fake: Any
) -> None:
    sign_in(browser, provider)

    response = browser.post("/v1/leads", json={"lead": {"last_name": "Lovelace"}}, headers=bearer("bob"))

    assert response.status_code == 201
    # The bearer token decides who calls, not the cookie.
    [(_, _, metadata)] = [call for call in fake.calls if call[0] == "CreateLead"]
    assert (
        jwt.decode(metadata["authorization"].removeprefix("Bearer "), options={"verify_signature": False})[
            "sub"
        ]
        == "bob"
    )


def test_a_tampered_session_cookie_is_401_and_cleared(browser: FlaskClient, provider: FakeProvider) -> None:
    sign_in(browser, provider)
    cookie = browser.get_cookie(SESSION_COOKIE)
    assert cookie is not None
    flipped = cookie.value[:40] + ("A" if cookie.value[40] != "A" else "B") + cookie.value[41:]
    browser.set_cookie(SESSION_COOKIE, flipped)

    response = browser.get("/v1/leads/anything")

    assert response.status_code == 401
    assert "Max-Age=0" in set_cookies(response)[SESSION_COOKIE]
    assert browser.get_cookie(SESSION_COOKIE) is None


def test_without_a_cookie_or_token_the_api_still_answers_401(browser: FlaskClient) -> None:
    response = browser.get("/v1/leads/anything")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# -- refresh ---------------------------------------------------------------------------------------


def test_an_access_token_near_its_expiry_is_refreshed_and_the_cookie_issued_again(
    browser: FlaskClient, provider: FakeProvider, lead_id: str, fake: Any
) -> None:
    provider.access_lifetime = 20  # under the 30 s margin: due at once
    sign_in(browser, provider)
    first = browser.get_cookie(SESSION_COOKIE)
    assert first is not None

    response = browser.get(f"/v1/leads/{lead_id}")

    assert response.status_code == 200
    assert provider.grants == ["authorization_code", "refresh_token"]
    assert SESSION_COOKIE in set_cookies(response)
    renewed = browser.get_cookie(SESSION_COOKIE)
    assert renewed is not None and renewed.value != first.value
    # The refreshed token is what the service got, and the next request refreshes again from it.
    browser.get(f"/v1/leads/{lead_id}")
    assert provider.grants == ["authorization_code", "refresh_token", "refresh_token"]
    tokens = [call[2]["authorization"] for call in fake.calls if call[0] == "GetLead"]
    assert len(set(tokens)) == 2


def test_a_fresh_access_token_is_not_refreshed(
    browser: FlaskClient, provider: FakeProvider, lead_id: str
) -> None:
    sign_in(browser, provider)

    response = browser.get(f"/v1/leads/{lead_id}")

    assert response.status_code == 200
    assert provider.grants == ["authorization_code"]
    assert "Set-Cookie" not in response.headers


def test_a_refused_refresh_ends_the_session_with_401(browser: FlaskClient, provider: FakeProvider) -> None:
    provider.access_lifetime = 20
    sign_in(browser, provider)
    provider.refuse_refresh = True

    response = browser.get("/v1/leads/anything")

    assert response.status_code == 401
    assert "sign in again" in response.get_json()["detail"].lower()
    assert browser.get_cookie(SESSION_COOKIE) is None
    assert browser.get("/auth/session").status_code == 401


# -- logout ----------------------------------------------------------------------------------------


def test_logout_without_the_csrf_token_is_403_and_keeps_the_session(
    browser: FlaskClient, provider: FakeProvider
) -> None:
    sign_in(browser, provider)

    response = browser.post("/auth/logout", data={})

    assert response.status_code == 403
    assert response.get_json()["type"].endswith("/csrf-failed")
    assert session_json(browser)["subject"] == "alice"


def test_logout_clears_the_session_revokes_its_refresh_token_and_ends_it_at_the_provider(
    browser: FlaskClient, provider: FakeProvider
) -> None:
    sign_in(browser, provider)
    csrf = session_json(browser)["csrf_token"]

    # As Chromium sends the page's form: its Origin is null under Referrer-Policy: no-referrer.
    response = browser.post(
        "/auth/logout", data={"csrf_token": csrf}, headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    )

    assert response.status_code == 303
    target = urllib.parse.urlsplit(response.headers["Location"])
    assert (
        f"{target.scheme}://{target.netloc}{target.path}"
        == f"{provider.issuer}/protocol/openid-connect/logout"
    )
    query = dict(urllib.parse.parse_qsl(target.query))
    assert query["client_id"] == CLIENT_ID
    assert query["post_logout_redirect_uri"] == f"{PUBLIC_URL}/"
    assert jwt.decode(query["id_token_hint"], options={"verify_signature": False})["aud"] == CLIENT_ID
    assert len(provider.revoked) == 1
    assert browser.get_cookie(SESSION_COOKIE) is None
    assert browser.get("/auth/session").status_code == 401


def test_logout_without_a_session_just_goes_home(browser: FlaskClient) -> None:
    response = browser.post("/auth/logout")

    assert response.status_code == 303
    assert response.headers["Location"] == "/"


# -- the page --------------------------------------------------------------------------------------


def test_the_console_sends_a_stranger_to_sign_in_then_shows_who_is_signed_in_with_a_logout_form(
    browser: FlaskClient, provider: FakeProvider, fake: Any
) -> None:
    anonymous = browser.get("/")
    assert anonymous.status_code == 303
    assert anonymous.headers["Location"] == "/auth/login?next=/"

    sign_in(browser, provider)
    fake.reply("GetPeriodOfDate", settings_pb2.PeriodOfDate(quarter=settings_pb2.Period(period_id="2026-Q4")))
    page = browser.get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html
    assert "Signed in as Alice Tester" in html
    assert f'name="csrf_token" value="{session_json(browser)["csrf_token"]}"' in html
    # The console's sign-out posts to /sign-out, which hands the form on to the provider's logout.
    assert 'action="/sign-out"' in html
    handed_on = browser.post("/sign-out", data={"csrf_token": session_json(browser)["csrf_token"]})
    assert (handed_on.status_code, handed_on.headers["Location"]) == (307, "/auth/logout")
    # The logout's redirect goes to the provider: the page's policy allows that origin only.
    policy = page.headers["Content-Security-Policy"]
    provider_origin = provider.issuer.rsplit("/realms", 1)[0]
    assert f"form-action 'self' {provider_origin};" in policy
    assert "frame-ancestors 'none'" in policy


def test_the_page_escapes_what_the_provider_says(
    browser: FlaskClient, provider: FakeProvider, fake: Any
) -> None:
    sign_in(browser, provider, user="mallory")
    fake.reply("GetPeriodOfDate", settings_pb2.PeriodOfDate(quarter=settings_pb2.Period(period_id="2026-Q4")))

    html = browser.get("/").get_data(as_text=True)

    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# -- not configured --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/auth/login"),
        ("GET", "/auth/callback"),
        ("POST", "/auth/logout"),
        ("GET", "/auth/session"),
    ],
)
def test_without_a_client_id_the_login_routes_answer_404(client: FlaskClient, method: str, path: str) -> None:
    response = client.open(path, method=method)

    assert response.status_code == 404
    assert response.mimetype == PROBLEM
    assert response.get_json()["type"].endswith("/login-not-configured")


def test_without_a_client_id_a_session_cookie_means_nothing(client: FlaskClient) -> None:
    client.set_cookie(SESSION_COOKIE, "whatever")

    response = client.post("/v1/leads", json={"lead": {"last_name": "Lovelace"}})

    assert response.status_code == 401
