"""The broker crashes or stalls under a steady load of deal writes: nothing acknowledged is lost,
clients only ever see retryable codes, and afterwards every loop runs again by itself: consumer
lag back to zero, outbox empty, rollups equal to the oracle, no process restarted."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

from salesplane_platform.health import EVENTS_SERVICE
from salesplane_testing.go_tools import go_tool
from tests.faults.alert_replay import RULES, humanize_duration, input_series, rule_test, run_rule_test
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
from tests.faults.probe_samples import ProbeSampler, ServiceProbes

pytestmark = pytest.mark.e2e
# The scrape interval of the recorded series.
SAMPLE_S = 2.0
OUTBOX_STALE_DESCRIPTION = next(
    rule["annotations"]["description"]
    for group in yaml.safe_load(RULES.read_text())["groups"]
    for rule in group["rules"]
    if rule.get("alert") == "SalesplaneOutboxStale"
)


def require_promtool() -> str:
    found = go_tool("promtool")
    if found is None:
        message = "promtool not found; run tools/install-promtool.sh (make test does)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return found


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


def test_a_broker_down_for_a_minute_under_load_keeps_the_api_serving_and_fires_the_outbox_alert(
    stack: FaultStack, tmp_path: Path
) -> None:
    """SIGKILL, 60 s away, restarted on its own data. What Kubernetes and Prometheus would see:
    the API stays ready (its writes commit to the outbox), the event side's readiness goes down and
    comes back, liveness never fails, and the stale-outbox alert fires on the recorded series
    (promtool) and clears after; nothing acknowledged is lost or counted twice."""
    promtool = require_promtool()
    probes = {name: ServiceProbes(h.target, h.metrics_port) for name, h in stack.services.items()}
    with ProbeSampler(probes, interval=SAMPLE_S) as sampler:
        with SteadyLoad(stack.services["opportunities"].target) as load:
            load.wait_for_writes(40)
            time.sleep(LOAD_SECONDS)
            sampler.mark("down")
            stack.broker.kill()
            written_before = load.ledger.acknowledged_writes
            time.sleep(BROKER_DOWN_S)
            written_during = load.ledger.acknowledged_writes - written_before
            sampler.mark("up")
            stack.broker.restart()
            ended = time.monotonic()
        stack.wait_recovered(ended)
        time.sleep(3 * SAMPLE_S)  # a few scrapes of the recovered system

    # Writes went on: about 40 a second for the whole minute.
    assert written_during > BROKER_DOWN_S * 10, f"only {written_during} writes while the broker was away"
    down, up = sampler.index("down"), sampler.index("up")
    for name, service in probes.items():
        during = [s for s in service.samples[down + 1 : up] if s is not None]
        everything = [s for s in service.samples if s is not None]
        assert len(during) >= 0.8 * (up - down - 1), f"{name}: scrapes were missed"
        assert {s.health["live"] for s in everything} == {"SERVING"}, name
        assert {s.http["/livez"] for s in everything} == {200}, name
        assert {s.health["api_ready"] for s in everything} == {"SERVING"}, name
        assert "NOT_SERVING" in {s.health["events_ready"] for s in during}, name
        assert 503 in {s.http["/readyz"] for s in during}, name
        assert 0 in {s.series.get("service_ready") for s in during}, name
        last = everything[-1]
        assert (last.health["events_ready"], last.http["/readyz"]) == ("SERVING", 200), name

    opportunities = probes["opportunities"]
    before_restart = next(s for s in reversed(opportunities.samples[:up]) if s is not None)
    oldest = int(before_restart.series["outbox_oldest_event_age_seconds"])
    assert oldest >= BROKER_DOWN_S - 2 * SAMPLE_S
    job = "salesplane-opportunities"
    stale = "SalesplaneOutboxStale"
    last = len(opportunities.samples) - 1

    def at(index: int) -> str:  # a grid point as promtool's evaluation time
        return f"{index * SAMPLE_S:g}s"

    verdict = run_rule_test(
        promtool,
        rule_test(
            SAMPLE_S,
            input_series(job, "opportunities-0", opportunities),
            [
                {"eval_time": at(down), "alertname": stale, "exp_alerts": []},
                {
                    "eval_time": at(opportunities.samples.index(before_restart)),
                    "alertname": stale,
                    "exp_alerts": [
                        {
                            "exp_labels": {"severity": "critical", "job": job},
                            "exp_annotations": {
                                "summary": f"{job}: the oldest unpublished event is "
                                f"{humanize_duration(oldest)} old",
                                "description": OUTBOX_STALE_DESCRIPTION,
                            },
                        }
                    ],
                },
                {"eval_time": at(last), "alertname": stale, "exp_alerts": []},
                {"eval_time": at(last), "alertname": "SalesplaneWorkerStuck", "exp_alerts": []},
            ],
        ),
        tmp_path,
    )
    assert "SUCCESS" in verdict
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
            readiness_seen.add(stack.health("forecasting", EVENTS_SERVICE))
            assert stack.health("forecasting", "liveness") == "SERVING"
            assert stack.health("opportunities", "liveness") == "SERVING"
            # The API serves on: its writes commit to the outbox.
            assert stack.health("opportunities") == "SERVING"
            time.sleep(1.0)
        stack.broker.resume()
        ended = time.monotonic()
    assert "NOT_SERVING" in readiness_seen, "the event side said SERVING throughout a broker stall"
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
