"""SIGKILL at random moments, in a loop, of every process of the system under a mixed load: each
service split as Kubernetes runs it (an API process, a relay process, a consumer process, one
database), the gateway, and the leads and opportunities APIs in the middle of a conversion. A killed
process is started again, as its pod would be. Afterwards every derived state equals its oracle,
nothing acknowledged is lost, no conversion made two deals, and clients only ever saw retryable
refusals (or, for the killed gateway itself, a refused connection: a load balancer's to route
around)."""

from __future__ import annotations

import random
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.leads.v1 import leads_pb2, leads_pb2_grpc
from salesplane_testing.processes import GatewayHandle, ServiceHandle
from tests.e2e.conftest import bearer
from tests.faults.conftest import LONG
from tests.faults.full_stack import FullStack, running
from tests.faults.load import OWNERS, RETRYABLE
from tests.faults.state_oracles import converted_deals
from tests.faults.test_whole_system_faults import check_and_report

pytestmark = pytest.mark.e2e

KILL_LOOP_S = 300.0 if LONG else 45.0
# A process started again on a machine busy with a dozen others may take a while to serve.
RESTART_TIMEOUT_S = 180.0
MOST_DOWN_AT_ONCE = 3
ROLES = ("relay", "consumer")


@dataclass
class SplitStack(FullStack):
    """Each service as three processes on one database: `services[name]` serves the API,
    `workers[name][role]` runs its outbox relay or its consumers."""

    workers: dict[str, dict[str, ServiceHandle]] = field(default_factory=dict)

    def start(self, name: str, env: dict[str, str] | None = None) -> ServiceHandle:
        api = super().start(name, {**(env or {}), "SALESPLANE_ROLES": "api"})
        self.workers[name] = {}
        for role in ROLES:
            handle = ServiceHandle(
                name=f"{name}-{role}",
                program=name,
                env={
                    **api.env,
                    "SALESPLANE_ROLES": role,
                    "SALESPLANE_CONSUMER_INSTANCE_ID": f"{name}-{role}-0",
                },
                log_dir=self.log_dir,
            )
            self.workers[name][role] = handle
            handle.start()
        return api

    def every_process(self) -> dict[str, ServiceHandle | GatewayHandle]:
        every: dict[str, ServiceHandle | GatewayHandle] = {f"{n}-api": h for n, h in self.services.items()}
        every.update({h.name: h for roles in self.workers.values() for h in roles.values()})
        if self.gateway is not None:
            every["gateway"] = self.gateway
        return every

    def processes(self) -> dict[str, ServiceHandle | GatewayHandle]:
        return self.every_process()

    def _processes(self) -> list[str]:
        found = []
        for name in self.services:
            for service in ("", "liveness"):
                if (status := self.health(name, service)) != "SERVING":
                    found.append(f"{name} API health {service or 'readiness'} {status}")
        for roles in self.workers.values():
            for role, handle in roles.items():
                body = urllib.request.urlopen(f"http://127.0.0.1:{handle.metrics_port}/metrics", timeout=5)
                up = {
                    s.labels["worker"]: s.value
                    for family in text_string_to_metric_families(body.read().decode())
                    for s in family.samples
                    if s.name == "worker_up"
                }
                wanted = "outbox-relay" if role == "relay" else "event-consumer"
                if not any(w.startswith(wanted) for w in up) or any(v != 1 for v in up.values()):
                    found.append(f"{handle.name} workers not all up: {up}")
        return found


@pytest.fixture
def split_stack(tmp_path: Path) -> Iterator[SplitStack]:
    with running(SplitStack, tmp_path) as stack:
        yield stack


class Conversions:
    """Leads of its own, each converted while the leads or opportunities API is SIGKILLed a few
    milliseconds into the call, then converted again until it succeeds (as a client retries)."""

    def __init__(self, stack: SplitStack, rng: random.Random) -> None:
        self._stack = stack
        self._rng = rng
        self.interrupted: dict[str, str] = {}  # lead id -> its rep
        self.converted: dict[str, str] = {}  # lead id -> deal id
        self.refused: Counter[str] = Counter()

    def _api(self) -> tuple[grpc.Channel, leads_pb2_grpc.LeadServiceStub]:
        channel = grpc.insecure_channel(self._stack.services["leads"].target)
        return channel, leads_pb2_grpc.LeadServiceStub(channel)

    def _request(self, lead_id: str) -> leads_pb2.ConvertLeadRequest:
        return leads_pb2.ConvertLeadRequest(
            lead_id=lead_id,
            opportunity_name=f"Converted {lead_id[:8]}",
            amount=Money(currency_code="USD", amount_minor=12_345_00),
            expected_close_date=Date(year=2026, month=12, day=18),
        )

    def kill_mid_conversion(self, victim: ServiceHandle) -> None:
        rep = self._rng.choice(OWNERS)
        channel, api = self._api()
        with channel:
            try:
                lead = api.CreateLead(
                    leads_pb2.CreateLeadRequest(
                        lead=leads_pb2.LeadFields(
                            first_name="Kim", last_name="Kill", company=f"Co {uuid.uuid4()}"
                        ),
                        assigned_user_id=rep,
                        on_duplicate=leads_pb2.DUPLICATE_POLICY_INSIST,
                        request_id=f"kill-{uuid.uuid4()}",
                    ),
                    metadata=bearer(),
                    timeout=5,
                ).lead
                api.QualifyLead(
                    leads_pb2.QualifyLeadRequest(
                        lead_id=lead.id,
                        qualification=leads_pb2.Qualification(
                            budget=Money(currency_code="USD", amount_minor=50_000_00),
                            authority=leads_pb2.AUTHORITY_DECISION_MAKER,
                            need=leads_pb2.NEED_HIGH,
                            timeline=Date(year=2026, month=12, day=15),
                        ),
                    ),
                    metadata=bearer(rep, ("rep",)),
                    timeout=5,
                )
            except grpc.RpcError as error:  # another kill of the loop got there first
                self.refused[error.code().name] += 1
                return
            call = api.ConvertLead.future(self._request(lead.id), metadata=bearer(rep, ("rep",)), timeout=10)
            time.sleep(self._rng.uniform(0.0, 0.08))
            victim.kill()
            self.interrupted[lead.id] = rep
            try:
                self.converted[lead.id] = call.result().opportunity_id  # it finished before the kill
            except grpc.RpcError as error:
                self.refused[error.code().name] += 1

    def complete(self) -> None:
        """Every interrupted conversion, retried until it answers."""
        channel, api = self._api()
        with channel:
            for lead_id, rep in self.interrupted.items():
                deadline = time.monotonic() + 60
                while True:
                    try:
                        answer = api.ConvertLead(
                            self._request(lead_id), metadata=bearer(rep, ("rep",)), timeout=10
                        )
                        break
                    except grpc.RpcError as error:
                        self.refused[error.code().name] += 1
                        assert error.code().name in RETRYABLE and time.monotonic() < deadline, error
                        time.sleep(0.5)
                known = self.converted.setdefault(lead_id, answer.opportunity_id)
                assert known == answer.opportunity_id, f"lead {lead_id} answered two deals"


class Restarts:
    """Killed processes started again in the background after a short delay, as Kubernetes
    restarts a pod, while the loop goes on killing others."""

    def __init__(self) -> None:
        self._threads: dict[str, threading.Thread] = {}
        self.failures: list[str] = []

    def busy(self, label: str) -> bool:
        thread = self._threads.get(label)
        return thread is not None and thread.is_alive()

    def later(self, label: str, handle: ServiceHandle | GatewayHandle, delay: float) -> None:
        def run() -> None:
            time.sleep(delay)
            try:
                handle.start(timeout=RESTART_TIMEOUT_S)
            except Exception as error:
                self.failures.append(f"{label}: {error}")

        self._threads[label] = thread = threading.Thread(target=run, name=f"restart-{label}", daemon=True)
        thread.start()

    def wait(self) -> None:
        for thread in self._threads.values():
            thread.join(timeout=RESTART_TIMEOUT_S + 10)


def test_every_process_sigkilled_in_a_loop_under_mixed_load_loses_and_doubles_nothing(
    split_stack: SplitStack,
) -> None:
    rng = random.Random(20261204)
    kills: Counter[str] = Counter()
    conversions = Conversions(split_stack, rng)
    restarts = Restarts()
    # Every process is killed at least once, and each API once mid-conversion, in a random order;
    # then random ones until the time is up (the first round may take up to five times as long on a
    # slow machine, where a process takes long to start again).
    first_round = [*split_stack.every_process(), "leads mid-conversion", "opportunities mid-conversion"]
    rng.shuffle(first_round)
    with split_stack.mixed_load() as load:
        load.wait_for_writes(30)
        began = time.monotonic()
        while time.monotonic() - began < (5 * KILL_LOOP_S if first_round else KILL_LOOP_S):
            if not first_round and time.monotonic() - began >= KILL_LOOP_S:
                break
            time.sleep(rng.uniform(0.5, 2.0))
            alive = {k: h for k, h in split_stack.every_process().items() if not restarts.busy(k)}
            if len(alive) <= len(split_stack.every_process()) - MOST_DOWN_AT_ONCE:
                continue  # as a pod disruption budget would: a few processes down at a time
            ready = [c for c in first_round if c.split()[0] in alive or f"{c.split()[0]}-api" in alive]
            choice = ready[0] if ready else ("" if first_round else rng.choice(sorted(alive)))
            if not choice:
                continue
            if choice in first_round:
                first_round.remove(choice)
            if choice.endswith("mid-conversion"):
                if "leads-api" not in alive:
                    first_round.append(choice)
                    continue
                name = choice.split()[0]
                conversions.kill_mid_conversion(split_stack.services[name])
                restarts.later(f"{name}-api", split_stack.services[name], rng.uniform(0.0, 1.0))
                kills[f"{name}-api mid-conversion"] += 1
                continue
            victim = split_stack.every_process()[choice]
            victim.kill()
            kills[choice] += 1
            restarts.later(choice, victim, rng.uniform(0.0, 1.5))
        ended = time.monotonic()
        restarts.wait()
        time.sleep(1.0)
    assert not restarts.failures, restarts.failures
    conversions.complete()
    print(f"\nkills in {KILL_LOOP_S:.0f} s: {dict(sorted(kills.items()))}")
    print(f"conversions interrupted {len(conversions.interrupted)}, refused {dict(conversions.refused)}")
    assert conversions.interrupted, "no conversion was interrupted"
    assert not first_round, f"never killed: {first_round}"
    check_and_report(
        split_stack, f"SIGKILL loop, {sum(kills.values())} kills in {KILL_LOOP_S:.0f} s", load, ended
    )
    # The interrupted conversions: one deal each, the one the retry named.
    counts = converted_deals(split_stack.database("opportunities"))
    assert all(counts.get(lead) == 1 for lead in conversions.converted), "a conversion made no or two deals"
    assert not {c: n for c, n in conversions.refused.items() if c not in RETRYABLE}
