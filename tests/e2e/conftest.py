"""Fixtures that start Salesplane services as processes on a real Kafka broker and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from salesplane_platform.identity import issue_token
from salesplane_testing.processes import ServiceHandle, free_port

SECRET = "e2e-secret-of-at-least-thirty-two-bytes"
# The services that call one another: each is given every one's SALESPLANE_<NAME>_TARGET.
PEERS = ("leads", "opportunities", "forecasting", "reporting")


@pytest.fixture
def topic_prefix() -> str:
    return f"e2e-{uuid.uuid4().hex[:8]}."


@pytest.fixture
def services(
    kafka_broker, postgres_server, topic_prefix: str, tmp_path: Path
) -> Iterator[Callable[[str], ServiceHandle]]:
    """Factory: services("opportunities") gives a started service with its own fresh database;
    `env` adds settings. Every service is told where the others will serve
    (SALESPLANE_LEADS_TARGET, ...), whichever starts first: the first start of each takes the port
    reserved for it (a second one of the same name gets its own)."""
    started: list[ServiceHandle] = []
    reserved = {name: free_port() for name in PEERS}
    targets = {f"SALESPLANE_{name.upper()}_TARGET": f"127.0.0.1:{port}" for name, port in reserved.items()}

    def start(name: str, env: dict[str, str] | None = None) -> ServiceHandle:
        database = postgres_server.create_database(f"{name}_{uuid.uuid4().hex[:8]}")
        port = reserved.pop(name, None)
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
                **targets,
                **(env or {}),
            },
            log_dir=tmp_path,
            **({"grpc_port": port} if port is not None else {}),
        )
        handle.start()
        started.append(handle)
        return handle

    yield start
    for handle in reversed(started):
        handle.stop()


def bearer(subject: str = "e2e-admin", roles: tuple[str, ...] = ("admin",)) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {issue_token(SECRET, subject, roles)}")]


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], str]]:
    """Factory: gateway({"SALESPLANE_LEADS_TARGET": ...}) starts the HTTP gateway as a process and
    gives its base URL once /healthz answers."""
    started: list[subprocess.Popen[bytes]] = []

    def start(targets: dict[str, str]) -> str:
        port = free_port()
        env = {
            **os.environ,
            "SALESPLANE_AUTH_SECRET": SECRET,
            "SALESPLANE_GATEWAY_PORT": str(port),
            "SALESPLANE_GATEWAY_HOST": "127.0.0.1",
            # The stories drive one user faster than a person would; the limit is tested in gateway/tests.
            "SALESPLANE_GATEWAY_RATE_LIMIT_PER_SECOND": "0",
            "SALESPLANE_GATEWAY_METRICS_PORT": str(free_port()),
            **targets,
        }
        log = (tmp_path / f"gateway-{port}.log").open("wb")
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "salesplane-gateway")], env=env, stdout=log, stderr=log
        )
        started.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                return base
            except OSError:
                time.sleep(0.1)
        raise TimeoutError("the gateway did not answer /healthz within 30 s")

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=15)
