"""The browsable API documentation as a person uses it: headless Chromium opens /docs on a gateway
served over HTTP on loopback (the fake upstreams of gateway/tests/conftest.py behind it), with every
request to another host refused, as on a machine without internet.

Checked: Swagger UI renders every operation of the served document, the page runs under its
Content-Security-Policy with no error in the console, nothing is fetched from anywhere else, and
"Try it out" calls the gateway (GET /healthz) and shows its answer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, ConsoleMessage, Route
from werkzeug.serving import make_server

from salesplane_gateway.app import create_app
from salesplane_gateway.clients import ServiceClients
from salesplane_gateway.config import GatewayConfig
from salesplane_gateway.openapi import openapi_document

pytestmark = pytest.mark.integration


@pytest.fixture
def base_url(fake_server: tuple[str, Any, Any]) -> Iterator[str]:
    holder: dict[str, Flask] = {}
    server = make_server("127.0.0.1", 0, lambda environ, start: holder["app"](environ, start), threaded=True)
    upstream = fake_server[0]
    config = GatewayConfig(
        auth_secret="a-secret-of-the-tests-only",
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
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        clients.close()


def test_swagger_ui_renders_every_operation_offline_and_tries_one(browser: Browser, base_url: str) -> None:
    operations = sum(
        1
        for item in openapi_document()["paths"].values()
        for method in item
        if method in {"get", "put", "post", "patch", "delete"}
    )
    context = browser.new_context()
    elsewhere: list[str] = []
    problems: list[str] = []

    def only_the_gateway(route: Route) -> None:
        if route.request.url.startswith(base_url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    def on_console(message: ConsoleMessage) -> None:
        # /auth/session answers 404 here (no browser login configured), which Chromium logs.
        if message.type == "error" and not message.location.get("url", "").endswith("/auth/session"):
            problems.append(message.text)

    try:
        context.route("**/*", only_the_gateway)
        page = context.new_page()
        page.on("console", on_console)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(f"{base_url}/docs")
        page.wait_for_selector(".opblock", timeout=30_000)

        assert page.locator(".opblock").count() == operations
        assert page.locator(".info .title").inner_text().startswith("Salesplane API")

        healthz = page.locator("#operations-probes-healthz")
        healthz.locator(".opblock-summary").click()
        healthz.get_by_role("button", name="Try it out").click()
        healthz.get_by_role("button", name="Execute").click()
        status = healthz.locator(".live-responses-table tbody .response-col_status").first
        status.wait_for(timeout=10_000)
        assert status.inner_text().strip() == "200"
    finally:
        context.close()

    assert not elsewhere, f"the page fetched from elsewhere: {elsewhere}"
    assert not problems, f"console errors: {problems}"
