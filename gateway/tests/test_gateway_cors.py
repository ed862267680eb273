"""CORS: off by default; on, only listed origins get a grant."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from salesplane_platform.errors import ConfigurationError

API = "/v1/sales-stages"
APP = "https://app.example.com"
PREFLIGHT = {
    "Origin": APP,
    "Access-Control-Request-Method": "PUT",
    "Access-Control-Request-Headers": "authorization, content-type, if-match",
}


def cors_headers(response: Any) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


def test_by_default_no_answer_carries_a_cors_header(client: FlaskClient, bearer: Any) -> None:
    answers = [
        client.get(API, headers={**bearer(), "Origin": APP}),
        client.get(API, headers={"Origin": APP}),
        client.get("/healthz", headers={"Origin": APP}),
    ]

    assert [cors_headers(a) for a in answers] == [{}, {}, {}]
    assert "Origin" not in answers[0].headers.get("Vary", "")


def test_by_default_a_preflight_gets_no_grant(client: FlaskClient, fake: Any) -> None:
    response = client.options(API, headers=PREFLIGHT)

    assert cors_headers(response) == {}
    assert response.status_code >= 400
    assert fake.calls == []


@pytest.fixture
def cors_client(make_client: Any) -> FlaskClient:
    client: FlaskClient = make_client(cors_origins=(APP, "http://localhost:3000"))
    return client


def test_an_allowed_origins_preflight_is_granted_without_authentication(
    cors_client: FlaskClient, fake: Any
) -> None:
    response = cors_client.options(API, headers=PREFLIGHT)

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert "Origin" in response.headers["Vary"]
    allowed_headers = {h.strip() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed_headers == {"Authorization", "Content-Type", "If-Match", "X-Request-Id", "X-CSRF-Token"}
    assert {"GET", "POST", "PUT", "PATCH", "DELETE"} <= {
        m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")
    }
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert fake.calls == []


def test_an_allowed_origin_may_read_answers_and_errors(cors_client: FlaskClient, bearer: Any) -> None:
    ok = cors_client.get(API, headers={**bearer(), "Origin": APP})
    refused = cors_client.get(API, headers={"Origin": "http://localhost:3000"})

    assert ok.status_code == 200 and ok.headers["Access-Control-Allow-Origin"] == APP
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    for answer in (ok, refused):
        assert "Origin" in answer.headers["Vary"]
        assert "ETag" in answer.headers["Access-Control-Expose-Headers"]
        assert "Access-Control-Allow-Credentials" not in answer.headers


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example.com", "https://app.example.com.evil.test", "http://app.example.com", "null"],
)
def test_another_origin_gets_no_grant(cors_client: FlaskClient, bearer: Any, origin: str) -> None:
    answer = cors_client.get(API, headers={**bearer(), "Origin": origin})
    preflight = cors_client.options(API, headers={**PREFLIGHT, "Origin": origin})

    assert answer.status_code == 200
    assert cors_headers(answer) == {}
    assert "Origin" in answer.headers["Vary"]  # a cache must not hand APP's grant to this origin
    assert cors_headers(preflight) == {} and preflight.status_code != 204


def test_credentials_are_allowed_only_when_configured(make_client: Any, bearer: Any) -> None:
    client = make_client(cors_origins=(APP,), cors_allow_credentials=True)

    assert client.options(API, headers=PREFLIGHT).headers["Access-Control-Allow-Credentials"] == "true"
    answer = client.get(API, headers={**bearer(), "Origin": APP})
    assert answer.headers["Access-Control-Allow-Credentials"] == "true"


def test_any_origin_is_echoed_but_never_null(make_client: Any, bearer: Any) -> None:
    client = make_client(cors_origins=("*",))

    granted = client.get(API, headers={**bearer(), "Origin": "https://anyone.example.org"})
    sandboxed = client.get(API, headers={**bearer(), "Origin": "null"})

    assert granted.headers["Access-Control-Allow-Origin"] == "https://anyone.example.org"
    assert cors_headers(sandboxed) == {}


def test_credentials_for_any_origin_are_refused(make_client: Any) -> None:
    with pytest.raises(ConfigurationError):
        make_client(cors_origins=("*",), cors_allow_credentials=True)
