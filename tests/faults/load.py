"""A steady load of deal writes that keeps a ledger of what the service acknowledged.

Every call's outcome is counted by status code, and its duration kept by kind ("create",
"update"), answered or refused, for the soak's latency percentiles. An acknowledged write is a
promise: its deal must exist afterwards at that version or a later one. INTERNAL or UNKNOWN is
never an acceptable answer to a client, whatever fails underneath."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.opportunities.v1 import opportunities_pb2 as opp
from salesplane.opportunities.v1 import opportunities_pb2_grpc as opp_grpc
from tests.e2e.conftest import bearer
from tests.e2e.test_rollups_survive_kills import OPEN_STAGES

# Owners in the e2e organisation and one outside it (a chain of one).
# Users of the organisation the stack sets up (only they own deals).
OWNERS = ["rep0", "rep1", "rep2", "rep3", "rep4", "rep5"]
# Codes a client may see while a dependency is down: it can retry them.
RETRYABLE = {"UNAVAILABLE", "DEADLINE_EXCEEDED", "ABORTED"}


@dataclass
class Ledger:
    acknowledged: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    # deal id -> the newest version the service acknowledged for it
    versions: dict[str, int] = field(default_factory=dict)
    # kind -> seconds each call took, in call order (only appended to, so a reader can take what
    # came after the length it saw last)
    latencies: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    @property
    def acknowledged_writes(self) -> int:
        return sum(self.acknowledged.values())

    def forbidden_codes(self) -> dict[str, int]:
        return {code: n for code, n in self.refused.items() if code not in RETRYABLE}


class SteadyLoad:
    """Creates and updates deals from one thread at about `rate` writes a second until stopped."""

    def __init__(self, target: str, *, rate: float = 40.0, seed: int = 11) -> None:
        self.ledger = Ledger()
        self._target = target
        self._interval = 1.0 / rate
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="steady-load", daemon=True)

    def __enter__(self) -> SteadyLoad:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> Ledger:
        self._stop.set()
        self._thread.join(timeout=30)
        return self.ledger

    def wait_for_writes(self, count: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.ledger.acknowledged_writes < count:
            if time.monotonic() > deadline:
                # What the service answered instead says why (a dependency down, a refused token).
                raise TimeoutError(
                    f"only {self.ledger.acknowledged_writes} writes acknowledged; "
                    f"refused: {dict(self.ledger.refused)}"
                )
            time.sleep(0.05)

    def _run(self) -> None:
        metadata = bearer()
        with grpc.insecure_channel(self._target) as channel:
            stub = opp_grpc.OpportunityServiceStub(channel)
            ids: list[str] = []
            while not self._stop.is_set():
                began = time.monotonic()
                create = len(ids) < 10 or self._rng.random() < 0.4
                kind = "create" if create else "update"
                called = time.perf_counter()
                try:
                    if create:
                        deal = stub.CreateOpportunity(self._new_deal(), metadata=metadata, timeout=5)
                        ids.append(deal.id)
                    else:
                        deal = stub.UpdateOpportunity(
                            self._change(self._rng.choice(ids)), metadata=metadata, timeout=5
                        )
                    self.ledger.latencies[kind].append(time.perf_counter() - called)
                    self.ledger.acknowledged[kind] += 1
                    held = self.ledger.versions.get(deal.id, 0)
                    self.ledger.versions[deal.id] = max(held, deal.version)
                except grpc.RpcError as error:
                    self.ledger.latencies[kind].append(time.perf_counter() - called)
                    self.ledger.refused[error.code().name] += 1
                self._stop.wait(max(0.0, self._interval - (time.monotonic() - began)))

    def _new_deal(self) -> opp.CreateOpportunityRequest:
        rng = self._rng
        return opp.CreateOpportunityRequest(
            name=f"deal {rng.randrange(10**9)}",
            owner_user_id=rng.choice(OWNERS),
            amount=Money(currency_code="USD", amount_minor=rng.randint(1, 10_000_000)),
            expected_close_date=Date(year=2026, month=rng.randint(1, 12), day=rng.randint(1, 28)),
            sales_stage=rng.choice(OPEN_STAGES),
        )

    def _change(self, deal_id: str) -> opp.UpdateOpportunityRequest:
        rng = self._rng
        field_name = rng.choice(["amount", "sales_stage", "owner_user_id"])
        change = opp.Opportunity(id=deal_id)
        if field_name == "amount":
            change.amount.CopyFrom(Money(currency_code="USD", amount_minor=rng.randint(1, 10_000_000)))
        elif field_name == "sales_stage":
            change.sales_stage = rng.choice(OPEN_STAGES)
        else:
            change.owner_user_id = rng.choice(OWNERS)
        return opp.UpdateOpportunityRequest(opportunity=change, update_mask=FieldMask(paths=[field_name]))
