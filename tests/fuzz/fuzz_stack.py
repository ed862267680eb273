"""The system the malformed requests go to: the four services as OS processes, each on its own
PostgreSQL database and serving its API only (SALESPLANE_ROLES=api: no relay or consumer writes in
the background, so any change to a database between two fingerprints was made by a request), and
the HTTP gateway as a process in front of them. No broker: nothing here reads an event, and what a
request would publish stays in its service's outbox, where the fingerprints see it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from sqlalchemy import Engine, create_engine

from salesplane_platform.identity import issue_token
from salesplane_testing.postgres_server import PostgresEndpoint
from salesplane_testing.processes import ServiceHandle, free_port
from salesplane_testing.rpc_fuzz import Pools, TableFingerprints
from tests.fuzz.seed_records import SEEDERS, replicate_organisation

SECRET = "fuzz-secret-of-at-least-thirty-two-bytes"
SERVICES = ("leads", "opportunities", "forecasting", "reporting")

Metadata = list[tuple[str, str]]


def bearer(subject: str, *roles: str) -> Metadata:
    return [("authorization", f"Bearer {issue_token(SECRET, subject, roles)}")]


@dataclass
class FuzzStack:
    services: dict[str, ServiceHandle]
    engines: dict[str, Engine]
    gateway_url: str
    log_dir: Path
    pools: dict[str, Pools] = field(default_factory=dict)
    _fingerprints: dict[str, TableFingerprints] = field(default_factory=dict)

    def fingerprint(self) -> dict[str, str]:
        """Every table of every service's database, outbox included: "service.table" -> digest."""
        if not self._fingerprints:
            self._fingerprints = {name: TableFingerprints(engine) for name, engine in self.engines.items()}
        return {
            f"{service}.{table}": digest
            for service, fingerprints in self._fingerprints.items()
            for table, digest in fingerprints().items()
        }

    def target(self, service: str) -> str:
        return self.services[service].target


@contextmanager
def running_gateway(targets: dict[str, str], log_dir: Path) -> Iterator[str]:
    """The gateway as `salesplane-gateway` runs in production (waitress), until /healthz answers."""
    port = free_port()
    env = {
        **os.environ,
        "SALESPLANE_ENV": "development",
        "SALESPLANE_AUTH_SECRET": SECRET,
        "SALESPLANE_GATEWAY_HOST": "127.0.0.1",
        "SALESPLANE_GATEWAY_PORT": str(port),
        "SALESPLANE_GATEWAY_METRICS_PORT": str(free_port()),
        # Thousands of requests from one client in a minute: the limit itself is tested in gateway/tests.
        "SALESPLANE_GATEWAY_RATE_LIMIT_PER_SECOND": "0",
        **targets,
    }
    with (log_dir / "gateway.log").open("wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "salesplane-gateway")], env=env, stdout=log, stderr=log
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"{base}/healthz", timeout=1).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"the gateway did not start: {(log_dir / 'gateway.log').read_text()[-2000:]}"
                        ) from None
                    time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=15)


@contextmanager
def fuzz_stack(postgres: PostgresEndpoint, log_dir: Path) -> Iterator[FuzzStack]:
    with ExitStack() as stack:
        ports = {name: free_port() for name in SERVICES}
        targets = {f"SALESPLANE_{name.upper()}_TARGET": f"127.0.0.1:{port}" for name, port in ports.items()}
        handles: dict[str, ServiceHandle] = {}
        engines: dict[str, Engine] = {}
        for name in SERVICES:
            database = f"fuzz_{name}_{uuid.uuid4().hex[:8]}"
            url = postgres.create_database(database)
            stack.callback(postgres.drop_database, database)
            engines[name] = create_engine(url)
            stack.callback(engines[name].dispose)
            handles[name] = ServiceHandle(
                name=name,
                env={
                    "SALESPLANE_ENV": "development",
                    "SALESPLANE_ROLES": "api",
                    "SALESPLANE_DATABASE_URL": url,
                    "SALESPLANE_AUTH_SECRET": SECRET,
                    "SALESPLANE_DATA_DIR": str(log_dir / name),
                    "SALESPLANE_SHUTDOWN_GRACE_SECONDS": "5",
                    **targets,
                },
                log_dir=log_dir,
                grpc_port=ports[name],
            )
            stack.callback(handles[name].stop)
        # Side by side: each start is mostly imports and migrations, waiting on one another otherwise.
        with ThreadPoolExecutor(len(SERVICES)) as starting:
            list(starting.map(lambda handle: handle.start(timeout=300), handles.values()))
        for name, handle in handles.items():
            replicate_organisation(name, handle.env["SALESPLANE_DATABASE_URL"])
        gateway = stack.enter_context(running_gateway(targets, log_dir))
        fuzz = FuzzStack(handles, engines, gateway, log_dir)
        for name, seed in SEEDERS.items():
            with grpc.insecure_channel(handles[name].target) as channel:
                fuzz.pools[name] = seed(channel, bearer)
        yield fuzz
