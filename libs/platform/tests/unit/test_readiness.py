"""Readiness answers within its deadline even when a dependency hangs, and never piles up checks."""

from __future__ import annotations

import threading

from grpc_health.v1 import health, health_pb2

from salesplane_platform.health import (
    EVENTS_SERVICE,
    LIVENESS_SERVICE,
    ReadinessMonitor,
    TruthfulHealthServicer,
)


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


def test_the_api_stays_ready_while_only_the_event_side_fails() -> None:
    broker_down: list[bool] = [True]

    def broker() -> None:
        if broker_down[0]:
            raise ConnectionError("no broker")

    servicer = TruthfulHealthServicer(lambda: None)
    monitor = ReadinessMonitor(
        servicer,
        ["salesplane.x.v1.X"],
        {"database": lambda: None, "event transport": broker},
        serving_checks={"database"},
    )
    assert not monitor.check_once()
    assert monitor.failing == "event transport: no broker"
    assert status(servicer) == health_pb2.HealthCheckResponse.SERVING
    assert status(servicer, "salesplane.x.v1.X") == health_pb2.HealthCheckResponse.SERVING
    assert status(servicer, EVENTS_SERVICE) == health_pb2.HealthCheckResponse.NOT_SERVING
    broker_down[0] = False
    assert monitor.check_once()
    assert status(servicer, EVENTS_SERVICE) == health_pb2.HealthCheckResponse.SERVING


def test_a_failing_database_takes_the_api_and_the_event_side_out() -> None:
    def database() -> None:
        raise ConnectionError("no database")

    servicer = TruthfulHealthServicer(lambda: None)
    monitor = ReadinessMonitor(
        servicer, [], {"event transport": lambda: None, "database": database}, serving_checks={"database"}
    )
    assert not monitor.check_once()
    assert monitor.failing == "database: no database"
    assert status(servicer) == health_pb2.HealthCheckResponse.NOT_SERVING
    assert status(servicer, EVENTS_SERVICE) == health_pb2.HealthCheckResponse.NOT_SERVING
