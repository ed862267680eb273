"""Keeps a process's worker loops (consumers, the outbox relay, periodic jobs, readiness) running,
and tells the truth about them.

Each loop handles its own errors and backs off; the supervisor is the second line: a loop that
exits or raises anyway is logged, counted and started again after a growing delay. Every loop
beats a heartbeat once per iteration, including the iterations that fail while a dependency is
down, so three states are told apart:

* alive - beating; a broker or database outage keeps a loop alive (it beats while it backs off);
* down - it crashed and waits for its restart: the process is not ready;
* stuck - no beat for longer than its `stuck_after` (a call without a timeout, a deadlock): not
  ready, and not live either, so Kubernetes restarts the pod. Restarting a stuck thread in place
  is impossible in Python, so the process is the unit of restart. A loop that keeps crashing
  (`crash_loop_after` restarts without one good iteration between) is not live either.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from salesplane_platform import metrics

log = logging.getLogger(__name__)


class Heartbeat:
    """What a loop calls once per iteration to say it is making its rounds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last = clock()
        self.beats = 0

    def beat(self) -> None:
        self._last = self._clock()
        self.beats += 1

    def age(self) -> float:
        return self._clock() - self._last


Loop = Callable[[threading.Event, Heartbeat], None]


@dataclass(frozen=True)
class WorkerHealth:
    name: str
    running: bool
    stuck: bool
    restarts: int
    crash_looping: bool
    heartbeat_age_seconds: float

    @property
    def ready(self) -> bool:
        return self.running and not self.stuck

    @property
    def live(self) -> bool:
        return not self.stuck and not self.crash_looping

    def problem(self) -> str | None:
        if self.stuck:
            return f"{self.name} is stuck (no heartbeat for {self.heartbeat_age_seconds:.0f} s)"
        if self.crash_looping:
            return f"{self.name} keeps crashing ({self.restarts} restarts)"
        if not self.running:
            return f"{self.name} is down, waiting to be restarted"
        return None


class SupervisedWorker:
    """One loop in a thread of its own, restarted when it ends while the process is not stopping."""

    def __init__(
        self,
        name: str,
        loop: Loop,
        stop: threading.Event,
        *,
        stuck_after_seconds: float,
        restart_delay_seconds: float = 1.0,
        max_restart_delay_seconds: float = 30.0,
        crash_loop_after: int = 5,
        on_change: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._loop = loop
        self._stop = stop
        self._stuck_after = stuck_after_seconds
        self._restart_delay = restart_delay_seconds
        self._max_restart_delay = max_restart_delay_seconds
        self._crash_loop_after = crash_loop_after
        self._on_change = on_change
        self._clock = clock
        self.heartbeat = Heartbeat(clock)
        self.restarts = 0
        self._crashes_in_a_row = 0
        self._running = False
        self._thread = threading.Thread(target=self._supervise, name=name, daemon=True)
        metrics.WORKER_UP.labels(name).set_function(lambda: 1.0 if self.health().ready else 0.0)
        metrics.WORKER_HEARTBEAT_AGE.labels(name).set_function(self.heartbeat.age)
        metrics.WORKER_RESTARTS.labels(name)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the loop to end; whether it did."""
        self._thread.join(max(0.0, timeout))
        return not self._thread.is_alive()

    def health(self) -> WorkerHealth:
        age = self.heartbeat.age()
        return WorkerHealth(
            name=self.name,
            running=self._running,
            stuck=self._running and age > self._stuck_after,
            restarts=self.restarts,
            crash_looping=self._crashes_in_a_row >= self._crash_loop_after,
            heartbeat_age_seconds=age,
        )

    def _supervise(self) -> None:
        while not self._stop.is_set():
            beats_before = self.heartbeat.beats
            self._set_running(True)
            try:
                self._loop(self._stop, self.heartbeat)
                if self._stop.is_set():
                    return
                log.error("worker loop returned while the process runs; restarting it", extra=self._extra())
            except BaseException:
                if self._stop.is_set():
                    log.warning("worker loop failed while stopping", exc_info=True, extra=self._extra())
                    return
                log.exception("worker loop crashed; restarting it", extra=self._extra())
            finally:
                self._set_running(False)
            # A crash after good iterations starts the count again: only crashes with no work done
            # between them make a crash loop.
            did_work = self.heartbeat.beats > beats_before
            self._crashes_in_a_row = 1 if did_work else self._crashes_in_a_row + 1
            delay = min(self._restart_delay * 2 ** (self._crashes_in_a_row - 1), self._max_restart_delay)
            if self._stop.wait(delay):
                return
            self.restarts += 1
            metrics.WORKER_RESTARTS.labels(self.name).inc()
            self.heartbeat.beat()  # a fresh start is not stuck

    def _set_running(self, running: bool) -> None:
        self._running = running
        self._on_change()

    def _extra(self) -> dict[str, object]:
        return {"worker": self.name, "restarts": self.restarts}


class Supervisor:
    """The workers of one process, and their health taken together."""

    def __init__(
        self, stop: threading.Event, *, stuck_after_seconds: float, restart_delay_seconds: float = 1.0
    ) -> None:
        self._stop = stop
        self._stuck_after = stuck_after_seconds
        self._restart_delay = restart_delay_seconds
        self.workers: list[SupervisedWorker] = []
        # Set whenever a worker goes down or comes back, so readiness is re-checked at once.
        self.changed = threading.Event()

    def spawn(self, name: str, loop: Loop, *, stuck_after_seconds: float | None = None) -> SupervisedWorker:
        worker = SupervisedWorker(
            name,
            loop,
            self._stop,
            stuck_after_seconds=stuck_after_seconds or self._stuck_after,
            restart_delay_seconds=self._restart_delay,
            on_change=self.changed.set,
        )
        self.workers.append(worker)
        worker.start()
        return worker

    def health(self) -> list[WorkerHealth]:
        return [worker.health() for worker in self.workers]

    def check_ready(self) -> None:
        """Raise while any worker is down or stuck (a readiness check)."""
        problems = [h.problem() for h in self.health() if not h.ready]
        if problems:
            raise RuntimeError("; ".join(p for p in problems if p))

    def live_problem(self) -> str | None:
        """Why the process should be restarted, or None while every worker is live."""
        problems = [h.problem() for h in self.health() if not h.live]
        return "; ".join(p for p in problems if p) or None

    def join(self, deadline: float) -> list[str]:
        """Wait for every worker to end, until the monotonic `deadline`; the names still running."""
        return [w.name for w in self.workers if not w.join(deadline - time.monotonic())]
