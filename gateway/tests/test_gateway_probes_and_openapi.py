"""Liveness, readiness and the OpenAPI document."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from grpc_health.v1 import health_pb2

from salesplane_gateway.app import create_app
from salesplane_gateway.clients import HEALTH_SERVICE_NAMES
from salesplane_gateway.config import GatewayConfig
from salesplane_gateway.openapi import openapi_document


def test_healthz_is_200_without_a_token_even_when_no_upstream_runs(free_target: str) -> None:
    config = GatewayConfig(
        auth_secret="x" * 32,
        leads_target=free_target,
        opportunities_target=free_target,
        forecasting_target=free_target,
        reporting_target=free_target,
    )
    app = create_app(config)

    response = app.test_client().get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    app.extensions["salesplane_gateway"].clients.close()


def test_readyz_is_200_when_every_upstream_serves(make_client: Any, fake_server: Any) -> None:
    target = fake_server[0]
    client = make_client(opportunities_target=target)

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ready",
        "upstreams": {name: "SERVING" for name in ("leads", "opportunities", "forecasting", "reporting")},
    }


def test_readyz_asks_the_real_service_about_its_own_api(client: FlaskClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.get_json()["upstreams"]["opportunities"] == "SERVING"


def test_readyz_is_503_naming_an_upstream_that_is_down(make_client: Any, free_target: str) -> None:
    client = make_client(opportunities_target=free_target)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["errors"] == [{"field": "opportunities", "description": "health check answered UNAVAILABLE"}]
    assert body["upstreams"]["opportunities"] == "UNAVAILABLE"
    assert body["upstreams"]["leads"] == "SERVING"


def test_readyz_is_503_when_an_upstream_reports_not_serving(make_client: Any, fake_server: Any) -> None:
    _, _, health_servicer = fake_server
    client = make_client()
    health_servicer.set(HEALTH_SERVICE_NAMES["reporting"], health_pb2.HealthCheckResponse.NOT_SERVING)
    try:
        response = client.get("/readyz")
    finally:
        health_servicer.set(HEALTH_SERVICE_NAMES["reporting"], health_pb2.HealthCheckResponse.SERVING)

    assert response.status_code == 503
    assert response.get_json()["upstreams"]["reporting"] == "NOT_SERVING"


def test_the_openapi_document_is_valid_openapi_3_1(client: FlaskClient) -> None:
    import openapi_spec_validator

    response = client.get("/openapi.json")

    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    openapi_spec_validator.validate(document)


def test_the_openapi_document_describes_every_route_and_method(client: FlaskClient) -> None:
    document = openapi_document()
    app = client.application

    described = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    served = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"}
    }
    assert described == served


def test_every_v1_operation_requires_the_bearer_scheme_and_documents_401(client: FlaskClient) -> None:
    document = openapi_document()

    assert document["security"] == [{"bearerAuth": []}]
    assert document["components"]["securitySchemes"]["bearerAuth"]["bearerFormat"] == "JWT"
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            if path.startswith("/v1/"):
                assert "security" not in operation, (path, method)
                assert {"400", "401", "403", "502", "503", "504"} <= set(operation["responses"]), (
                    path,
                    method,
                )
            else:
                assert operation["security"] == [], (path, method)


def test_every_schema_reference_resolves(client: FlaskClient) -> None:
    document = openapi_document()
    references: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                references.add(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    for reference in references:
        kind, name = reference.removeprefix("#/components/").split("/")
        assert name in document["components"][kind], reference
