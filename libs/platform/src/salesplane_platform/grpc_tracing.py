"""gRPC spans, and the trace context in gRPC metadata, by OpenTelemetry's gRPC instrumentation: a
SERVER span around every RPC a service handles, a CLIENT span around every call made on a traced
channel, whose context the call carries in its `traceparent` metadata.

Health checks are left out: probes call them every few seconds, and a trace of each says nothing.
Server-streaming calls get no client span: for them the instrumentation hands back a plain
generator, without the call's cancel() (which the gateway needs to stop a stream); their metadata
takes the caller's context from `trace_metadata()` instead, so the server span still joins the
caller's trace."""

from __future__ import annotations

from typing import Any, cast

import grpc
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.grpc import client_interceptor, server_interceptor
from opentelemetry.instrumentation.grpc.grpcext import intercept_channel
from opentelemetry.semconv._incubating.attributes.rpc_attributes import RPC_GRPC_STATUS_CODE
from opentelemetry.trace import StatusCode

HEALTH_SERVICE = "grpc.health.v1.Health"
# The codes that make a server span an error (OpenTelemetry's gRPC conventions): the server's
# failures, not the caller's mistakes.
_SERVER_ERRORS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


def tracing_server_interceptor() -> grpc.ServerInterceptor:
    """The server spans; first in the server's interceptors, so a span covers authentication too."""
    return cast(grpc.ServerInterceptor, server_interceptor(filter_=_not_health))


def traced_channel(channel: grpc.Channel) -> grpc.Channel:
    """`channel` with client spans and the trace context in every call's metadata."""
    return cast(grpc.Channel, intercept_channel(channel, client_interceptor(filter_=_traced_call)))


def trace_metadata() -> tuple[tuple[str, str], ...]:
    """The current trace context as call metadata (for a call a traced channel does not cover)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return tuple(carrier.items())


def record_rpc_status(code: grpc.StatusCode) -> None:
    """The RPC's outcome on its server span. The instrumentation sees plain aborts only, not the
    rich statuses the service interceptor sends with abort_with_status."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    span.set_attribute(RPC_GRPC_STATUS_CODE, code.value[0])
    if code in _SERVER_ERRORS:
        span.set_status(StatusCode.ERROR, code.name)


def _method(details: Any) -> str:
    # A server's handler call details name it `method`, the instrumentation's client info `full_method`.
    return str(getattr(details, "method", None) or getattr(details, "full_method", ""))


def _not_health(details: Any) -> bool:
    return not _method(details).lstrip("/").startswith(f"{HEALTH_SERVICE}/")


def _traced_call(info: Any) -> bool:
    return _not_health(info) and not getattr(info, "is_server_stream", False)
