"""Liveness, readiness and the OpenAPI document (generated from the route table)."""

from __future__ import annotations

from typing import Any

import openapi_spec_validator
import pytest
from flask.testing import FlaskClient
from grpc_health.v1 import health_pb2

from salesplane_gateway.app import create_app
from salesplane_gateway.clients import HEALTH_SERVICE_NAMES
from salesplane_gateway.config import UPSTREAMS, GatewayConfig
from salesplane_gateway.field_rules import UUID
from salesplane_gateway.openapi import openapi_document
from salesplane_gateway.path_shadows import route_label
from salesplane_gateway.route_table import ROUTES
from salesplane_platform.money import MAX_AMOUNT_MINOR

HTTP_METHODS = {"get", "put", "post", "patch", "delete"}


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


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


def test_readyz_is_200_when_every_upstream_serves(client: FlaskClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "upstreams": {name: "SERVING" for name in UPSTREAMS}}


def test_readyz_is_503_naming_an_upstream_that_is_down(make_client: Any, free_target: str) -> None:
    client = make_client(opportunities_target=free_target)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["errors"] == [{"field": "opportunities", "description": "health check answered UNAVAILABLE"}]
    assert body["upstreams"]["opportunities"] == "UNAVAILABLE"
    assert body["upstreams"]["leads"] == "SERVING"


@pytest.mark.parametrize("upstream", ["reporting", "org"])
def test_readyz_is_503_when_an_upstream_reports_its_service_not_serving(
    make_client: Any, fake_server: Any, upstream: str
) -> None:
    _, _, health_servicer = fake_server
    client = make_client()
    health_servicer.set(HEALTH_SERVICE_NAMES[upstream], health_pb2.HealthCheckResponse.NOT_SERVING)
    try:
        response = client.get("/readyz")
    finally:
        health_servicer.set(HEALTH_SERVICE_NAMES[upstream], health_pb2.HealthCheckResponse.SERVING)

    assert response.status_code == 503
    assert response.get_json()["upstreams"][upstream] == "NOT_SERVING"


def test_the_openapi_document_is_valid_openapi_3_1(client: FlaskClient) -> None:
    response = client.get("/openapi.json")

    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    assert document == openapi_document()
    openapi_spec_validator.validate(document)


def test_the_openapi_document_describes_every_route_and_method(client: FlaskClient) -> None:
    document = openapi_document()
    app = client.application

    described = {(path, method) for path, method, _ in operations(document)}
    served = {
        (route_label(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        # The console's pages are HTML for browsers, not part of the API contract.
        if method not in {"HEAD", "OPTIONS"} and not rule.endpoint.startswith("console.")
    }
    assert described == served


def test_every_operation_has_a_unique_id_and_a_summary() -> None:
    found = operations(openapi_document())

    ids = [operation["operationId"] for _, _, operation in found]
    assert len(ids) == len(set(ids))
    assert all(operation["summary"] for _, _, operation in found)


def test_every_v1_operation_requires_the_bearer_scheme_and_documents_its_problems() -> None:
    document = openapi_document()

    assert document["security"] == [{"bearerAuth": []}]
    assert document["components"]["securitySchemes"]["bearerAuth"]["bearerFormat"] == "JWT"
    for path, method, operation in operations(document):
        if path.startswith("/v1/"):
            assert "security" not in operation, (path, method)
            assert {"400", "401", "403", "500", "502", "503", "504"} <= set(operation["responses"]), (
                path,
                method,
            )
            if "{" in path:
                assert "404" in operation["responses"], (path, method)
            if "requestBody" in operation:
                assert {"413", "415"} <= set(operation["responses"]), (path, method)
        else:
            assert operation["security"] == [], (path, method)


def test_operations_describe_their_parameters_bodies_and_headers() -> None:
    paths = openapi_document()["paths"]

    def parameter(operation: dict[str, Any], name: str) -> dict[str, Any]:
        return next(p for p in operation["parameters"] if p.get("name") == name)

    listing = paths["/v1/opportunities"]["get"]
    assert parameter(listing, "sales_stage")["schema"] == {"type": "array", "items": {"type": "string"}}
    assert parameter(listing, "status")["schema"]["items"] == {
        "$ref": "#/components/schemas/OpportunityStatus"
    }
    assert parameter(listing, "amount_base_min")["schema"] == {
        "type": "integer",
        "format": "int64",
        "minimum": 0,
        "maximum": MAX_AMOUNT_MINOR,
    }
    assert parameter(listing, "close_date_from")["schema"] == {"$ref": "#/components/schemas/Date"}
    assert parameter(paths["/v1/rollups/{user_id}"]["get"], "period")["required"] is True
    assert parameter(paths["/v1/reports/{report_id}"]["get"], "format")["schema"]["enum"] == ["json", "csv"]

    close = paths["/v1/opportunities/{opportunity_id}:close"]["post"]
    assert parameter(close, "opportunity_id") == {
        "name": "opportunity_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", **UUID},
    }
    assert {"$ref": "#/components/parameters/IfMatch"} in close["parameters"]
    assert close["description"] == "Close as won or lost; a reason is required for lost."
    assert "ETag" in close["responses"]["200"]["headers"]

    create = paths["/v1/opportunities"]["post"]
    assert set(create["responses"]["201"]["headers"]) == {"X-Request-Id", "ETag", "Location"}
    patch = paths["/v1/opportunities/{opportunity_id}"]["patch"]
    assert set(patch["requestBody"]["content"]) == {"application/json", "application/merge-patch+json"}
    delete = paths["/v1/opportunities/{opportunity_id}"]["delete"]
    assert "content" not in delete["responses"]["204"]
    imported = paths["/v1/leads:import"]["post"]
    assert set(imported["requestBody"]["content"]) == {"text/csv"}
    create_lead = paths["/v1/leads"]["post"]["responses"]
    assert {"200", "201", "409"} <= set(create_lead)
    assert create_lead["409"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/DuplicateLeadProblem"
    }


def test_message_schemas_follow_the_json_conventions() -> None:
    schemas = openapi_document()["components"]["schemas"]

    opportunity = schemas["Opportunity"]
    assert set(opportunity["required"]) == set(opportunity["properties"])
    assert opportunity["properties"]["version"]["format"] == "int64"
    assert opportunity["properties"]["version"]["type"] == "integer"
    assert opportunity["properties"]["amount"]["anyOf"] == [
        {"$ref": "#/components/schemas/Money"},
        {"type": "null"},
    ]
    assert opportunity["properties"]["probability"]["description"] == "Percent, 0..100."
    assert schemas["Money"]["properties"]["amount_minor"] == {"type": "integer", "format": "int64"}
    assert schemas["Date"]["format"] == "date"
    assert schemas["Timestamp"]["format"] == "date-time"
    assert schemas["LeadStatus"]["enum"] == ["new", "assigned", "in_process", "converted", "recycled", "dead"]
    assert schemas["CreateOpportunityRequest"]["additionalProperties"] is False
    assert "opportunity_id" not in schemas["CloseOpportunityRequest"]["properties"]  # from the path
    assert schemas["OpportunityPatch"]["properties"]["amount"]["properties"].keys() == {
        "amount_minor",
        "currency_code",
    }
    assert "status" not in schemas["OpportunityPatch"]["properties"]


def test_every_schema_reference_resolves() -> None:
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


def test_the_document_is_built_from_the_served_route_table() -> None:
    document = openapi_document()

    assert {route.operation_id for route in ROUTES} <= {
        op["operationId"] for _, _, op in operations(document)
    }
