"""A mixed load on the whole system, as a sales organisation makes it: deal writes (SteadyLoad),
leads created, qualified and converted, users renamed and moved between managers, reports saved,
and web clients reading rollups, deal and lead lists and reports through the gateway.

Each part keeps a ledger of what was acknowledged, so that afterwards every acknowledged write can
be found in its owner's database, and counts every refusal by code. A client may see a success or
a refusal it can retry (gRPC UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED; HTTP 503 or 504 with
Retry-After); anything else (INTERNAL, UNKNOWN, a 500, a 503 that does not say when to retry) is a
failure of the system, whatever is failing underneath. Every call's duration is kept by kind too,
answered or refused, for the soak's latency percentiles; the rates are constructor arguments, so
the soak can push harder than the fault tests."""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc
from google.protobuf import struct_pb2

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.forecasting.v1 import org_pb2, org_pb2_grpc
from salesplane.leads.v1 import leads_pb2, leads_pb2_grpc
from salesplane.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from salesplane_platform.identity import issue_token
from tests.e2e.conftest import SECRET, bearer
from tests.faults.load import OWNERS, RETRYABLE, Ledger, SteadyLoad

PERIOD = "2026-12"
# The users the org writer renames; rep2 also moves between the two first-line managers.
RENAMED = ["rep0", "rep1", "rep2", "rep3", "rep4"]
MOVED, MANAGERS = "rep2", ("m0", "m1")
RETRYABLE_HTTP = {503, 504}


@dataclass
class Outcomes:
    """What one part of the load was answered, by code."""

    acknowledged: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    # HTTP 503/504 answers that did not say when to retry.
    without_retry_after: int = 0
    # kind -> seconds each call took, in call order (only appended to, so a reader in another
    # thread can take what came after the length it saw last)
    latencies: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def forbidden(self) -> dict[str, int]:
        bad = {c: n for c, n in self.refused.items() if c not in RETRYABLE and c not in HTTP_RETRYABLE}
        if self.without_retry_after:
            bad["503/504 without Retry-After"] = self.without_retry_after
        return bad


HTTP_RETRYABLE = {f"HTTP {s}" for s in RETRYABLE_HTTP}


def _grpc_code(error: grpc.RpcError) -> str:
    return error.code().name if isinstance(error, grpc.Call) else "UNKNOWN"


class _Loop:
    """One thread calling `step` at about `rate` a second until stopped."""

    def __init__(self, name: str, rate: float, seed: int) -> None:
        self.outcomes = Outcomes()
        self.rng = random.Random(seed)
        self._interval = 1.0 / rate
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        self.setup()
        while not self._stop.is_set():
            began = time.monotonic()
            self.step()
            self._stop.wait(max(0.0, self._interval - (time.monotonic() - began)))
        self.teardown()

    def setup(self) -> None: ...

    def teardown(self) -> None: ...

    def step(self) -> None:
        raise NotImplementedError

    def attempt(self, kind: str, call: Callable[[], object]) -> object | None:
        called = time.perf_counter()
        try:
            answer = call()
        except grpc.RpcError as error:
            self.outcomes.latencies[kind].append(time.perf_counter() - called)
            self.outcomes.refused[_grpc_code(error)] += 1
            return None
        self.outcomes.latencies[kind].append(time.perf_counter() - called)
        self.outcomes.acknowledged[kind] += 1
        return answer


class LeadFlow(_Loop):
    """Leads created (with an idempotency key), qualified and converted by their rep. A conversion
    refused with a retryable code is tried again later with the same request, as a client
    would: the service must still make one deal of it."""

    def __init__(self, target: str, *, rate: float = 6.0, seed: int = 21) -> None:
        super().__init__("lead-flow", rate, seed)
        self._target = target
        # lead id -> its rep, for leads created and not yet qualified / converted
        self.created: dict[str, str] = {}
        self.qualified: dict[str, str] = {}
        # lead id -> the deal the service said it became
        self.converted: dict[str, str] = {}

    def setup(self) -> None:
        self._channel = grpc.insecure_channel(self._target)
        self._api = leads_pb2_grpc.LeadServiceStub(self._channel)

    def teardown(self) -> None:
        self._channel.close()

    def step(self) -> None:
        pending_qualification = [i for i in self.created if i not in self.qualified]
        pending_conversion = [i for i in self.qualified if i not in self.converted]
        roll = self.rng.random()
        if pending_conversion and roll < 0.4:
            self._convert(self.rng.choice(pending_conversion))
        elif pending_qualification and roll < 0.7:
            self._qualify(self.rng.choice(pending_qualification))
        else:
            self._create()

    def _create(self) -> None:
        rep = self.rng.choice(OWNERS)
        number = self.rng.randrange(10**9)
        request = leads_pb2.CreateLeadRequest(
            lead=leads_pb2.LeadFields(
                first_name="Lee",
                last_name=f"Buyer {number}",
                company=f"Company {number}",
                email=f"buyer{number}@example.com",
            ),
            assigned_user_id=rep,
            # Random names may still look alike to the duplicate check; the load wants new leads.
            on_duplicate=leads_pb2.DUPLICATE_POLICY_INSIST,
            request_id=f"create-{uuid.uuid4()}",
        )
        created = self.attempt(
            "create lead", lambda: self._api.CreateLead(request, metadata=bearer(), timeout=5)
        )
        if isinstance(created, leads_pb2.CreateLeadResponse):
            if created.outcome != leads_pb2.CREATE_LEAD_OUTCOME_CREATED:  # a failure of the load
                self.outcomes.refused[leads_pb2.CreateLeadOutcome.Name(created.outcome)] += 1
                return
            self.created[created.lead.id] = rep

    def _qualify(self, lead_id: str) -> None:
        request = leads_pb2.QualifyLeadRequest(
            lead_id=lead_id,
            qualification=leads_pb2.Qualification(
                budget=Money(currency_code="USD", amount_minor=50_000_00),
                authority=leads_pb2.AUTHORITY_DECISION_MAKER,
                need=leads_pb2.NEED_HIGH,
                timeline=Date(year=2026, month=12, day=15),
            ),
        )
        caller = bearer(self.created[lead_id], ("rep",))
        if self.attempt("qualify lead", lambda: self._api.QualifyLead(request, metadata=caller, timeout=5)):
            self.qualified[lead_id] = self.created[lead_id]

    def _convert(self, lead_id: str) -> None:
        request = leads_pb2.ConvertLeadRequest(
            lead_id=lead_id,
            opportunity_name=f"Deal from {lead_id[:8]}",
            # The same request on every retry, as a client retrying a call would send.
            amount=Money(currency_code="USD", amount_minor=1_000_00 + int(lead_id[:6], 16) % 89_000_00),
            expected_close_date=Date(year=2026, month=12, day=20),
        )
        caller = bearer(self.qualified[lead_id], ("rep",))
        converted = self.attempt(
            "convert lead", lambda: self._api.ConvertLead(request, metadata=caller, timeout=10)
        )
        if isinstance(converted, leads_pb2.ConvertLeadResponse):
            self.converted[lead_id] = converted.opportunity_id


class OrgChanges(_Loop):
    """Users renamed, and one rep moved between the two first-line managers: every replica of the
    reporting lines and every team rollup must follow."""

    def __init__(self, target: str, *, rate: float = 2.0, seed: int = 31) -> None:
        super().__init__("org-changes", rate, seed)
        self._target = target
        # user -> the newest version forecasting acknowledged
        self.versions: dict[str, int] = {}

    def setup(self) -> None:
        self._channel = grpc.insecure_channel(self._target)
        self._api = org_pb2_grpc.OrgServiceStub(self._channel)

    def teardown(self) -> None:
        self._channel.close()

    def step(self) -> None:
        user = self.rng.choice(RENAMED)
        manager = self.rng.choice(MANAGERS) if user == MOVED else ("m0" if user < "rep3" else "m1")
        request = org_pb2.UpsertUserRequest(
            user=org_pb2.User(
                user_id=user,
                display_name=f"{user} {self.rng.randrange(1000)}",
                roles=["rep"],
                manager_user_id=manager,
                active=True,
            )
        )
        answer = self.attempt(
            "change user", lambda: self._api.UpsertUser(request, metadata=bearer(), timeout=5)
        )
        version = getattr(answer, "version", 0)
        if isinstance(version, int) and version:
            self.versions[user] = max(version, self.versions.get(user, 0))


class SavedReports(_Loop):
    """Managers save reports of their own (reporting's writes)."""

    def __init__(self, target: str, *, rate: float = 1.0, seed: int = 41) -> None:
        super().__init__("saved-reports", rate, seed)
        self._target = target
        self.saved: list[str] = []

    def setup(self) -> None:
        self._channel = grpc.insecure_channel(self._target)
        self._api = reporting_pb2_grpc.ReportingServiceStub(self._channel)

    def teardown(self) -> None:
        self._channel.close()

    def step(self) -> None:
        definition = struct_pb2.Struct()
        definition.update(
            {
                "source": "opportunities",
                "layout": "summation",
                "dimensions": [{"field": "owner"}, {"field": "status"}],
                "measures": [{"name": "deals", "title": "Deals", "aggregate": "count"}],
            }
        )
        request = reporting_pb2.SaveReportRequest(
            title=f"Deals by owner {self.rng.randrange(10**6)}", sharing="team", definition=definition
        )
        manager = self.rng.choice(MANAGERS)
        saved = self.attempt(
            "save report",
            lambda: self._api.CreateReport(request, metadata=bearer(manager, ("manager",)), timeout=5),
        )
        if isinstance(saved, reporting_pb2.ReportDefinition):
            self.saved.append(saved.id)


class WebReads(_Loop):
    """A web client through the gateway: rollups, deal and lead lists, a report run."""

    def __init__(self, base_url: str, *, rate: float = 8.0, seed: int = 51) -> None:
        super().__init__("web-reads", rate, seed)
        self._base = base_url
        self._tokens = {
            "admin": issue_token(SECRET, "e2e-admin", ["admin"]),
            "m0": issue_token(SECRET, "m0", ["manager"]),
            "rep0": issue_token(SECRET, "rep0", ["rep"]),
        }

    def step(self) -> None:
        user = self.rng.choice(list(self._tokens))
        method, path, body = self.rng.choice(
            [
                ("GET", f"/v1/rollups/{'vp' if user == 'admin' else user}?period={PERIOD}", None),
                ("GET", "/v1/opportunities?page_size=10", None),
                ("GET", "/v1/leads?page_size=10", None),
                ("POST", "/v1/reports:run", {"report_id": "pipeline_by_stage"}),
            ]
        )
        request = urllib.request.Request(
            f"{self._base}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self._tokens[user]}", "Content-Type": "application/json"},
        )
        kind = f"{method} {path.split('?')[0].rsplit('/', 1)[0] if 'rollups' in path else path.split('?')[0]}"
        called = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                response.read()
            self.outcomes.latencies[kind].append(time.perf_counter() - called)
            self.outcomes.acknowledged[kind] += 1
        except urllib.error.HTTPError as error:
            error.read()
            self.outcomes.latencies[kind].append(time.perf_counter() - called)
            self.outcomes.refused[f"HTTP {error.code}"] += 1
            if error.code in RETRYABLE_HTTP and not error.headers.get("Retry-After"):
                self.outcomes.without_retry_after += 1
        except OSError as error:  # the gateway itself is down (killed): the connection is refused
            self.outcomes.latencies[kind].append(time.perf_counter() - called)
            self.outcomes.refused[f"connection {type(error).__name__}"] += 1


class MixedLoad:
    """Every part at once; a context manager like SteadyLoad. Each rate is the calls a second its
    part aims at (one thread each: a part whose calls take longer than 1/rate falls short of it)."""

    def __init__(
        self,
        targets: dict[str, str],
        gateway_url: str,
        *,
        seed: int = 11,
        deal_rate: float = 25.0,
        lead_rate: float = 6.0,
        org_rate: float = 2.0,
        report_rate: float = 1.0,
        read_rate: float = 8.0,
    ) -> None:
        self.deals = SteadyLoad(targets["opportunities"], rate=deal_rate, seed=seed)
        self.leads = LeadFlow(targets["leads"], rate=lead_rate, seed=seed + 1)
        self.org = OrgChanges(targets["forecasting"], rate=org_rate, seed=seed + 2)
        self.reports = SavedReports(targets["reporting"], rate=report_rate, seed=seed + 3)
        self.reads = WebReads(gateway_url, rate=read_rate, seed=seed + 4)
        self.parts: list[_Loop] = [self.leads, self.org, self.reports, self.reads]

    def __enter__(self) -> MixedLoad:
        self.deals.__enter__()
        for part in self.parts:
            part.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.deals.stop()
        for part in self.parts:
            part.stop()

    @property
    def ledger(self) -> Ledger:
        return self.deals.ledger

    def wait_for_writes(self, count: int, timeout: float = 60.0) -> None:
        self.deals.wait_for_writes(count, timeout)

    def acknowledged(self) -> Counter[str]:
        total = Counter(self.deals.ledger.acknowledged)
        for part in self.parts:
            total.update(part.outcomes.acknowledged)
        return total

    def latencies(self) -> dict[str, list[float]]:
        """Seconds each call took so far, by kind (a copy)."""
        every: dict[str, list[float]] = {k: list(v) for k, v in list(self.deals.ledger.latencies.items())}
        for part in self.parts:
            for kind, seconds in list(part.outcomes.latencies.items()):
                every.setdefault(kind, []).extend(seconds)
        return every

    def refused(self) -> Counter[str]:
        total = Counter(self.deals.ledger.refused)
        for part in self.parts:
            total.update(part.outcomes.refused)
        return total

    def forbidden(self) -> dict[str, int]:
        bad = dict(self.deals.ledger.forbidden_codes())
        for part in self.parts:
            for code, n in part.outcomes.forbidden().items():
                if not code.startswith("connection "):
                    bad[code] = bad.get(code, 0) + n
        return bad
