"""A stack of its own for each fault test: a Kafka broker and a durable PostgreSQL that the test
may kill, stop and restart, and the opportunities and forecasting services as processes on them.

`SALESPLANE_FAULT_LONG=1` (make test-faults) runs the faults at production timings (the default
30 s delivery timeout, a 40 s broker stall); the short form in `make test` scales them down."""

from __future__ import annotations

import os
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from salesplane_platform import topics
from salesplane_testing.artefacts import artefacts_dir
from salesplane_testing.kafka_broker import KafkaBroker
from salesplane_testing.postgres_server import DURABLE_SETTINGS, PostgresServer
from salesplane_testing.processes import GatewayHandle, ServiceHandle, free_port
from tests.e2e.conftest import PEERS, SECRET
from tests.e2e.rollup_oracle import COLUMNS, actual_rollups, differences, expected_rollups, version_gaps
from tests.e2e.story_helpers import await_organisation
from tests.e2e.test_rollups_survive_kills import ORG, set_manager
from tests.faults.load import Ledger

LONG = os.environ.get("SALESPLANE_FAULT_LONG", "") == "1"
DELIVERY_TIMEOUT_S = 30.0 if LONG else 8.0
BROKER_STALL_S = 40.0 if LONG else 14.0
# A minute: long enough for the stale-outbox alert (15 s for 30 s) to fire.
BROKER_DOWN_S = 60.0
LOAD_SECONDS = 20.0 if LONG else 4.0
# Every check of "recovered" must hold within this many seconds of the fault's end.
RECOVERY_LIMIT_S = 90.0
SHUTDOWN_GRACE_S = 10.0
OPPORTUNITIES_TOPIC = topics.OPPORTUNITIES

pytestmark = pytest.mark.e2e


@dataclass
class FaultStack:
    broker: KafkaBroker
    postgres: PostgresServer
    prefix: str
    log_dir: Path
    services: dict[str, ServiceHandle] = field(default_factory=dict)
    # The port each service will serve on, known before any starts, so each is told where its
    # peers are (the leads service converts through opportunities) whatever the start order.
    ports: dict[str, int] = field(default_factory=lambda: {name: free_port() for name in PEERS})

    @property
    def targets(self) -> dict[str, str]:
        return {f"SALESPLANE_{n.upper()}_TARGET": f"127.0.0.1:{p}" for n, p in self.ports.items()}

    def start(self, name: str, env: dict[str, str] | None = None) -> ServiceHandle:
        database = self.postgres.create_database(f"{name}_{uuid.uuid4().hex[:8]}")
        handle = ServiceHandle(
            name=name,
            grpc_port=self.ports[name],
            env={
                **self.targets,
                "SALESPLANE_DATABASE_URL": database,
                "SALESPLANE_KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
                "SALESPLANE_TOPIC_PREFIX": self.prefix,
                "SALESPLANE_AUTH_SECRET": SECRET,
                "SALESPLANE_DATA_DIR": str(self.log_dir / name),
                "SALESPLANE_SHUTDOWN_GRACE_SECONDS": str(SHUTDOWN_GRACE_S),
                "SALESPLANE_CONSUMER_INSTANCE_ID": f"{name}-0",
                "SALESPLANE_KAFKA_DELIVERY_TIMEOUT_MS": str(int(DELIVERY_TIMEOUT_S * 1000)),
                **(env or {}),
            },
            log_dir=self.log_dir,
        )
        # Known before it starts, so a start that times out still leaves it to be stopped.
        self.services[name] = handle
        handle.start()
        return handle

    def database(self, name: str) -> str:
        return self.services[name].env["SALESPLANE_DATABASE_URL"]

    def processes(self) -> dict[str, ServiceHandle | GatewayHandle]:
        return dict(self.services)

    def stop_all(self) -> None:
        """SIGTERM every process, the last started first; SIGKILL what outlasts its grace."""
        for handle in reversed(list(self.processes().values())):
            try:
                handle.stop(timeout=SHUTDOWN_GRACE_S + 20)
            except Exception:
                handle.kill()

    # ------------------------------------------------------------ what "recovered" means

    def outbox_rows(self, name: str) -> int:
        engine = create_engine(self.database(name))
        try:
            with engine.connect() as connection:
                return int(connection.execute(text("SELECT count(*) FROM outbox")).scalar_one())
        finally:
            engine.dispose()

    def consumer_lag(self, group: str, *topics_read: str) -> int:
        """Records on the topics past the group's committed position (an independent client)."""
        admin = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap_servers, request_timeout_ms=5000)
        consumer = KafkaConsumer(bootstrap_servers=self.broker.bootstrap_servers, request_timeout_ms=5000)
        try:
            group_id = f"{self.prefix}{group}"
            committed = admin.list_group_offsets(group_id)[group_id]
            partitions = [TopicPartition(f"{self.prefix}{t}", p) for t in topics_read for p in range(6)]
            ends = consumer.end_offsets(partitions)
            return sum(
                end - max(0, committed[tp].offset if tp in committed else 0) for tp, end in ends.items()
            )
        finally:
            consumer.close()
            admin.close()

    def worker_metrics(self, name: str) -> dict[str, dict[str, float]]:
        """worker_up and worker_restarts_total by worker, from the service's /metrics."""
        port = self.services[name].metrics_port
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        found: dict[str, dict[str, float]] = {"worker_up": {}, "worker_restarts_total": {}}
        for family in text_string_to_metric_families(body):
            for sample in family.samples:
                if sample.name in found:
                    found[sample.name][sample.labels["worker"]] = sample.value
        return found

    def health(self, name: str, service: str = "") -> str:
        with grpc.insecure_channel(self.services[name].target) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=3
            )
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)

    def problems(self) -> list[str]:
        """What still differs from a recovered system; empty once it has recovered."""
        found: list[str] = []
        for check in (self._outboxes, self._lag, self._rollups, self._processes):
            try:
                found += check()
            except Exception as error:  # a check that cannot run yet (broker still starting)
                found.append(f"{check.__name__} failed: {error!r}")
        return found

    def _outboxes(self) -> list[str]:
        return [f"{n} outbox holds {rows} rows" for n in self.services if (rows := self.outbox_rows(n))]

    def _lag(self) -> list[str]:
        lag = self.consumer_lag("forecasting", OPPORTUNITIES_TOPIC)
        return [f"forecasting consumer lag {lag}"] if lag else []

    def _rollups(self) -> list[str]:
        found = []
        opportunities_db, forecasting_db = self.database("opportunities"), self.database("forecasting")
        gaps = version_gaps(opportunities_db, forecasting_db)
        if gaps:
            found.append(f"forecasting misses the newest version of {len(gaps)} deals")
        expected, actual = expected_rollups(opportunities_db, forecasting_db), actual_rollups(forecasting_db)
        if expected != actual:
            found.append(f"rollups differ from the oracle: {differences(expected, actual, 3)}")
        return found

    def _processes(self) -> list[str]:
        found = []
        for name in self.services:
            for service in ("", "liveness"):
                if (status := self.health(name, service)) != "SERVING":
                    found.append(f"{name} health {service or 'readiness'} {status}")
            workers = self.worker_metrics(name)["worker_up"]
            down = [w for w, up in workers.items() if up != 1]
            if down or not any(w.startswith("event-consumer") for w in workers):
                found.append(f"{name} workers down: {down or 'no consumer reported'}")
        return found

    def wait_recovered(self, since: float) -> float:
        """Seconds from `since` until every check holds; fails with what still differs after the
        limit."""
        deadline = since + RECOVERY_LIMIT_S
        problems: list[str] = []
        while time.monotonic() < deadline:
            problems = self.problems()
            if not problems:
                return time.monotonic() - since
            time.sleep(0.5)
        pytest.fail(f"not recovered {RECOVERY_LIMIT_S:.0f} s after the fault: {problems}")

    def lost_writes(self, ledger: Ledger) -> list[str]:
        """Acknowledged writes the opportunities database does not hold (at that version or later)."""
        engine = create_engine(self.database("opportunities"))
        try:
            with engine.connect() as connection:
                stored = dict(connection.execute(text("SELECT id, version FROM opportunities")).all())
        finally:
            engine.dispose()
        return [i for i, version in ledger.versions.items() if stored.get(i, 0) < version]

    def doubled_counts(self) -> int:
        """Rollup rows counting more deals than the oracle finds (a deal applied twice)."""
        opportunities_db, forecasting_db = self.database("opportunities"), self.database("forecasting")
        expected, actual = expected_rollups(opportunities_db, forecasting_db), actual_rollups(forecasting_db)
        counts = [i for i, column in enumerate(COLUMNS) if column.endswith("_count")]
        zero = (0,) * len(COLUMNS)
        return sum(
            1 for key, row in actual.items() if any(row[i] > expected.get(key, zero)[i] for i in counts)
        )


REPORT: list[dict[str, Any]] = []


def report(fault: str, ledger: Ledger, stack: FaultStack, recovery_seconds: float) -> None:
    """One row of the table printed after the fault tests (and quoted in the issue notes)."""
    REPORT.append(
        {
            "fault": fault,
            "acknowledged": ledger.acknowledged_writes,
            "refused": dict(ledger.refused),
            "lost": len(stack.lost_writes(ledger)),
            "doubled": stack.doubled_counts(),
            "recovery_s": recovery_seconds,
            "alive": all(h.process is not None and h.process.poll() is None for h in stack.services.values()),
            "restarts": sum(h.starts - 1 for h in stack.services.values()),
        }
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not REPORT:
        return
    lines: list[str] = []

    def write(line: str) -> None:
        terminalreporter.write_line(line)
        lines.append(line)

    write("")
    write(f"fault table ({'long' if LONG else 'short'} form)")
    write(
        "| fault | load during it | writes and reads acknowledged | refused cleanly, by code | lost "
        "| doubled | oracle | recovery s | processes |"
    )
    write("|---|---|---|---|---|---|---|---|---|")
    for row in REPORT:
        refused = ", ".join(f"{code} {n}" for code, n in sorted(row["refused"].items())) or "none"
        alive = (
            "all, never restarted" if row["alive"] and not row["restarts"] else f"restarts {row['restarts']}"
        )
        write(
            f"| {row['fault']} | {row.get('load', 'deal writes')} | {row['acknowledged']} | {refused} "
            f"| {row['lost']} | {row['doubled']} | {row.get('oracle', 'rollups equal')} "
            f"| {row['recovery_s']:.1f} | {alive} |"
        )
    table = artefacts_dir("faults") / f"fault-table-{'long' if LONG else 'short'}.md"
    table.write_text("\n".join(lines[1:]) + "\n")


def set_organisation(forecasting: ServiceHandle, opportunities: ServiceHandle) -> None:
    """The organisation, and the wait until the opportunities service's replica has it: only its
    active users own deals."""
    for user_id, manager in ORG:
        set_manager(forecasting.target, user_id, manager)
    await_organisation(opportunities.env["SALESPLANE_DATABASE_URL"], [user for user, _ in ORG])


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[FaultStack]:
    """Broker, durable PostgreSQL, and opportunities and forecasting serving on them."""
    with KafkaBroker() as broker, PostgresServer(settings=DURABLE_SETTINGS) as postgres:
        built = FaultStack(broker, postgres, f"faults-{uuid.uuid4().hex[:8]}.", tmp_path)
        try:
            opportunities = built.start("opportunities")
            set_organisation(built.start("forecasting"), opportunities)
            yield built
        finally:
            broker.resume()  # a test that failed mid-stall leaves it stopped
            built.stop_all()


# The whole-system stack's fixture, for every module here (imported last: it builds on the above).
from tests.faults.full_stack import full_stack  # noqa: E402, F401
