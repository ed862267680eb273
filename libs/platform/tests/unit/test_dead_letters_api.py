"""DeadLetterService on a real in-process gRPC server: malformed filters are the caller's error."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from sqlalchemy import MetaData

from salesplane.operations.v1 import dead_letters_pb2, dead_letters_pb2_grpc
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.dead_letters import DeadLetters
from salesplane_platform.dead_letters_api import add_dead_letter_service
from salesplane_platform.grpc_interceptor import ServiceInterceptor
from salesplane_platform.identity import TokenVerifier, issue_token
from salesplane_platform.platform_tables import define_platform_tables

SECRET = "dead-letters-test-secret-32-bytes-long"
ADMIN = [("authorization", f"Bearer {issue_token(SECRET, 'root', ['admin'])}")]


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[dead_letters_pb2_grpc.DeadLetterServiceStub]:
    metadata = MetaData()
    tables = define_platform_tables(metadata)
    engine = make_engine(f"sqlite:///{tmp_path / 'svc.db'}")
    metadata.create_all(engine)
    server = grpc.server(
        futures.ThreadPoolExecutor(2), interceptors=[ServiceInterceptor(TokenVerifier(SECRET))]
    )
    add_dead_letter_service(server, DeadLetters(make_session_factory(engine), tables), lambda: None)  # type: ignore[arg-type, return-value]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield dead_letters_pb2_grpc.DeadLetterServiceStub(channel)
    server.stop(None)
    engine.dispose()


@pytest.mark.parametrize("topic", ["a\x00b", "\x07bell", "t" * 250])
def test_a_topic_filter_with_control_characters_or_too_long_is_invalid_argument(stub, topic: str) -> None:
    # Found by the malformed-request runs (tests/fuzz): PostgreSQL refuses NUL in text, answered INTERNAL.
    with pytest.raises(grpc.RpcError) as refused:
        stub.ListDeadLetters(dead_letters_pb2.ListDeadLettersRequest(topic=topic), metadata=ADMIN, timeout=5)

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "topic" in (refused.value.details() or "")


def test_a_plain_topic_filter_lists(stub) -> None:
    listed = stub.ListDeadLetters(
        dead_letters_pb2.ListDeadLettersRequest(topic="salesplane.leads.v1"), metadata=ADMIN, timeout=5
    )

    assert list(listed.dead_letters) == [] and not listed.more
