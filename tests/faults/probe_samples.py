"""What Kubernetes and Prometheus would have seen of a service during a fault: its probes and its
alerting series, sampled on a fixed grid (as a scrape interval), so a promtool rule test can be
made from them (alert_replay.py)."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from salesplane_platform.health import EVENTS_SERVICE, LIVENESS_SERVICE

# The series the alert rules read that a fault moves; sampled for each service.
SERIES = ("outbox_oldest_event_age_seconds", "outbox_pending_events", "service_ready", "service_live")
# gRPC health answers, by what asks: Kubernetes' readiness probe (""), the event side, liveness.
HEALTH_NAMES = {"api_ready": "", "events_ready": EVENTS_SERVICE, "live": LIVENESS_SERVICE}


@dataclass
class Sample:
    at: float  # seconds since the sampler started
    health: dict[str, str]  # api_ready / events_ready / live -> SERVING, NOT_SERVING or an error
    http: dict[str, int]  # /readyz and /livez on the operations port -> status code (0: no answer)
    series: dict[str, float]  # SERIES -> value; missing when the scrape failed


@dataclass
class ServiceProbes:
    target: str
    metrics_port: int
    samples: list[Sample | None] = field(default_factory=list)  # None: the grid point was missed


def health_status(target: str, service: str) -> str:
    try:
        with grpc.insecure_channel(target) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=2
            )
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    except grpc.RpcError as error:
        return error.code().name


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def scrape(metrics_port: int) -> dict[str, float]:
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2).read().decode()
    except OSError:
        return {}
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name in SERIES
    }


class ProbeSampler:
    """Samples every service every `interval` seconds on a thread, until stopped."""

    def __init__(self, services: dict[str, ServiceProbes], interval: float = 2.0) -> None:
        self.services = services
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="probe-sampler", daemon=True)
        self._started = 0.0
        self._marks: dict[str, int] = {}

    def __enter__(self) -> ProbeSampler:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def mark(self, name: str) -> None:
        """Name the next grid point (e.g. "broker down"), for the rule test's evaluation times."""
        self._marks[name] = int((time.monotonic() - self._started) // self.interval) + 1

    def index(self, name: str) -> int:
        return self._marks[name]

    def _run(self) -> None:
        step = 0
        while not self._stop.is_set():
            due = self._started + step * self.interval
            self._stop.wait(max(0.0, due - time.monotonic()))
            if self._stop.is_set():
                return
            late = time.monotonic() - due > self.interval / 2
            for probes in self.services.values():
                at = time.monotonic() - self._started
                probes.samples.append(None if late else self._sample(probes, at))
            step += 1

    @staticmethod
    def _sample(probes: ServiceProbes, at: float) -> Sample:
        ops = f"http://127.0.0.1:{probes.metrics_port}"
        return Sample(
            at=at,
            health={key: health_status(probes.target, name) for key, name in HEALTH_NAMES.items()},
            http={path: http_status(f"{ops}{path}") for path in ("/readyz", "/livez")},
            series=scrape(probes.metrics_port),
        )


def seen(probes: ServiceProbes, read: Callable[[Sample], object]) -> set[object]:
    return {read(sample) for sample in probes.samples if sample is not None}
