"""gRPC health that tells the truth: SERVING only while the database and the event transport answer."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from grpc_health.v1 import health, health_pb2

from salesplane_platform import metrics

log = logging.getLogger(__name__)

Check = Callable[[], None]


class ReadinessMonitor:
    def __init__(
        self, servicer: health.HealthServicer, services: Sequence[str], checks: dict[str, Check]
    ) -> None:
        self._servicer = servicer
        # The whole server ("") last: whoever sees it SERVING sees every service SERVING too.
        self._services = [*services, ""]
        self._checks = checks
        self._failing: str | None = "starting"

    def check_once(self) -> bool:
        failing = None
        for name, check in self._checks.items():
            try:
                check()
            except Exception as error:
                failing = f"{name}: {error}"
                break
        if failing != self._failing:
            if failing:
                log.warning("not ready", extra={"reason": failing})
            else:
                log.info("ready")
        self._failing = failing
        status = (
            health_pb2.HealthCheckResponse.NOT_SERVING if failing else health_pb2.HealthCheckResponse.SERVING
        )
        for service in self._services:
            self._servicer.set(service, status)
        metrics.READY.set(0 if failing else 1)
        return failing is None

    def run(self, stop: threading.Event, interval_seconds: float = 2.0) -> None:
        while not stop.is_set():
            self.check_once()
            stop.wait(interval_seconds)
