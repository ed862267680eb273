"""The process's tracer provider: nothing is exported unless an OTLP endpoint is configured, yet
every span has ids (for the logs and the next hop); with one, spans reach it under the service's name."""

from __future__ import annotations

import pytest

from salesplane_platform.tracing import make_tracer_provider, shut_down, traces_endpoint
from salesplane_testing.otlp_collector import running_collector


def test_without_an_endpoint_spans_record_nothing_but_still_have_ids():
    provider = make_tracer_provider("opportunities", environ={"OTEL_SERVICE_NAME": ""})
    span = provider.get_tracer("test").start_span("work")
    assert not span.is_recording()
    assert span.get_span_context().is_valid
    span.end()
    shut_down(provider)


@pytest.mark.parametrize(
    ("environ", "endpoint"),
    [
        ({}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}, "http://collector:4318/v1/traces"),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:4318/custom",
            },
            "http://traces:4318/custom",
        ),
    ],
)
def test_the_traces_endpoint_comes_from_the_standard_variables(environ, endpoint):
    assert traces_endpoint(environ) == endpoint


def test_with_an_endpoint_spans_reach_the_collector_under_the_services_name():
    with running_collector() as collector:
        provider = make_tracer_provider(
            "opportunities", environ={"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint}
        )
        span = provider.get_tracer("test").start_span("work")
        assert span.is_recording()
        span.end()
        assert provider.force_flush(10_000)
        (received,) = collector.wait_for(lambda spans: len(spans) >= 1, timeout=10)
        shut_down(provider)
    assert (received.service, received.name) == ("opportunities", "work")
    assert received.trace_id == format(span.get_span_context().trace_id, "032x")


def test_otel_service_name_overrides_the_processes_own_name():
    with running_collector() as collector:
        provider = make_tracer_provider(
            "opportunities",
            environ={"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint, "OTEL_SERVICE_NAME": "deals-eu"},
        )
        provider.get_tracer("test").start_span("work").end()
        provider.force_flush(10_000)
        (received,) = collector.wait_for(lambda spans: len(spans) >= 1, timeout=10)
        shut_down(provider)
    assert received.service == "deals-eu"
