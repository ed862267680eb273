"""Run Salesplane services as real OS processes for end-to-end tests, so they can be killed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from salesplane_platform.health import EVENTS_SERVICE


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_answering(process: subprocess.Popen[bytes] | None, url: str, timeout: float, name: str) -> None:
    """Until `url` answers 2xx; fails at once if the process exits, and after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{name}: {url} did not answer within {timeout:.0f} s")


class _KillableProcess:
    """SIGKILL and SIGTERM for a process handle (its `process`)."""

    process: subprocess.Popen[bytes] | None

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushes, exactly like a crashed pod."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, and SIGKILL if it has not exited within `timeout` (then raises)."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise


@dataclass
class ServiceHandle(_KillableProcess):
    """One service process: started with its own ports, waited on until gRPC health says SERVING."""

    name: str
    env: dict[str, str]
    log_dir: Path
    grpc_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    # The service's program when `name` says more (e.g. "leads-relay" runs salesplane-leads).
    program: str = ""

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def serves_api(self) -> bool:
        return "api" in self.env.get("SALESPLANE_ROLES", "api")

    def start(self, *, timeout: float = 60.0) -> None:
        self.starts += 1
        command = [str(Path(sys.executable).parent / f"salesplane-{self.program or self.name}")]
        env = {
            **os.environ,
            **self.env,
            "SALESPLANE_GRPC_PORT": str(self.grpc_port),
            "SALESPLANE_METRICS_PORT": str(self.metrics_port),
        }
        log_file = (self.log_dir / f"{self.name}.{self.starts}.log").open("wb")
        self.process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        if self.serves_api:
            self.wait_serving(timeout)
        else:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        """A process without the API role (relay, consumer): its ops server's /readyz says 200."""
        wait_answering(self.process, f"http://127.0.0.1:{self.metrics_port}/readyz", timeout, self.name)

    def wait_serving(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(self.target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                    )
                try:
                    # Started means the API serves and so does the event side (relay, consumers).
                    replies = [
                        stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=1)
                        for name in ("", EVENTS_SERVICE)
                    ]
                    if all(r.status == health_pb2.HealthCheckResponse.SERVING for r in replies):
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.1)
        raise TimeoutError(f"{self.name} not SERVING within {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        path = self.log_dir / f"{self.name}.{self.starts}.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class GatewayHandle(_KillableProcess):
    """The HTTP gateway as a process: started on its own ports, waited on until /healthz answers;
    killable and restartable like a service."""

    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    name: str = "gateway"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 60.0) -> None:
        self.starts += 1
        env = {
            **os.environ,
            **self.env,
            "SALESPLANE_GATEWAY_HOST": "127.0.0.1",
            "SALESPLANE_GATEWAY_PORT": str(self.port),
            "SALESPLANE_GATEWAY_METRICS_PORT": str(self.metrics_port),
        }
        log_file = (self.log_dir / f"gateway.{self.starts}.log").open("wb")
        command = [str(Path(sys.executable).parent / "salesplane-gateway")]
        self.process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        wait_answering(self.process, f"{self.base_url}/healthz", timeout, self.name)
