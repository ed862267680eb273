"""The process's OpenTelemetry tracer provider: one per process, named after its service.

Export is off unless an OTLP endpoint is configured, with the standard variables every
OpenTelemetry SDK reads (so a collector's usual settings work unchanged, and no Salesplane name
has to be learnt):

    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT   the full URL of the traces endpoint, e.g. http://otel:4318/v1/traces
    OTEL_EXPORTER_OTLP_ENDPOINT          the collector's base URL (/v1/traces is appended)
    OTEL_SERVICE_NAME                    overrides the service name (the chart sets the component's)
    OTEL_TRACES_SAMPLER(_ARG)            which traces are kept (default: parent-based, every root)
    OTEL_BSP_*, OTEL_EXPORTER_OTLP_*     batching, timeout, headers, compression (read by the SDK)

Off still means a real provider whose sampler records nothing: every span is a non-recording one
with a fresh trace id, which costs a few microseconds, so trace ids still reach the logs and the
next hop (gRPC metadata, outbox rows, Kafka headers) and a log line can be followed across
services even without a tracing backend."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable, Mapping

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

log = logging.getLogger(__name__)

TRACES_ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
SERVICE_NAME_VARIABLE = "OTEL_SERVICE_NAME"
# Spans still queued at shutdown get this long to reach the collector: one that does not answer
# must not keep a stopping pod past its grace period.
SHUTDOWN_FLUSH_SECONDS = 3.0

_configured = threading.Lock()
_exporting = threading.Event()


def traces_endpoint(environ: Mapping[str, str]) -> str | None:
    """Where spans are exported (OTLP over HTTP, protobuf); None: nowhere, export is off."""
    if endpoint := environ.get(TRACES_ENDPOINT_VARIABLE, "").strip():
        return endpoint
    if base := environ.get(ENDPOINT_VARIABLE, "").strip():
        return f"{base.rstrip('/')}/v1/traces"
    return None


def make_tracer_provider(service_name: str, environ: Mapping[str, str] | None = None) -> TracerProvider:
    """A provider for the process of `service_name`, exporting when the environment says where."""
    env = os.environ if environ is None else environ
    resource = Resource.create(
        {
            SERVICE_NAME: env.get(SERVICE_NAME_VARIABLE, "").strip() or service_name,
            # Replicas share a service name; the instance tells their spans apart (and a restart).
            SERVICE_INSTANCE_ID: str(uuid.uuid4()),
        }
    )
    endpoint = traces_endpoint(env)
    if endpoint is None:
        # Nothing would read what is recorded: record nothing, keep the ids.
        return TracerProvider(sampler=ALWAYS_OFF, resource=resource, shutdown_on_exit=False)
    # No sampler given: the SDK's OTEL_TRACES_SAMPLER, parent-based always-on by default.
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


def exporting() -> bool:
    """Whether this process's spans go anywhere: where they cannot, hot paths (the relay's span per
    record) may pass the trace context on instead of making spans nobody sees."""
    return _exporting.is_set()


def configure_tracing(service_name: str, environ: Mapping[str, str] | None = None) -> Callable[[], None]:
    """Install the process's provider (the first call wins: services run in-process by tests share
    one) and return what flushes and stops it, within SHUTDOWN_FLUSH_SECONDS."""
    if not _configured.acquire(blocking=False):
        return lambda: None
    env = os.environ if environ is None else environ
    provider = make_tracer_provider(service_name, env)
    trace.set_tracer_provider(provider)
    endpoint = traces_endpoint(env)
    if endpoint is not None:
        _exporting.set()
    log.info(
        "tracing configured" if endpoint else "tracing configured without export",
        extra={"otlp_traces_endpoint": endpoint},
    )
    return lambda: shut_down(provider)


def shut_down(provider: TracerProvider, timeout_seconds: float = SHUTDOWN_FLUSH_SECONDS) -> None:
    """Export what is queued and stop, waiting no longer than `timeout_seconds`."""
    stopper = threading.Thread(target=provider.shutdown, name="tracing-shutdown", daemon=True)
    stopper.start()
    stopper.join(timeout_seconds)
    if stopper.is_alive():
        log.warning("spans were still being exported at shutdown; the rest are dropped")
