"""One trace from the HTTP request to the consumer's transaction, over real Kafka and PostgreSQL: a
deal created through the gateway shows, in the trace its caller started, the gateway's HTTP and
gRPC spans, the opportunities service's RPC, the relay's publish and forecasting's processing of
the event, each the child of the one before. Every process exports OTLP/HTTP to a collector the
test runs."""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from salesplane_platform import topics
from salesplane_platform.identity import issue_token
from salesplane_testing.otlp_collector import CollectedSpan, OtlpCollector, running_collector
from tests.e2e.conftest import SECRET

pytestmark = pytest.mark.e2e

CREATE = "/salesplane.opportunities.v1.OpportunityService/CreateOpportunity"


@pytest.fixture
def collector() -> Iterator[OtlpCollector]:
    with running_collector() as running:
        yield running


def exporting_to(collector: OtlpCollector) -> dict[str, str]:
    # Batches leave every 100 ms instead of every 5 s, so the spans arrive while the test waits.
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}


def call(method: str, url: str, token: str, body: dict, traceparent: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "traceparent": traceparent,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def new_trace() -> tuple[str, str, str]:
    """A caller's sampled W3C traceparent, its trace id and its span id."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def test_one_trace_runs_from_the_http_request_through_grpc_and_kafka_to_the_consumers_transaction(
    services, gateway, collector, topic_prefix
):
    opportunities = services("opportunities", exporting_to(collector))
    forecasting = services("forecasting", exporting_to(collector))
    base = gateway(
        {
            "SALESPLANE_OPPORTUNITIES_TARGET": opportunities.target,
            "SALESPLANE_FORECASTING_TARGET": forecasting.target,
            **exporting_to(collector),
        }
    )
    admin, alice = issue_token(SECRET, "root", ["admin"]), issue_token(SECRET, "alice", ["rep"])
    user = {"display_name": "Alice", "roles": ["rep"], "active": True}
    assert call("PUT", f"{base}/v1/users/alice", admin, user, new_trace()[0])[0] in (200, 201)
    deal = {
        "name": "Traced renewal",
        "owner_user_id": "alice",
        "amount": {"currency_code": "USD", "amount_minor": 1_250_000},
        "expected_close_date": "2026-12-15",
        "sales_stage": "Negotiation/Review",
    }
    # Alice reaches the opportunities service's replica by event: until then a create is refused.
    deadline = time.monotonic() + 10
    while True:
        traceparent, trace_id, caller_span = new_trace()
        status, answer = call("POST", f"{base}/v1/opportunities", alice, deal, traceparent)
        if status != 422:
            break
        assert "not a user of the organisation" in answer["detail"] and time.monotonic() < deadline
        time.sleep(0.1)
    assert status == 201, answer

    deal_topic = f"{topic_prefix}{topics.OPPORTUNITIES}"

    expected = {
        ("gateway", "SERVER"),
        ("gateway", "CLIENT"),
        ("opportunities", "SERVER"),
        ("opportunities", "PRODUCER"),
        ("forecasting", "CONSUMER"),
    }

    def complete(spans: list[CollectedSpan]) -> bool:
        # Each process exports on its own: wait for the slowest.
        return expected <= {(s.service, s.kind) for s in spans if s.trace_id == trace_id}

    trace = [s for s in collector.wait_for(complete, timeout=30) if s.trace_id == trace_id]

    def one(service: str, kind: str, name: str) -> CollectedSpan:
        found = [s for s in trace if (s.service, s.kind, s.name) == (service, kind, name)]
        assert len(found) == 1, (
            f"{service} {kind} {name!r} in {sorted((s.service, s.kind, s.name) for s in trace)}"
        )
        return found[0]

    http = one("gateway", "SERVER", "POST /v1/opportunities")
    client = one("gateway", "CLIENT", CREATE)
    rpc = one("opportunities", "SERVER", CREATE)
    publish = one("opportunities", "PRODUCER", f"publish {deal_topic}")
    process = one("forecasting", "CONSUMER", f"process {deal_topic}")
    assert http.parent_span_id == caller_span
    assert client.parent_span_id == http.span_id
    assert rpc.parent_span_id == client.span_id
    assert publish.parent_span_id == rpc.span_id
    assert process.parent_span_id == publish.span_id
    assert http.attributes["http.status_code"] == 201
    assert (publish.attributes["messaging.system"], publish.attributes["messaging.destination.name"]) == (
        "kafka",
        deal_topic,
    )
    assert publish.attributes["messaging.kafka.message.key"] == answer["id"]
    assert process.attributes["messaging.consumer.group.name"] == f"{topic_prefix}forecasting"
