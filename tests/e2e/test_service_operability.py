"""What an SRE relies on: real gRPC health, reflection, Prometheus metrics, graceful SIGTERM."""

from __future__ import annotations

import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from prometheus_client.parser import text_string_to_metric_families

from salesplane_platform.health import EVENTS_SERVICE
from tests.e2e.story_helpers import promtool_problems

pytestmark = pytest.mark.e2e

EXPECTED_SERVICES = {
    "leads": "salesplane.leads.v1.LeadService",
    "opportunities": "salesplane.opportunities.v1.OpportunityService",
    "forecasting": "salesplane.forecasting.v1.ForecastingService",
    "reporting": "salesplane.reporting.v1.ReportingService",
}


def listed_services(target: str, version: str = "v1alpha") -> set[str]:
    """The services reflection lists, asked through reflection v1alpha or v1 (the same messages)."""
    with grpc.insecure_channel(target) as channel:
        info = channel.stream_stream(
            f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        responses = info(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
        return {s.name for r in responses for s in r.list_services_response.service}


def watched_statuses(target: str, service: str, seconds: float) -> list[int]:
    """What a health Watch stream sends in `seconds`."""
    with grpc.insecure_channel(target) as channel:
        stream = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=service), timeout=seconds
        )
        statuses: list[int] = []
        try:
            for response in stream:
                statuses.append(response.status)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        return statuses


@pytest.mark.parametrize("name", sorted(EXPECTED_SERVICES))
def test_each_service_is_healthy_reflective_measurable_and_stops_cleanly(services, name):
    service = services(name)
    with grpc.insecure_channel(service.target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        overall = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        specific = health.Check(health_pb2.HealthCheckRequest(service=EXPECTED_SERVICES[name]), timeout=5)
        events = health.Check(health_pb2.HealthCheckRequest(service=EVENTS_SERVICE), timeout=5)
    assert overall.status == specific.status == events.status == health_pb2.HealthCheckResponse.SERVING

    expected = {
        EXPECTED_SERVICES[name],
        "grpc.health.v1.Health",
        "salesplane.audit.v1.AuditService",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    }
    assert expected <= listed_services(service.target)
    assert listed_services(service.target, "v1") == listed_services(service.target)
    # Readiness is checked every 2 s; a watcher hears the status once, then only changes.
    serving = health_pb2.HealthCheckResponse.SERVING
    assert watched_statuses(service.target, EXPECTED_SERVICES[name], 5.0) == [serving]

    body = (
        urllib.request.urlopen(f"http://127.0.0.1:{service.metrics_port}/metrics", timeout=5).read().decode()
    )
    assert promtool_problems(body) == []
    families = {family.name: family for family in text_string_to_metric_families(body)}
    assert {
        "grpc_server_started",
        "grpc_server_handled",
        "grpc_server_msg_received",
        "grpc_server_msg_sent",
        "grpc_server_handling_seconds",
        "service_ready",
        "outbox_pending_events",
        "outbox_oldest_event_age_seconds",
        "db_pool_connections",
    } <= set(families)
    pool = {s.labels["state"]: s.value for s in families["db_pool_connections"].samples}
    assert set(pool) == {"checked_out", "idle", "size"} and pool["size"] > 0
    handled = {
        (
            s.labels["grpc_type"],
            s.labels["grpc_service"],
            s.labels["grpc_method"],
            s.labels["grpc_code"],
        ): s.value
        for s in families["grpc_server_handled"].samples
    }
    assert handled[("unary", "grpc.health.v1.Health", "Check", "OK")] >= 2
    # Every method of the service's API has its series from the start, every code at zero until
    # it happens (the grpc-ecosystem convention), so rate() sees a first failure.
    api_methods = {(t, m) for (t, s, m, _) in handled if s == EXPECTED_SERVICES[name]}
    assert api_methods and all(t in ("unary", "server_stream") for t, _ in api_methods)
    assert {c for (_, s, _, c) in handled if s == EXPECTED_SERVICES[name]} >= {
        "OK",
        "INTERNAL",
        "UNAVAILABLE",
    }
    started = {
        (s.labels["grpc_service"], s.labels["grpc_method"]): s.value
        for s in families["grpc_server_started"].samples
    }
    assert (
        started[("grpc.health.v1.Health", "Check")]
        == handled[("unary", "grpc.health.v1.Health", "Check", "OK")]
    )
    assert families["service_ready"].samples[0].value == 1

    assert service.stop() == 0
