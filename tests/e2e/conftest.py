"""Fixtures that start Salesplane services as processes on a real Kafka broker and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from salesplane_platform.identity import issue_token
from salesplane_testing.processes import ServiceHandle

SECRET = "e2e-secret-of-at-least-thirty-two-bytes"


@pytest.fixture
def topic_prefix() -> str:
    return f"e2e-{uuid.uuid4().hex[:8]}."


@pytest.fixture
def services(
    kafka_broker, postgres_server, topic_prefix: str, tmp_path: Path
) -> Iterator[Callable[[str], ServiceHandle]]:
    """Factory: services("opportunities") gives a started service with its own fresh database."""
    started: list[ServiceHandle] = []

    def start(name: str) -> ServiceHandle:
        database = postgres_server.create_database(f"{name}_{uuid.uuid4().hex[:8]}")
        handle = ServiceHandle(
            name=name,
            env={
                "SALESPLANE_DATABASE_URL": database,
                "SALESPLANE_KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
                "SALESPLANE_TOPIC_PREFIX": topic_prefix,
                "SALESPLANE_AUTH_SECRET": SECRET,
                "SALESPLANE_DATA_DIR": str(tmp_path / name),
                "SALESPLANE_SHUTDOWN_GRACE_SECONDS": "5",
                # As a pod restarted in place keeps its name (set from the downward API in Helm).
                "SALESPLANE_CONSUMER_INSTANCE_ID": f"{name}-0",
            },
            log_dir=tmp_path,
        )
        handle.start()
        started.append(handle)
        return handle

    yield start
    for handle in reversed(started):
        handle.stop()


def bearer(subject: str = "e2e-admin", roles: tuple[str, ...] = ("admin",)) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {issue_token(SECRET, subject, roles)}")]
