"""The whole system on one broker and one durable PostgreSQL: leads, opportunities, forecasting
and reporting as processes, each with its own database, and the gateway in front of them.

"Recovered" here means every loop of every service runs again and every derived state equals its
oracle rebuilt from the owning service's database (state_oracles.py): forecasting's rollups,
reporting's read models and a report, each replica of the reporting lines, one deal per conversion.
"""

from __future__ import annotations

import contextlib
import json
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import grpc
import pytest

from salesplane.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from salesplane_platform import topics
from salesplane_testing.kafka_broker import KafkaBroker
from salesplane_testing.postgres_server import DURABLE_SETTINGS, PostgresServer
from salesplane_testing.processes import GatewayHandle, ServiceHandle
from tests.e2e.conftest import SECRET, bearer
from tests.e2e.story_helpers import await_organisation
from tests.e2e.test_reporting_story import table
from tests.e2e.test_rollups_survive_kills import ORG
from tests.faults import state_oracles
from tests.faults.conftest import FaultStack, set_organisation
from tests.faults.mixed_load import MixedLoad

# Who reads which topic, by consumer group (each service's group is its name).
CONSUMED = {
    "forecasting": (topics.OPPORTUNITIES,),
    "opportunities": (topics.FORECASTING,),
    "leads": (topics.FORECASTING,),
    "reporting": (topics.OPPORTUNITIES, topics.LEADS, topics.FORECASTING),
}
START_ORDER = ("forecasting", "opportunities", "leads", "reporting")
# Shorter than production's 30 s, so the lock fault outlasts it many times over in seconds.
STATEMENT_TIMEOUT_MS = 2000


@dataclass
class FullStack(FaultStack):
    gateway: GatewayHandle | None = None
    # Acknowledged writes of the load parts other than deals, checked after recovery.
    loads: list[MixedLoad] = field(default_factory=list)

    def start_gateway(self) -> GatewayHandle:
        self.gateway = GatewayHandle(
            env={
                **self.targets,
                "SALESPLANE_AUTH_SECRET": SECRET,
                # The load drives a few users faster than people would; limits are tested elsewhere.
                "SALESPLANE_GATEWAY_RATE_LIMIT_PER_SECOND": "0",
            },
            log_dir=self.log_dir,
        )
        self.gateway.start()
        return self.gateway

    def mixed_load(self, seed: int = 11) -> MixedLoad:
        assert self.gateway is not None
        load = MixedLoad({n: h.target for n, h in self.services.items()}, self.gateway.base_url, seed=seed)
        self.loads.append(load)
        return load

    def processes(self) -> dict[str, ServiceHandle | GatewayHandle]:
        every: dict[str, ServiceHandle | GatewayHandle] = dict(self.services)
        if self.gateway is not None:
            every["gateway"] = self.gateway
        return every

    # ------------------------------------------------------------ what "recovered" means

    def problems(self) -> list[str]:
        found = super().problems()
        for check in (self._derived_state, self._acknowledged, self._report, self._gateway_ready):
            try:
                found += check()
            except Exception as error:
                found.append(f"{check.__name__} failed: {error!r}")
        return found

    def _lag(self) -> list[str]:
        lags = {group: self.consumer_lag(group, *read) for group, read in CONSUMED.items()}
        return [f"{group} consumer lag {lag}" for group, lag in lags.items() if lag]

    def _derived_state(self) -> list[str]:
        db = self.database
        return [
            *state_oracles.replica_problems(
                db("forecasting"), {"leads": db("leads"), "opportunities": db("opportunities")}
            ),
            *state_oracles.reporting_problems(
                db("reporting"), db("opportunities"), db("leads"), db("forecasting")
            ),
            *state_oracles.conversion_problems(db("leads"), db("opportunities")),
        ]

    def _acknowledged(self) -> list[str]:
        """Every write the load's other parts were told succeeded is in its owner's database."""
        found: list[str] = []
        deals_of_lead = state_oracles.converted_deals(self.database("opportunities"))
        users = state_oracles.users(self.database("forecasting"))
        leads = {row[0] for row in state_oracles._query(self.database("leads"), "SELECT id FROM leads")}
        reports = {
            row[0]
            for row in state_oracles._query(self.database("reporting"), "SELECT report_id FROM saved_reports")
        }
        for load in self.loads:
            if lost := [i for i in load.leads.created if i not in leads]:
                found.append(f"{len(lost)} acknowledged leads are missing")
            if unmade := [i for i in load.leads.converted if deals_of_lead.get(i) != 1]:
                found.append(f"{len(unmade)} acknowledged conversions have no single deal")
            if behind := [u for u, v in load.org.versions.items() if users.get(u, (0, 0, 0))[2] < v]:
                found.append(f"acknowledged user changes missing: {behind}")
            if unsaved := [r for r in load.reports.saved if r not in reports]:
                found.append(f"{len(unsaved)} acknowledged saved reports are missing")
        return found

    def _report(self) -> list[str]:
        """pipeline_by_stage, run through reporting's API, equals the sums over the opportunities
        table: for an administrator (the company) and for m0 (their subtree only)."""
        found: list[str] = []
        with grpc.insecure_channel(self.services["reporting"].target) as channel:
            api = reporting_pb2_grpc.ReportingServiceStub(channel)
            for user, scope in (
                ("admin", None),
                ("m0", state_oracles.subtree(self.database("forecasting"), "m0")),
            ):
                caller = bearer() if user == "admin" else bearer(user, ("manager",))
                result = api.RunReport(
                    reporting_pb2.RunReportRequest(report_id="pipeline_by_stage"), metadata=caller, timeout=10
                )
                actual = [(kind, *cells) for kind, _level, cells in table(result)]
                expected = state_oracles.pipeline_by_stage(self.database("opportunities"), scope)
                if actual != expected:
                    found.append(f"pipeline_by_stage for {user}: {actual[:3]} != {expected[:3]}")
        return found

    def _gateway_ready(self) -> list[str]:
        if self.gateway is None:
            return []
        with urllib.request.urlopen(f"{self.gateway.base_url}/readyz", timeout=5) as response:
            body = json.loads(response.read() or b"{}")
        return [] if response.status == 200 else [f"gateway not ready: {body}"]


S = TypeVar("S", bound="FullStack")


@contextlib.contextmanager
def running(kind: type[S], tmp_path: Path) -> Iterator[S]:
    """A started system of that kind on its own broker and PostgreSQL, stopped afterwards."""
    with KafkaBroker() as broker, PostgresServer(settings=DURABLE_SETTINGS) as postgres:
        built = kind(broker, postgres, f"faults-{uuid.uuid4().hex[:8]}.", tmp_path)
        try:
            for name in START_ORDER:
                built.start(name, {"SALESPLANE_DATABASE_STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_MS)})
            set_organisation(built.services["forecasting"], built.services["opportunities"])
            # Leads are assigned to reps only once the leads service's replica knows them.
            await_organisation(built.database("leads"), [user for user, _ in ORG])
            built.start_gateway()
            yield built
        finally:
            broker.resume()  # a test that failed mid-stall leaves it stopped
            built.stop_all()


@pytest.fixture(scope="module")
def full_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullStack]:
    """One system for a module's tests: each fault ends with the system recovered and every oracle
    equal, so the next starts from a checked state (and the writes of every earlier test must
    still be there). Starting it takes half a minute; the short form could not afford one each."""
    with running(FullStack, tmp_path_factory.mktemp("full-stack")) as stack:
        yield stack
