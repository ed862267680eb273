"""The gateway's spans: an HTTP server span per request, named by its route template and continuing
the caller's traceparent, the parent of a gRPC client span whose context reaches the upstream in
its metadata. Probes are not traced."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from salesplane_testing.span_capture import captured_spans

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
DEAL = {
    "name": "Acme renewal",
    "amount": {"currency_code": "EUR", "amount_minor": 100000},
    "expected_close_date": "2026-12-31",
    "sales_stage": "Prospecting",
}


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    with captured_spans() as exporter:
        yield exporter


@pytest.fixture
def traced(spans: InMemorySpanExporter, make_client: Any) -> FlaskClient:
    # Made after the provider is installed: the instrumentation takes its tracer when the app is built.
    return make_client()


def test_a_request_is_a_server_span_by_route_whose_grpc_call_carries_its_context_upstream(
    traced: FlaskClient, spans: InMemorySpanExporter, bearer: Any, fake: Any
) -> None:
    response = traced.post(
        "/v1/opportunities",
        json=DEAL,
        headers={**bearer("alice"), "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"},
    )
    assert response.status_code == 201

    (server,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    (client,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert server.name == "POST /v1/opportunities"
    assert trace.format_trace_id(server.context.trace_id) == CALLER_TRACE
    assert server.parent is not None and trace.format_span_id(server.parent.span_id) == CALLER_SPAN
    assert client.name == "/salesplane.opportunities.v1.OpportunityService/CreateOpportunity"
    assert client.parent is not None and client.parent.span_id == server.context.span_id
    metadata = [m for name, _, m in fake.calls if name == "CreateOpportunity"][-1]
    assert metadata["traceparent"] == (f"00-{CALLER_TRACE}-{trace.format_span_id(client.context.span_id)}-01")


def test_span_names_use_the_route_template_never_the_path_sent(
    traced: FlaskClient, spans: InMemorySpanExporter, bearer: Any, opportunity_id: str
) -> None:
    assert traced.get(f"/v1/opportunities/{opportunity_id}", headers=bearer()).status_code == 200
    # Refused at the edge (no token): the request still has its span.
    assert traced.get(f"/v1/opportunities/{opportunity_id}").status_code == 401

    served = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert [s.name for s in served] == ["GET /v1/opportunities/{opportunity_id}"] * 2
    assert {(s.attributes or {})["http.route"] for s in served} == {
        "/v1/opportunities/<segment:opportunity_id>"
    }
    assert not [s for s in served if opportunity_id in s.name]


def test_probes_are_not_traced(traced: FlaskClient, spans: InMemorySpanExporter) -> None:
    assert traced.get("/healthz").status_code == 200
    assert traced.get("/readyz").status_code == 200
    assert traced.get("/healthz?verbose=1").status_code == 200

    assert spans.get_finished_spans() == ()
