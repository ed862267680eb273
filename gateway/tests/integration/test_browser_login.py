"""The browser login against the real provider, as a person uses it: headless Chromium (Debian's,
driven by Playwright) signs alice in at Keycloak through the gateway, which runs in this process
over HTTP on loopback with its production settings (Secure `__Host-` cookies, no development
tokens) and the fake upstream services of gateway/tests/conftest.py.

Checked: the signed-in page, the cookie's attributes, /auth/session, a session-authenticated POST
refused without the CSRF token and served with it (with Keycloak's access token relayed), the
refresh at Keycloak, a replayed authorization code refused, and the logout ending the session at
Keycloak too (the next sign-in asks for the password again, and a copy of the old cookie can no
longer be renewed). A screenshot of the signed-in page is saved to the test's tmp_path."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page
from werkzeug.serving import make_server

from salesplane.forecasting.v1 import settings_pb2
from salesplane_gateway.app import create_app
from salesplane_gateway.clients import ServiceClients
from salesplane_gateway.config import GatewayConfig
from salesplane_gateway.login_settings import BrowserLoginSettings
from salesplane_platform.oidc import OidcSettings, OidcTokenVerifier
from salesplane_testing.keycloak_server import AUDIENCE, CONSOLE_CLIENT, CONSOLE_SECRET, KeycloakServer

pytestmark = pytest.mark.integration

SESSION_PREFIX = "__Host-salesplane-session."
LOGIN_COOKIE = "__Host-salesplane-login"


@dataclasses.dataclass
class RunningGateway:
    base_url: str
    app: Flask
    config: GatewayConfig


@pytest.fixture
def gateway(
    keycloak: KeycloakServer, fake_server: tuple[str, Any, Any], fake: Any
) -> Iterator[RunningGateway]:
    """The gateway on a free loopback port, configured as in production for Keycloak's realm."""
    holder: dict[str, Flask] = {}
    server = make_server("127.0.0.1", 0, lambda environ, start: holder["app"](environ, start), threaded=True)
    base_url = f"http://127.0.0.1:{server.server_port}"
    upstream = fake_server[0]
    config = GatewayConfig(
        auth_secret="",  # production: only the provider's tokens
        oidc=OidcSettings(issuer=keycloak.issuer, audience=AUDIENCE),
        browser_login=BrowserLoginSettings(
            client_id=CONSOLE_CLIENT,
            client_secret=CONSOLE_SECRET,
            public_url=base_url,
            session_keys=(os.urandom(32),),
        ),
        leads_target=upstream,
        opportunities_target=upstream,
        forecasting_target=upstream,
        reporting_target=upstream,
    )
    clients = ServiceClients(config.targets)
    holder["app"] = create_app(config, clients)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield RunningGateway(base_url, holder["app"], config)
    finally:
        server.shutdown()
        server.server_close()
        clients.close()


def sign_in_at_keycloak(page: Page, keycloak: KeycloakServer, user: str) -> None:
    page.wait_for_url(f"{keycloak.issuer}/**")
    page.fill("#username", user)
    page.fill("#password", f"{user}-password")
    page.click("#kc-login")


def fetch(
    page: Page, path: str, *, method: str = "GET", body: Any = None, csrf: str | None = None
) -> tuple[int, Any]:
    """A same-origin fetch by the page's own script context: the browser adds the cookie, Origin
    and Sec-Fetch-Site as it would for the console."""
    answer: list[Any] = page.evaluate(
        """async ([path, method, body, csrf]) => {
            const headers = {};
            if (body !== null) headers["Content-Type"] = "application/json";
            if (csrf !== null) headers["X-CSRF-Token"] = csrf;
            const response = await fetch(path, {
                method, headers, body: body === null ? undefined : JSON.stringify(body),
            });
            const text = await response.text();
            return [response.status, text ? JSON.parse(text) : null];
        }""",
        [path, method, body, csrf],
    )
    return int(answer[0]), answer[1]


def replayed(gateway: RunningGateway, cookies: dict[str, str], *, refresh_always: bool) -> Any:
    """A Flask test client of a second gateway with the same session key, sending `cookies`. With
    `refresh_always` every request renews the access token at the provider first."""
    settings = gateway.config.browser_login
    assert settings is not None
    margin = 3600.0 if refresh_always else settings.refresh_margin_seconds
    config = dataclasses.replace(
        gateway.config, browser_login=dataclasses.replace(settings, refresh_margin_seconds=margin)
    )
    client = create_app(config).test_client()  # its upstream channels open on first use: never here
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client


def test_alice_signs_in_at_keycloak_uses_the_api_with_her_session_and_signs_out(
    browser: Browser, keycloak: KeycloakServer, gateway: RunningGateway, fake: Any, tmp_path: Any
) -> None:
    started = time.monotonic()
    base = gateway.base_url
    context = browser.new_context()
    try:
        page = context.new_page()
        # The console's home: a stranger goes straight to the provider's sign-in, and back.
        this_quarter = settings_pb2.PeriodOfDate(quarter=settings_pb2.Period(period_id="2026-Q4"))
        fake.reply("GetPeriodOfDate", this_quarter)
        page.goto(f"{base}/")
        page.wait_for_url(f"{keycloak.issuer}/**")
        sign_in_at_keycloak(page, keycloak, "alice")
        page.wait_for_url(f"{base}/")
        assert "Signed in as Alice Tester" in page.inner_text("header")
        assert "My forecast" in page.inner_text("main")
        page.screenshot(path=str(tmp_path / "signed-in.png"), full_page=True)

        jar = {cookie["name"]: cookie for cookie in context.cookies(base)}
        chunks = sorted(name for name in jar if name.startswith(SESSION_PREFIX))
        assert chunks and chunks[0] == f"{SESSION_PREFIX}0"
        for name in chunks:
            cookie = jar[name]
            assert cookie["httpOnly"] is True, name
            assert cookie["sameSite"] == "Lax", name
            assert cookie["secure"] is True, name
            assert cookie["path"] == "/" and cookie["domain"] == "127.0.0.1", name
            assert 8 * 3600 - 120 < cookie["expires"] - time.time() <= 8 * 3600, name
        assert LOGIN_COOKIE not in jar  # the login in progress is used up
        # HttpOnly: the page's scripts cannot see the session.
        assert "salesplane-session" not in page.evaluate("document.cookie")

        status, session = fetch(page, "/auth/session")
        assert status == 200
        assert (session["subject"], session["email"], session["name"]) == (
            "alice",
            "alice@example.test",
            "Alice Tester",
        )

        lead = {"lead": {"last_name": "Lovelace"}}
        status, problem = fetch(page, "/v1/leads", method="POST", body=lead)
        assert status == 403
        assert problem["type"] == "https://salesplane.dev/problems/csrf-failed"
        assert fake.requests("CreateLead") == []

        status, created = fetch(page, "/v1/leads", method="POST", body=lead, csrf=session["csrf_token"])
        assert status == 201, created
        [(_, _, metadata)] = [call for call in fake.calls if call[0] == "CreateLead"]
        relayed = metadata["authorization"].removeprefix("Bearer ")
        verified = OidcTokenVerifier(OidcSettings(issuer=keycloak.issuer, audience=AUDIENCE)).verify(relayed)
        assert verified.subject == "alice"  # Keycloak's own access token, as for a bearer caller

        # A copy of the cookie renews at Keycloak while the session lives there.
        copied = {name: jar[name]["value"] for name in chunks}
        renewing = replayed(gateway, copied, refresh_always=True)
        renewed = renewing.get("/auth/session")
        assert renewed.status_code == 200, renewed.get_data(as_text=True)
        assert renewed.get_json()["subject"] == "alice"
        assert any(header.startswith(SESSION_PREFIX) for header in renewed.headers.getlist("Set-Cookie"))

        page.click("text=Sign out")
        # Out at the provider too, so the console's home sends the browser to sign in again.
        page.wait_for_url(f"{keycloak.issuer}/**")
        assert not [c for c in context.cookies(base) if c["name"].startswith(SESSION_PREFIX)]
        page.goto(f"{base}/docs")  # a page of the gateway's origin again, for its fetch
        status, _ = fetch(page, "/auth/session")
        assert status == 401

        # The session ended at Keycloak too: signing in asks for the password again...
        page.goto(f"{base}/auth/login")
        page.wait_for_url(f"{keycloak.issuer}/**")
        assert page.locator("#password").is_visible()
        # ...and the copied cookie can no longer be renewed there.
        ended = replayed(gateway, copied, refresh_always=True).get("/auth/session")
        assert ended.status_code == 401
    finally:
        context.close()
    print(f"browser sign-in and sign-out against Keycloak took {time.monotonic() - started:.1f} s")


def test_a_replayed_authorization_code_is_refused(
    browser: Browser, keycloak: KeycloakServer, gateway: RunningGateway
) -> None:
    base = gateway.base_url
    context = browser.new_context()
    try:
        page = context.new_page()
        callbacks: list[str] = []
        page.on("request", lambda request: _remember_callback(request.url, base, callbacks.append))
        page.goto(f"{base}/auth/login?next=/auth/session")
        page.wait_for_url(f"{keycloak.issuer}/**")
        [pending] = [c["value"] for c in context.cookies(base) if c["name"] == LOGIN_COOKIE]
        sign_in_at_keycloak(page, keycloak, "bob")
        page.wait_for_url(f"{base}/auth/session")
        assert '"subject":"bob"' in page.content().replace(" ", "")
        [callback] = callbacks

        # The same answer again, with the same login in progress: Keycloak refuses a used code.
        request = urllib.request.Request(callback, headers={"Cookie": f"{LOGIN_COOKIE}={pending}"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 400
        assert "invalid_grant" in refused.value.read().decode()
    finally:
        context.close()


def _remember_callback(url: str, base: str, remember: Callable[[str], None]) -> None:
    if url.startswith(f"{base}/auth/callback"):
        remember(url)
