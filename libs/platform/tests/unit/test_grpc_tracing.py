"""gRPC spans on a real in-process server: a call on a traced channel is a CLIENT span whose context
the server's SERVER span continues; the status the service interceptor sends is on the server
span; health checks make no spans; streaming calls keep their call object and still propagate."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from salesplane_platform.errors import FieldViolation, InvalidArgument
from salesplane_platform.grpc_interceptor import ServiceInterceptor
from salesplane_platform.grpc_tracing import trace_metadata, traced_channel, tracing_server_interceptor
from salesplane_platform.identity import TokenVerifier, issue_token
from salesplane_testing.span_capture import captured_spans

SECRET = "tracing-test-secret-of-32-bytes-or-more"
AUTH = [("authorization", f"Bearer {issue_token(SECRET, 'alice', ['rep'])}")]


def answer(request: bytes, context: grpc.ServicerContext) -> bytes:
    if request == b"bad":
        raise InvalidArgument(FieldViolation("body", "must not be bad"))
    if request == b"boom":
        raise RuntimeError("a bug")
    return trace.format_trace_id(trace.get_current_span().get_span_context().trace_id).encode()


def stream(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
    for _ in range(3):
        yield trace.format_trace_id(trace.get_current_span().get_span_context().trace_id).encode()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    with captured_spans() as exporter:
        yield exporter


@pytest.fixture
def channel(spans) -> Iterator[grpc.Channel]:
    server = grpc.server(
        futures.ThreadPoolExecutor(4),
        interceptors=[tracing_server_interceptor(), ServiceInterceptor(TokenVerifier(SECRET))],
    )
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "test.v1.Test",
                {
                    "Answer": grpc.unary_unary_rpc_method_handler(answer),
                    "Stream": grpc.unary_stream_rpc_method_handler(stream),
                },
            )
        ]
    )
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with traced_channel(grpc.insecure_channel(f"127.0.0.1:{port}")) as opened:
        yield opened
    server.stop(None)


def by_kind(spans: InMemorySpanExporter, kind: SpanKind) -> list:
    return [s for s in spans.get_finished_spans() if s.kind is kind]


def test_the_server_span_is_a_child_of_the_client_span_in_the_callers_trace(channel, spans):
    with trace.get_tracer("test").start_as_current_span("GET /v1/things") as request:
        served_in = channel.unary_unary("/test.v1.Test/Answer")(b"", metadata=AUTH, timeout=5)
    (client,) = by_kind(spans, SpanKind.CLIENT)
    (server,) = by_kind(spans, SpanKind.SERVER)
    assert client.name == server.name == "/test.v1.Test/Answer"
    assert client.parent is not None and client.parent.span_id == request.get_span_context().span_id
    assert server.parent is not None and server.parent.span_id == client.context.span_id
    assert served_in.decode() == trace.format_trace_id(request.get_span_context().trace_id)


def test_the_interceptors_statuses_are_on_the_server_span(channel, spans):
    call = channel.unary_unary("/test.v1.Test/Answer")
    for body in (b"bad", b"boom"):
        with pytest.raises(grpc.RpcError):
            call(body, metadata=AUTH, timeout=5)
    bad, boom = sorted(by_kind(spans, SpanKind.SERVER), key=lambda s: s.start_time or 0)
    assert (bad.attributes or {})["rpc.grpc.status_code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    # The caller's mistake is not the server's error; a bug is.
    assert bad.status.status_code is StatusCode.UNSET
    assert (boom.attributes or {})["rpc.grpc.status_code"] == grpc.StatusCode.INTERNAL.value[0]
    assert boom.status.status_code is StatusCode.ERROR


def test_health_checks_make_no_spans(channel, spans):
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    assert spans.get_finished_spans() == ()


def test_a_streaming_call_keeps_its_cancel_and_joins_the_callers_trace(channel, spans):
    with trace.get_tracer("test").start_as_current_span("GET /v1/reports/x:download") as request:
        responses = channel.unary_stream("/test.v1.Test/Stream")(
            b"", metadata=[*AUTH, *trace_metadata()], timeout=5
        )
        first = next(responses)
        responses.cancel()
    assert first.decode() == trace.format_trace_id(request.get_span_context().trace_id)
    assert by_kind(spans, SpanKind.CLIENT) == []
