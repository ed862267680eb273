"""The broker crashes or stalls under a steady load of deal writes: nothing acknowledged is lost,
clients only ever see retryable codes, and afterwards every loop runs again by itself: consumer
lag back to zero, outbox empty, rollups equal to the oracle, no process restarted."""

from __future__ import annotations

import time

import pytest

from tests.faults.conftest import (
    BROKER_DOWN_S,
    BROKER_STALL_S,
    DELIVERY_TIMEOUT_S,
    LOAD_SECONDS,
    SHUTDOWN_GRACE_S,
    FaultStack,
    report,
)
from tests.faults.load import Ledger, SteadyLoad

pytestmark = pytest.mark.e2e


def check_and_report(stack: FaultStack, fault: str, ledger: Ledger, fault_ended: float) -> None:
    """Wait for recovery (every check holds), then prove the system still works under new load."""
    recovery = stack.wait_recovered(fault_ended)
    # The system keeps working after it recovered, not just caught up once.
    with SteadyLoad(stack.services["opportunities"].target, seed=99) as more:
        more.wait_for_writes(20)
    stack.wait_recovered(time.monotonic())
    ledger.acknowledged.update(more.ledger.acknowledged)
    ledger.refused.update(more.ledger.refused)
    for deal, version in more.ledger.versions.items():
        ledger.versions[deal] = max(version, ledger.versions.get(deal, 0))
    report(fault, ledger, stack, recovery)
    assert not ledger.forbidden_codes(), f"clients saw {ledger.forbidden_codes()}"
    assert not stack.lost_writes(ledger), "acknowledged writes are missing"
    for handle in stack.services.values():
        assert handle.process is not None and handle.process.poll() is None, f"{handle.name} exited"
        assert handle.starts == 1
        restarts = stack.worker_metrics(handle.name)["worker_restarts_total"]
        assert not any(restarts.values()), f"{handle.name}: loops had to be restarted: {restarts}"


def test_a_broker_killed_and_restarted_on_its_own_data_loses_and_stops_nothing(stack: FaultStack) -> None:
    with SteadyLoad(stack.services["opportunities"].target) as load:
        load.wait_for_writes(40)
        time.sleep(LOAD_SECONDS)
        stack.broker.kill()
        time.sleep(BROKER_DOWN_S)
        stack.broker.restart()
        ended = time.monotonic()
    check_and_report(
        stack,
        f"broker SIGKILL, restarted on its data after {BROKER_DOWN_S:.0f} s",
        load.ledger,
        ended,
    )


def test_a_broker_stalled_past_the_delivery_timeout_is_survived_by_the_relay(stack: FaultStack) -> None:
    assert BROKER_STALL_S > DELIVERY_TIMEOUT_S + 4
    with SteadyLoad(stack.services["opportunities"].target) as load:
        load.wait_for_writes(40)
        time.sleep(LOAD_SECONDS)
        stack.broker.pause()
        stalled = time.monotonic()
        readiness_seen: set[str] = set()
        while time.monotonic() - stalled < BROKER_STALL_S:
            # A dependency outage: not ready, but alive (no reason for Kubernetes to restart pods).
            readiness_seen.add(stack.health("forecasting"))
            assert stack.health("forecasting", "liveness") == "SERVING"
            assert stack.health("opportunities", "liveness") == "SERVING"
            time.sleep(1.0)
        stack.broker.resume()
        ended = time.monotonic()
    assert "NOT_SERVING" in readiness_seen, "readiness said SERVING throughout a broker stall"
    check_and_report(
        stack,
        f"broker SIGSTOP {BROKER_STALL_S:.0f} s (delivery timeout {DELIVERY_TIMEOUT_S:.0f} s), then SIGCONT",
        load.ledger,
        ended,
    )


def test_sigterm_ends_every_service_within_its_grace_period_while_the_broker_is_stalled(
    stack: FaultStack,
) -> None:
    with SteadyLoad(stack.services["opportunities"].target) as load:
        load.wait_for_writes(40)
        stack.broker.pause()
        time.sleep(3)  # writes keep committing to the outbox; the relay and consumers now wait
    try:
        for handle in stack.services.values():
            began = time.monotonic()
            code = handle.stop(timeout=SHUTDOWN_GRACE_S + 5)
            took = time.monotonic() - began
            assert code == 0, f"{handle.name} exited with {code}"
            assert took <= SHUTDOWN_GRACE_S + 2, f"{handle.name} took {took:.1f} s to stop"
    finally:
        stack.broker.resume()
    assert not load.ledger.forbidden_codes()
