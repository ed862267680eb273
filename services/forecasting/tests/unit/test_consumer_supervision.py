"""The forecasting process (SQLite and the local log, in this test process) when its consumer loop
is killed by an exception its own error handling does not catch: the event side's health says so
while it is down (the API's stays SERVING), the supervisor starts it again, and the restart is counted."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY

from salesplane_forecasting.entrypoints.main import DEFINITION
from salesplane_platform.health import EVENTS_SERVICE
from salesplane_platform.local_log import LocalLogSubscriber
from salesplane_testing.in_process import running_service


class InjectedCrash(BaseException):
    """Escapes the loop's `except Exception`, as a bug in the error handling itself would."""


def http_status(url: str) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_consumer_loop_killed_by_an_exception_is_restarted_and_reported_meanwhile(tmp_path, monkeypatch):
    armed = threading.Event()
    real_poll = LocalLogSubscriber.poll

    def poll(self, max_records: int, timeout_seconds: float):
        if armed.is_set():
            armed.clear()
            raise InjectedCrash("injected")
        return real_poll(self, max_records, timeout_seconds)

    monkeypatch.setattr(LocalLogSubscriber, "poll", poll)
    before = REGISTRY.get_sample_value("worker_restarts_total", {"worker": "event-consumer-0"}) or 0.0
    with running_service(DEFINITION, tmp_path, roles="api,relay,consumer") as service:
        health = health_pb2_grpc.HealthStub(service.channel)

        def status(name: str = "") -> str:
            reply = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=3)
            return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)

        ops = f"http://127.0.0.1:{service.process.metrics_port}"
        deadline = time.monotonic() + 10
        while status() != "SERVING":
            assert time.monotonic() < deadline, "never SERVING"
            time.sleep(0.02)
        assert http_status(f"{ops}/readyz")[0] == 200

        armed.set()
        seen_down = False
        deadline = time.monotonic() + 10
        while not seen_down:
            assert time.monotonic() < deadline, "health never reported the dead consumer"
            seen_down = status(EVENTS_SERVICE) == "NOT_SERVING"
            time.sleep(0.01)
        # The API still serves its calls: a dead consumer is the event side's problem.
        assert status() == "SERVING"
        code, body = http_status(f"{ops}/readyz")
        assert code == 503 and "event-consumer-0 is down" in body["reason"]
        # One crash is the supervisor's to mend, not a reason for Kubernetes to restart the pod.
        assert status("liveness") == "SERVING"
        assert http_status(f"{ops}/livez")[0] == 200

        deadline = time.monotonic() + 10
        while status(EVENTS_SERVICE) != "SERVING":
            assert time.monotonic() < deadline, "the consumer was not restarted"
            time.sleep(0.02)
        after = REGISTRY.get_sample_value("worker_restarts_total", {"worker": "event-consumer-0"})
        assert after == before + 1
        consumer = next(w for w in service.process.supervisor.workers if w.name == "event-consumer-0")
        beats = consumer.heartbeat.beats
        deadline = time.monotonic() + 10
        while consumer.heartbeat.beats <= beats + 2:
            assert time.monotonic() < deadline, "the restarted consumer does not poll"
            time.sleep(0.05)
        assert REGISTRY.get_sample_value("worker_up", {"worker": "event-consumer-0"}) == 1
