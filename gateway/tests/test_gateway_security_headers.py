"""Security headers on every answer, and HSTS only over TLS."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Response
from flask.testing import FlaskClient

from salesplane_gateway.security_headers import HSTS, HTML_POLICY, JSON_POLICY

API = "/v1/sales-stages"
EVERYWHERE = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# environ_base cannot set the scheme: the test client fills wsgi.url_scheme in from base_url after it.
OVER_TLS = {"environ_overrides": {"wsgi.url_scheme": "https"}}


def assert_hardened(response: Any) -> None:
    for name, value in EVERYWHERE.items():
        assert response.headers.get(name) == value, name
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_an_api_answer_is_hardened_and_not_stored(client: FlaskClient, bearer: Any) -> None:
    response = client.get(API, headers=bearer())

    assert response.status_code == 200
    assert_hardened(response)
    assert response.headers["Content-Security-Policy"] == JSON_POLICY
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP


@pytest.mark.parametrize(("path", "status"), [("/no/such/route", 404), (API, 401), ("/healthz", 200)])
def test_errors_and_probes_are_hardened_too(client: FlaskClient, path: str, status: int) -> None:
    response = client.get(path)

    assert response.status_code == status
    assert_hardened(response)
    assert response.headers["Content-Security-Policy"] == JSON_POLICY
    assert response.headers["Cache-Control"] == "no-store"


def test_the_public_contract_may_be_cached(client: FlaskClient) -> None:
    response = client.get("/openapi.json")

    assert_hardened(response)
    assert "Cache-Control" not in response.headers


def test_an_html_page_gets_the_strict_same_origin_policy(make_client: Any) -> None:
    client = make_client()
    client.application.add_url_rule(
        "/page", "page", lambda: Response("<p>Hello</p>", mimetype="text/html"), methods=["GET"]
    )

    response = client.get("/page")

    assert_hardened(response)
    assert response.headers["Content-Security-Policy"] == HTML_POLICY
    for directive in ("default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'none'"):
        assert directive in HTML_POLICY


def test_a_view_keeps_the_headers_it_set_itself(make_client: Any) -> None:
    client = make_client()

    def page() -> Response:
        response = Response("<p>Hello</p>", mimetype="text/html")
        response.headers["Content-Security-Policy"] = "default-src 'self'; script-src 'nonce-abc'"
        response.headers["Cache-Control"] = "private, max-age=60"
        return response

    client.application.add_url_rule("/page", "page", page, methods=["GET"])

    response = client.get("/page")

    assert response.headers["Content-Security-Policy"] == "default-src 'self'; script-src 'nonce-abc'"
    assert response.headers["Cache-Control"] == "private, max-age=60"


def test_hsts_is_sent_over_tls(client: FlaskClient, bearer: Any) -> None:
    for response in (client.get(API, headers=bearer(), **OVER_TLS), client.get("/nope", **OVER_TLS)):
        assert response.headers["Strict-Transport-Security"] == HSTS == "max-age=31536000; includeSubDomains"


def test_hsts_follows_x_forwarded_proto_from_a_trusted_proxy(make_client: Any) -> None:
    proxied = make_client(trusted_proxies=1)

    assert (
        proxied.get("/healthz", headers={"X-Forwarded-Proto": "https"}).headers.get(
            "Strict-Transport-Security"
        )
        == HSTS
    )
    assert (
        "Strict-Transport-Security"
        not in proxied.get("/healthz", headers={"X-Forwarded-Proto": "http"}).headers
    )
    assert "Strict-Transport-Security" not in proxied.get("/healthz").headers


def test_x_forwarded_proto_is_ignored_without_trusted_proxies(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"X-Forwarded-Proto": "https"})

    assert "Strict-Transport-Security" not in response.headers
