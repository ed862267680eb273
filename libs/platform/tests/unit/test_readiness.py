"""Readiness answers within its deadline even when a dependency hangs, and never piles up checks."""

from __future__ import annotations

import threading

from grpc_health.v1 import health, health_pb2

from salesplane_platform.health import LIVENESS_SERVICE, ReadinessMonitor, TruthfulHealthServicer


def status(servicer: health.HealthServicer, service: str = "") -> int:
    return servicer.Check(health_pb2.HealthCheckRequest(service=service), None).status


def test_a_check_that_hangs_is_not_ready_and_is_not_started_again_until_it_returns() -> None:
    release = threading.Event()
    calls: list[int] = []

    def stalled_database() -> None:
        calls.append(1)
        release.wait()

    servicer = TruthfulHealthServicer(lambda: None)
    monitor = ReadinessMonitor(servicer, [], {"database": stalled_database}, check_timeout_seconds=0.05)
    assert not monitor.check_once()
    assert monitor.failing == "database: no answer within 0 s"
    assert not monitor.check_once()
    assert len(calls) == 1
    release.set()
    assert monitor.check_once()  # the pending check came back fine
    assert status(servicer) == health_pb2.HealthCheckResponse.SERVING
    assert monitor.check_once() and len(calls) == 2


def test_liveness_is_computed_when_asked_and_ignores_readiness() -> None:
    problem: list[str | None] = [None]
    servicer = TruthfulHealthServicer(lambda: problem[0])
    monitor = ReadinessMonitor(
        servicer, [], {"broker": lambda: (_ for _ in ()).throw(ConnectionError("down"))}
    )
    assert not monitor.check_once()
    assert status(servicer) == health_pb2.HealthCheckResponse.NOT_SERVING
    assert status(servicer, LIVENESS_SERVICE) == health_pb2.HealthCheckResponse.SERVING
    problem[0] = "event-consumer-0 is stuck"
    assert status(servicer, LIVENESS_SERVICE) == health_pb2.HealthCheckResponse.NOT_SERVING
