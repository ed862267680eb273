"""The shared interceptor on a real in-process gRPC server."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2
from grpc_status import rpc_status
from sqlalchemy.exc import OperationalError, ProgrammingError

from salesplane_platform.errors import FieldViolation, InvalidArgument, Unauthenticated
from salesplane_platform.grpc_interceptor import ServiceInterceptor, current_caller
from salesplane_platform.identity import TokenVerifier, issue_token

SECRET = "interceptor-test-secret-32-bytes-long"


def echo_stream(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
    for _ in range(2):
        yield current_caller().subject.encode()


def validate(request: bytes, context: grpc.ServicerContext) -> bytes:
    if not request:
        raise InvalidArgument(FieldViolation("body", "must not be empty"))
    if request == b"boom":
        raise RuntimeError("bug with a secret inside")
    if request == b"lost-connection":
        raise OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))
    if request == b"deadlock":
        raise OperationalError("UPDATE", {}, _Deadlock("deadlock detected"))
    if request == b"bad-sql":
        raise ProgrammingError("SELEC", {}, Exception("syntax error"))
    return current_caller().subject.encode()


class _Deadlock(Exception):
    sqlstate = "40P01"


def parse(request: health_pb2.HealthCheckRequest, context: grpc.ServicerContext) -> bytes:
    return request.service.encode()


def parse_stream(request: health_pb2.HealthCheckRequest, context: grpc.ServicerContext) -> Iterator[bytes]:
    yield request.service.encode()


@pytest.fixture
def channel() -> Iterator[grpc.Channel]:
    server = grpc.server(
        futures.ThreadPoolExecutor(4), interceptors=[ServiceInterceptor(TokenVerifier(SECRET))]
    )
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "test.v1.Test",
                {
                    "Stream": grpc.unary_stream_rpc_method_handler(echo_stream),
                    "Validate": grpc.unary_unary_rpc_method_handler(validate),
                    "Parse": grpc.unary_unary_rpc_method_handler(
                        parse, request_deserializer=health_pb2.HealthCheckRequest.FromString
                    ),
                    "ParseStream": grpc.unary_stream_rpc_method_handler(
                        parse_stream, request_deserializer=health_pb2.HealthCheckRequest.FromString
                    ),
                },
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as opened:
        yield opened
    server.stop(None)


def token(subject: str = "alice") -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {issue_token(SECRET, subject, ['rep'])}")]


def test_streaming_rpcs_are_authenticated_too(channel: grpc.Channel):
    stream = channel.unary_stream("/test.v1.Test/Stream")
    with pytest.raises(grpc.RpcError) as raised:
        list(stream(b"", timeout=5))
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert list(stream(b"", metadata=token("bob"), timeout=5)) == [b"bob", b"bob"]


def test_domain_errors_become_statuses_with_details_and_bugs_leak_nothing(channel: grpc.Channel):
    validate_rpc = channel.unary_unary("/test.v1.Test/Validate")
    assert validate_rpc(b"x", metadata=token(), timeout=5) == b"alice"
    with pytest.raises(grpc.RpcError) as invalid:
        validate_rpc(b"", metadata=token(), timeout=5)
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    bad_request = error_details_pb2.BadRequest()
    assert rpc_status.from_call(invalid.value).details[0].Unpack(bad_request)
    assert [(v.field, v.description) for v in bad_request.field_violations] == [("body", "must not be empty")]
    with pytest.raises(grpc.RpcError) as bug:
        validate_rpc(b"boom", metadata=token(), timeout=5)
    assert bug.value.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in (bug.value.details() or "")


@pytest.mark.parametrize("rpc", ["Parse", "ParseStream"])
@pytest.mark.parametrize(
    "body",
    [
        b"\x0a\x02\xc3\x28",  # field 1 (a string) holding invalid UTF-8
        b"\x0a\x09ab",  # a length past the end
        b"\x08" + b"\x80" * 11,  # a varint that never ends
    ],
)
def test_a_request_that_does_not_parse_is_invalid_argument_not_internal(channel: grpc.Channel, rpc, body):
    # Found by the malformed-request runs (tests/fuzz): grpcio's own answer is INTERNAL.
    call = (
        channel.unary_unary(f"/test.v1.Test/{rpc}")
        if rpc == "Parse"
        else channel.unary_stream(f"/test.v1.Test/{rpc}")
    )
    with pytest.raises(grpc.RpcError) as anonymous:
        list(call(body, timeout=5)) if rpc == "ParseStream" else call(body, timeout=5)
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as refused:
        list(call(body, metadata=token(), timeout=5)) if rpc == "ParseStream" else call(
            body, metadata=token(), timeout=5
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    bad_request = error_details_pb2.BadRequest()
    assert rpc_status.from_call(refused.value).details[0].Unpack(bad_request)
    assert [v.field for v in bad_request.field_violations] == ["request"]
    valid = health_pb2.HealthCheckRequest(service="ok").SerializeToString()
    answered = call(valid, metadata=token(), timeout=5)
    assert (list(answered) if rpc == "ParseStream" else [answered]) == [b"ok"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"lost-connection", grpc.StatusCode.UNAVAILABLE),
        (b"deadlock", grpc.StatusCode.ABORTED),
        (b"bad-sql", grpc.StatusCode.INTERNAL),
    ],
)
def test_database_trouble_is_retryable_but_database_bugs_are_not(channel: grpc.Channel, body, code):
    call = channel.unary_unary("/test.v1.Test/Validate")
    with pytest.raises(grpc.RpcError) as error:
        call(body, metadata=token())
    assert error.value.code() == code
    assert "SELEC" not in (error.value.details() or "")


def test_verified_tokens_are_remembered_until_they_expire():
    verifier = TokenVerifier(SECRET)
    issued = issue_token(SECRET, "alice", ["rep"], ttl_seconds=60)
    assert verifier.verify(issued) is verifier.verify(issued)
    expired = issue_token(SECRET, "bob", ["rep"], ttl_seconds=-1)
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            verifier.verify(expired)


def test_an_unavailable_dependency_is_unavailable():
    from salesplane_platform.errors import Unavailable
    from salesplane_platform.grpc_errors import status_for

    assert status_for(Unavailable("opportunities did not answer")).code == 14  # UNAVAILABLE


def test_rpcs_are_measured_in_the_grpc_ecosystem_shape(channel: grpc.Channel):
    from prometheus_client import REGISTRY

    def value(name: str, kind: str, method: str, code: str | None = None) -> float:
        labels = {"grpc_type": kind, "grpc_service": "test.v1.Test", "grpc_method": method}
        if code is not None:
            labels["grpc_code"] = code
        return REGISTRY.get_sample_value(name, labels) or 0.0

    stream = channel.unary_stream("/test.v1.Test/Stream")
    validate_rpc = channel.unary_unary("/test.v1.Test/Validate")
    before = {
        "stream_sent": value("grpc_server_msg_sent_total", "server_stream", "Stream"),
        "stream_ok": value("grpc_server_handled_total", "server_stream", "Stream", "OK"),
        "stream_unauthenticated": value(
            "grpc_server_handled_total", "server_stream", "Stream", "UNAUTHENTICATED"
        ),
        "invalid": value("grpc_server_handled_total", "unary", "Validate", "INVALID_ARGUMENT"),
        "started": value("grpc_server_started_total", "unary", "Validate"),
        "sent": value("grpc_server_msg_sent_total", "unary", "Validate"),
    }

    assert list(stream(b"", metadata=token(), timeout=5)) == [b"alice", b"alice"]
    with pytest.raises(grpc.RpcError):
        list(stream(b"", timeout=5))
    with pytest.raises(grpc.RpcError):
        validate_rpc(b"", metadata=token(), timeout=5)
    assert validate_rpc(b"x", metadata=token(), timeout=5) == b"alice"

    assert value("grpc_server_msg_sent_total", "server_stream", "Stream") == before["stream_sent"] + 2
    assert value("grpc_server_handled_total", "server_stream", "Stream", "OK") == before["stream_ok"] + 1
    assert (
        value("grpc_server_handled_total", "server_stream", "Stream", "UNAUTHENTICATED")
        == before["stream_unauthenticated"] + 1
    )
    assert (
        value("grpc_server_handled_total", "unary", "Validate", "INVALID_ARGUMENT") == before["invalid"] + 1
    )
    assert value("grpc_server_started_total", "unary", "Validate") == before["started"] + 2
    assert (
        value("grpc_server_msg_sent_total", "unary", "Validate") == before["sent"] + 1
    )  # the refusal sent none
