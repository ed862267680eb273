"""Health that tells the truth, as three answers of the gRPC health service:

* a served API (each service name, and "" for the whole server: what Kubernetes' readiness probe
  asks) is SERVING while this process can serve a call now: its own dependencies answer (the
  database). Not the broker: writes still commit, their events wait in the outbox, and reads are
  served; taking every pod out of its Service because the shared broker is away would turn a
  delay of events into an outage of the API.
* "events" is SERVING while the event side works too: the event transport answers and every
  worker loop (relay, consumers, periodic jobs) runs. Split-mode worker pods' readiness (/readyz on
  the operations port) is this answer, as is the `service_ready` gauge.
* "liveness" unless a worker loop is stuck or keeps crashing: a dependency outage never restarts
  a pod."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Sequence
from typing import Any

from grpc_health.v1 import health, health_pb2

from salesplane_platform import metrics
from salesplane_platform.supervision import Heartbeat

log = logging.getLogger(__name__)

Check = Callable[[], None]


class ReadinessMonitor:
    def __init__(
        self,
        servicer: health.HealthServicer,
        services: Sequence[str],
        checks: dict[str, Check],
        *,
        serving_checks: Collection[str] | None = None,
        check_timeout_seconds: float = 10.0,
    ) -> None:
        """`serving_checks` names the checks the API's readiness needs (all of them when None);
        the others only gate EVENTS_SERVICE."""
        self._servicer = servicer
        # The whole server ("") last: whoever sees it SERVING sees every service SERVING too.
        self._services = [*services, ""]
        self._checks = checks
        self._serving_checks = frozenset(checks if serving_checks is None else serving_checks)
        self._timeout = check_timeout_seconds
        self._failing: str | None = "starting"
        # A check still waiting on a dependency that does not answer (a stalled database): asked
        # again only once it has returned, so hung checks never pile up.
        self._waiting: dict[str, tuple[threading.Thread, list[BaseException | None]]] = {}

    def check_once(self) -> bool:
        """Run every check; True when all passed (the API's and the event side's readiness)."""
        # The API's checks first; the first failure ends the round, so one hung dependency costs
        # one deadline per round (the readiness loop's heartbeat must keep beating).
        ordered = sorted(self._checks.items(), key=lambda item: item[0] not in self._serving_checks)
        failing: str | None = None
        serving_failing: str | None = None
        for name, check in ordered:
            error = self._run_check(name, check)
            if error is not None:
                failing = f"{name}: {error}"
                if name in self._serving_checks:
                    serving_failing = failing
                break
        if failing != self._failing:
            if failing:
                log.warning("not ready", extra={"reason": failing, "api_ready": serving_failing is None})
            else:
                log.info("ready")
        self._failing = failing
        for service in self._services:
            self._servicer.set(service, _status(serving_failing is None))
        self._servicer.set(EVENTS_SERVICE, _status(failing is None))
        metrics.READY.set(0 if failing else 1)
        return failing is None

    def _run_check(self, name: str, check: Check) -> str | None:
        """Run `check` with a deadline; the error, or None when it passed."""
        if name not in self._waiting:
            outcome: list[BaseException | None] = []

            def run() -> None:
                try:
                    check()
                    outcome.append(None)
                except BaseException as error:
                    outcome.append(error)

            thread = threading.Thread(target=run, name=f"readiness-{name}", daemon=True)
            thread.start()
            self._waiting[name] = (thread, outcome)
        thread, outcome = self._waiting[name]
        thread.join(self._timeout)
        if thread.is_alive():
            return f"no answer within {self._timeout:.0f} s"
        del self._waiting[name]
        return None if outcome[0] is None else str(outcome[0])

    @property
    def failing(self) -> str | None:
        """Why the process (its event side included) is not ready at the last check, or None."""
        return self._failing

    def run(
        self,
        stop: threading.Event,
        heartbeat: Heartbeat | None = None,
        *,
        interval_seconds: float = 2.0,
        changed: threading.Event | None = None,
    ) -> None:
        """Check every `interval_seconds`, and at once whenever `changed` is set."""
        changed = changed or threading.Event()
        while not stop.is_set():
            if heartbeat is not None:
                heartbeat.beat()
            changed.clear()
            self.check_once()
            changed.wait(interval_seconds)


# The health-service name of the event side: transport and worker loops (see the module's text).
EVENTS_SERVICE = "events"
# The health-service name Kubernetes' liveness probe asks for. It is about being stuck only: a
# database or broker outage leaves it SERVING (a restart would not bring them back), while a
# worker loop that is stuck or keeps crashing makes it NOT_SERVING, so the pod is restarted.
LIVENESS_SERVICE = "liveness"

LiveProblem = Callable[[], "str | None"]


class TruthfulHealthServicer(health.HealthServicer):  # type: ignore[misc]  # grpc_health has no types
    """grpc's health servicer, with liveness computed when asked rather than stored: a stuck
    thread that should have stored it cannot."""

    def __init__(self, live_problem: LiveProblem) -> None:
        super().__init__(experimental_non_blocking=True)
        self._live_problem = live_problem
        self._statuses: dict[str, int] = {}
        self._statuses_lock = threading.Lock()

    def set(self, service: str, status: health_pb2.HealthCheckResponse.ServingStatus.ValueType) -> None:
        """grpc's servicer sends every set() to every Watch stream, changed or not, and readiness
        is set every 2 s: only a change is passed on, so a watcher hears of changes only."""
        with self._statuses_lock:
            if self._statuses.get(service) == status:
                return
            self._statuses[service] = status
            super().set(service, status)

    def Check(self, request: health_pb2.HealthCheckRequest, context: Any) -> health_pb2.HealthCheckResponse:
        if request.service == LIVENESS_SERVICE:
            return health_pb2.HealthCheckResponse(status=liveness_status(self._live_problem))
        return super().Check(request, context)


def liveness_status(live_problem: LiveProblem) -> health_pb2.HealthCheckResponse.ServingStatus.ValueType:
    problem = live_problem()
    metrics.LIVE.set(0 if problem else 1)
    if problem:
        log.error("not live", extra={"reason": problem})
        return health_pb2.HealthCheckResponse.NOT_SERVING
    return health_pb2.HealthCheckResponse.SERVING


def _status(ok: bool) -> health_pb2.HealthCheckResponse.ServingStatus.ValueType:
    return health_pb2.HealthCheckResponse.SERVING if ok else health_pb2.HealthCheckResponse.NOT_SERVING
