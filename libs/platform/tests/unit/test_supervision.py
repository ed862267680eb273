"""Worker loops cannot die from an exception, a loop that ends anyway is restarted and counted, and
health tells a crashed, a stuck and a merely waiting loop apart."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest
from prometheus_client import REGISTRY

from salesplane_platform.consumer_runner import ConsumerRunner
from salesplane_platform.event_transport import IncomingRecord
from salesplane_platform.supervision import Heartbeat, SupervisedWorker, Supervisor


def restarts_of(worker: str) -> float:
    return REGISTRY.get_sample_value("worker_restarts_total", {"worker": worker}) or 0.0


def eventually(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_crashed_loop_is_reported_down_then_restarted_and_counted() -> None:
    stop = threading.Event()
    crashed = threading.Event()
    runs: list[int] = []

    def loop(stop_: threading.Event, heartbeat: Heartbeat) -> None:
        runs.append(1)
        heartbeat.beat()
        if len(runs) == 1:
            crashed.set()
            raise RuntimeError("injected crash")
        stop_.wait()

    supervisor = Supervisor(stop, stuck_after_seconds=60, restart_delay_seconds=0.3)
    worker = supervisor.spawn("crash-once", loop)
    crashed.wait(5)
    eventually(lambda: not worker.health().running)
    with pytest.raises(RuntimeError, match="crash-once is down"):
        supervisor.check_ready()
    assert supervisor.live_problem() is None  # one crash is no reason to restart the process
    eventually(lambda: worker.health().running and len(runs) == 2)
    supervisor.check_ready()
    assert worker.restarts == 1 and restarts_of("crash-once") == 1
    stop.set()
    assert supervisor.join(time.monotonic() + 5) == []


def test_a_loop_that_returns_while_the_process_runs_is_restarted() -> None:
    stop = threading.Event()
    runs: list[int] = []

    def loop(stop_: threading.Event, heartbeat: Heartbeat) -> None:
        runs.append(1)
        heartbeat.beat()
        if len(runs) < 3:
            return
        stop_.wait()

    supervisor = Supervisor(stop, stuck_after_seconds=60, restart_delay_seconds=0.01)
    supervisor.spawn("returns-early", loop)
    eventually(lambda: len(runs) == 3)
    assert restarts_of("returns-early") == 2
    stop.set()
    assert supervisor.join(time.monotonic() + 5) == []


def test_a_loop_without_heartbeat_for_too_long_is_stuck_neither_ready_nor_live() -> None:
    clock = Clock()
    stop, blocked = threading.Event(), threading.Event()

    def loop(stop_: threading.Event, heartbeat: Heartbeat) -> None:
        heartbeat.beat()
        blocked.wait()  # a call with no timeout

    worker = SupervisedWorker("blocked", loop, stop, stuck_after_seconds=30, clock=clock)
    worker.start()
    eventually(lambda: worker.heartbeat.beats == 1)
    clock.now += 29
    assert worker.health().ready and worker.health().live
    clock.now += 2
    health = worker.health()
    assert health.stuck and not health.ready and not health.live
    assert "blocked is stuck" in (health.problem() or "")
    stop.set()
    blocked.set()
    assert worker.join(5)


def test_a_loop_that_crashes_at_once_again_and_again_is_not_live() -> None:
    stop = threading.Event()

    def loop(stop_: threading.Event, heartbeat: Heartbeat) -> None:
        raise RuntimeError("broken configuration")

    supervisor = Supervisor(stop, stuck_after_seconds=60, restart_delay_seconds=0.001)
    worker = supervisor.spawn("crash-loop", loop)
    eventually(lambda: worker.health().crash_looping)
    assert "keeps crashing" in (supervisor.live_problem() or "")
    stop.set()
    assert supervisor.join(time.monotonic() + 5) == []


class BrokenTransport:
    """A subscriber whose every call fails for a while, as kafka-python does while the broker is
    down (poll, commit and seek raising connection errors)."""

    def __init__(self, records: Sequence[IncomingRecord], fail_polls: int, fail_commits: int) -> None:
        self._records = list(records)
        self.fail_polls = fail_polls
        self.fail_commits = fail_commits
        self.committed: list[int] = []

    def poll(self, max_records: int, timeout_seconds: float) -> list[IncomingRecord]:
        if self.fail_polls:
            self.fail_polls -= 1
            raise ConnectionError("111 ECONNREFUSED")
        records, self._records = self._records, []
        return records

    def commit(self, records: Sequence[IncomingRecord]) -> None:
        if self.fail_commits:
            self.fail_commits -= 1
            raise ConnectionError("111 ECONNREFUSED")
        self.committed.extend(r.offset for r in records)

    def rewind(self, records: Sequence[IncomingRecord]) -> None:
        raise ConnectionError("not connected")

    def close(self) -> None: ...


class CountingProcess(ConsumerRunner):
    """The runner with its database work replaced: only the loop's error handling is under test."""

    def __init__(self, subscriber: BrokenTransport) -> None:
        super().__init__(None, None, subscriber, None, poll_timeout_seconds=0.0)  # type: ignore[arg-type]
        self.applied: list[int] = []

    def process(self, records: Sequence[IncomingRecord]) -> int:
        self.applied.extend(r.offset for r in records)
        return len(records)


def test_the_consumer_loop_survives_failing_polls_and_commits_and_commits_later() -> None:
    records = [IncomingRecord("t", 0, offset, b"k", b"v") for offset in range(3)]
    transport = BrokenTransport(records, fail_polls=2, fail_commits=3)
    runner = CountingProcess(transport)
    stop = threading.Event()
    heartbeat = Heartbeat()
    thread = threading.Thread(target=runner.run, args=(stop, heartbeat))
    thread.start()
    # Three failed commits after the batch was applied; the fourth round commits its position.
    eventually(lambda: transport.committed == [2], timeout=10)
    stop.set()
    thread.join(5)
    assert runner.applied == [0, 1, 2]
    assert heartbeat.beats >= 5


class FailingApply(CountingProcess):
    def process(self, records: Sequence[IncomingRecord]) -> int:
        raise RuntimeError("database restarting")


def test_a_failed_apply_whose_rewind_also_fails_does_not_end_the_loop() -> None:
    transport = BrokenTransport([IncomingRecord("t", 0, 0, b"k", b"v")], fail_polls=0, fail_commits=0)
    runner = FailingApply(transport)
    stop = threading.Event()
    heartbeat = Heartbeat()
    thread = threading.Thread(target=runner.run, args=(stop, heartbeat))
    thread.start()
    eventually(lambda: heartbeat.beats >= 3, timeout=10)
    assert thread.is_alive()
    stop.set()
    thread.join(15)
    assert not thread.is_alive() and transport.committed == []
