"""Authentication, request ids, and errors as problem+json (the gateway's own and the upstreams')."""

from __future__ import annotations

import time
from typing import Any

import jwt
from flask.testing import FlaskClient

PROBLEM = "application/problem+json"


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert set(body) >= {"type", "title", "status", "detail", "errors"}
    assert body["status"] == status
    return body


def test_a_v1_route_without_a_token_is_401_with_a_bearer_challenge(client: FlaskClient) -> None:
    response = client.get("/v1/sales-stages")

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_signed_with_another_secret_is_401(client: FlaskClient, make_token: Any) -> None:
    forged = make_token("alice", "admin", secret="not-the-gateway-secret-but-long-enough")

    response = client.get("/v1/sales-stages", headers={"Authorization": f"Bearer {forged}"})

    assert_problem(response, 401)


def test_an_expired_token_is_401(client: FlaskClient, secret: str) -> None:
    now = int(time.time())
    expired = jwt.encode(
        {"iss": "salesplane", "sub": "alice", "roles": ["rep"], "iat": now - 7200, "exp": now - 3600},
        secret,
        algorithm="HS256",
    )

    response = client.get("/v1/sales-stages", headers={"Authorization": f"Bearer {expired}"})

    assert "expired" in assert_problem(response, 401)["detail"]


def test_a_non_bearer_authorization_is_401(client: FlaskClient) -> None:
    response = client.get("/v1/sales-stages", headers={"Authorization": "Basic YWxpY2U6c2VjcmV0"})

    assert_problem(response, 401)


def test_the_callers_token_and_request_id_are_forwarded_to_the_service(
    client: FlaskClient, fake: Any, make_token: Any, lead_id: str
) -> None:
    token = make_token("alice", "rep")

    response = client.get(
        f"/v1/leads/{lead_id}", headers={"Authorization": f"Bearer {token}", "X-Request-Id": "req-123"}
    )

    assert response.status_code == 200
    assert response.headers["X-Request-Id"] == "req-123"
    _, _, metadata = fake.calls[-1]
    assert metadata["authorization"] == f"Bearer {token}"
    assert metadata["x-request-id"] == "req-123"


def test_a_request_id_is_made_when_absent_or_unusable(client: FlaskClient) -> None:
    generated = client.get("/healthz").headers["X-Request-Id"]
    replaced = client.get("/healthz", headers={"X-Request-Id": "bad id\twith spaces"}).headers["X-Request-Id"]

    assert len(generated) == 32
    assert replaced != "bad id\twith spaces" and len(replaced) == 32


def test_an_unknown_route_is_a_404_problem(client: FlaskClient) -> None:
    body = assert_problem(client.get("/v2/nothing"), 404)

    assert body["type"] == "about:blank"
    assert body["title"] == "Not Found"


def test_a_wrong_method_is_a_405_problem_with_allow(client: FlaskClient, bearer: Any) -> None:
    response = client.delete("/v1/sales-stages", headers=bearer())

    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_a_body_over_the_limit_is_a_413_problem(make_client: Any, bearer: Any) -> None:
    client = make_client(max_body_bytes=1024)

    response = client.post(
        "/v1/leads",
        data='{"company": "' + "x" * 2048 + '"}',
        content_type="application/json",
        headers=bearer(),
    )

    assert_problem(response, 413)


def test_an_unexpected_gateway_failure_is_a_500_problem_without_internals(
    make_client: Any, bearer: Any
) -> None:
    client = make_client()
    client.application.extensions["salesplane_gateway"].clients.close()  # every call now raises RuntimeError

    response = client.get("/v1/sales-stages", headers=bearer())

    body = assert_problem(response, 500)
    assert body["type"].endswith("/internal-error")
    assert "closed" not in response.get_data(as_text=True)


def test_an_internal_upstream_error_is_502_without_its_message(client: FlaskClient, bearer: Any) -> None:
    response = client.get("/v1/reports/internal", headers=bearer())

    body = assert_problem(response, 502)
    assert "hunter2" not in response.get_data(as_text=True)
    assert "sqlalchemy" not in response.get_data(as_text=True)
    assert body["type"].endswith("/upstream-error")


def test_an_unknown_upstream_error_is_502_without_its_traceback(client: FlaskClient, bearer: Any) -> None:
    response = client.get("/v1/reports/unknown", headers=bearer())

    assert_problem(response, 502)
    assert "Traceback" not in response.get_data(as_text=True)


def test_an_unavailable_upstream_is_503_without_its_address(client: FlaskClient, bearer: Any) -> None:
    response = client.get("/v1/reports/unavailable", headers=bearer())

    assert_problem(response, 503)
    assert "db-7" not in response.get_data(as_text=True)
    # Told when to come back, so clients back off instead of retrying at once.
    assert response.headers["Retry-After"] == "2"


def test_an_unreachable_upstream_is_503(make_client: Any, bearer: Any, free_target: str) -> None:
    client = make_client(reporting_target=free_target)

    response = client.get("/v1/reports", headers=bearer())
    assert_problem(response, 503)
    assert response.headers["Retry-After"] == "2"


def test_a_call_past_its_deadline_is_504(make_client: Any, bearer: Any) -> None:
    client = make_client(rpc_timeout_seconds=0.2)

    response = client.get("/v1/reports/slow", headers=bearer())
    assert_problem(response, 504)
    assert response.headers["Retry-After"] == "2"


def test_already_exists_is_409(client: FlaskClient, bearer: Any) -> None:
    assert_problem(client.get("/v1/reports/exists", headers=bearer()), 409)


def test_a_failed_precondition_is_422_with_its_reason(client: FlaskClient, bearer: Any) -> None:
    body = assert_problem(client.get("/v1/reports/precondition", headers=bearer()), 422)

    assert body["reason"] == "NOT_BUILT"
    assert body["detail"] == "the report is still being built"
