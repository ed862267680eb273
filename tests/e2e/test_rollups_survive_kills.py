"""Rollups stay exact while services are SIGKILLed mid-stream (outbox, relay, Kafka, consumer)."""

from __future__ import annotations

import random
import threading
import time

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.forecasting.v1 import org_pb2, org_pb2_grpc
from salesplane.opportunities.v1 import opportunities_pb2 as opp
from salesplane.opportunities.v1 import opportunities_pb2_grpc as opp_grpc
from tests.e2e.conftest import bearer
from tests.e2e.rollup_oracle import (
    MEASURES,
    actual_rollups,
    differences,
    expected_rollups,
    version_gaps,
)
from tests.e2e.story_helpers import await_organisation

pytestmark = pytest.mark.e2e

USERS = [f"rep{i}" for i in range(6)]
# The organisation in forecasting (rep5 reports to no one: a chain of one); team rollups follow it.
ORG = [("vp", ""), ("m0", "vp"), ("m1", "vp"), ("rep0", "m0"), ("rep1", "m0"), ("rep2", "m0")]
ORG += [("rep3", "m1"), ("rep4", "m1"), ("rep5", "")]
CURRENCIES = ["EUR", "USD", "JPY"]
OPEN_STAGES = ["Prospecting", "Qualification", "Proposal/Price Quote", "Negotiation/Review"]
STAGES = [*OPEN_STAGES, "Closed Won", "Closed Lost"]
# Deals in other currencies than the base (USD) need a rate in effect on their close date.
RATES = {"EUR": "1.0850", "JPY": "0.0067"}


def random_date(rng: random.Random) -> Date:
    return Date(year=2026 + rng.randint(0, 1), month=rng.randint(1, 12), day=rng.randint(1, 28))


def run_workload(target: str, operations: int, progress: list[int], stop: threading.Event, seed: int) -> None:
    """Creates and changes deals; an operation that fails while a service is down is just dropped,
    because the oracle reads what the opportunities service actually committed."""
    rng = random.Random(seed)
    metadata = bearer()
    ids: list[str] = []
    channel = grpc.insecure_channel(target)
    stub = opp_grpc.OpportunityServiceStub(channel)
    for currency, rate in RATES.items():
        stub.SetExchangeRate(
            opp.SetExchangeRateRequest(
                currency_code=currency, rate=rate, effective_from=Date(year=2020, month=1, day=1)
            ),
            metadata=metadata,
            timeout=5,
        )
    for _ in range(operations):
        if stop.is_set():
            break
        try:
            if len(ids) < 20 or rng.random() < 0.35:
                created = stub.CreateOpportunity(
                    opp.CreateOpportunityRequest(
                        name=f"deal {len(ids)}",
                        owner_user_id=rng.choice(USERS),
                        amount=Money(
                            currency_code=rng.choice(CURRENCIES), amount_minor=rng.randint(0, 10_000_000)
                        ),
                        expected_close_date=random_date(rng),
                        sales_stage=rng.choice(OPEN_STAGES),
                    ),
                    metadata=metadata,
                    timeout=5,
                )
                ids.append(created.id)
            else:
                field = rng.choice(
                    ["sales_stage", "owner_user_id", "amount", "expected_close_date", "probability"]
                )
                change = opp.Opportunity(id=rng.choice(ids))
                if field == "sales_stage":
                    move_to_stage(stub, change.id, rng.choice(STAGES), metadata)
                else:
                    if field == "owner_user_id":
                        change.owner_user_id = rng.choice(USERS)
                    elif field == "amount":
                        change.amount.CopyFrom(
                            Money(currency_code=rng.choice(CURRENCIES), amount_minor=rng.randint(0, 10**7))
                        )
                    elif field == "expected_close_date":
                        change.expected_close_date.CopyFrom(random_date(rng))
                    else:
                        change.probability = rng.randint(0, 100)
                        change.probability_source = opp.PROBABILITY_SOURCE_MANUAL
                    stub.UpdateOpportunity(
                        opp.UpdateOpportunityRequest(
                            opportunity=change, update_mask=FieldMask(paths=[field])
                        ),
                        metadata=metadata,
                        timeout=5,
                    )
        except grpc.RpcError as error:
            if error.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise
            time.sleep(0.05)
        progress[0] += 1
    channel.close()


def move_to_stage(stub: opp_grpc.OpportunityServiceStub, opportunity_id: str, stage: str, metadata) -> None:
    """Closing and reopening have their own RPCs; a move the deal's state does not allow (closing
    a closed deal the other way) is just dropped."""
    try:
        if stage not in OPEN_STAGES:
            won = stage == "Closed Won"
            stub.CloseOpportunity(
                opp.CloseOpportunityRequest(
                    opportunity_id=opportunity_id,
                    outcome=opp.CLOSE_OUTCOME_WON if won else opp.CLOSE_OUTCOME_LOST,
                    reason="" if won else "lost in the workload",
                    sales_stage=stage,
                ),
                metadata=metadata,
                timeout=5,
            )
            return
        try:
            stub.UpdateOpportunity(
                opp.UpdateOpportunityRequest(
                    opportunity=opp.Opportunity(id=opportunity_id, sales_stage=stage),
                    update_mask=FieldMask(paths=["sales_stage"]),
                ),
                metadata=metadata,
                timeout=5,
            )
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.FAILED_PRECONDITION:
                raise
            stub.ReopenOpportunity(
                opp.ReopenOpportunityRequest(opportunity_id=opportunity_id, sales_stage=stage),
                metadata=metadata,
                timeout=5,
            )
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.FAILED_PRECONDITION:
            raise


def set_manager(target: str, user_id: str, manager: str) -> None:
    with grpc.insecure_channel(target) as channel:
        org_pb2_grpc.OrgServiceStub(channel).UpsertUser(
            org_pb2.UpsertUserRequest(
                user=org_pb2.User(
                    user_id=user_id,
                    display_name=user_id,
                    roles=["rep" if user_id.startswith("rep") else "manager"],
                    manager_user_id=manager,
                    active=True,
                )
            ),
            metadata=bearer(),
            timeout=10,
        )


def wait_until_equal(expected_fn, actual_fn, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    expected = actual = None
    while time.monotonic() < deadline:
        expected, actual = expected_fn(), actual_fn()
        if expected == actual:
            return expected, actual
        time.sleep(0.5)
    return expected, actual


def test_rollups_equal_a_recomputation_after_forecasting_and_opportunities_are_killed(services):
    opportunities = services("opportunities")
    forecasting = services("forecasting")
    for user_id, manager in ORG:
        set_manager(forecasting.target, user_id, manager)
    await_organisation(opportunities.env["SALESPLANE_DATABASE_URL"], USERS)
    progress = [0]
    stop = threading.Event()
    workload = threading.Thread(target=run_workload, args=(opportunities.target, 600, progress, stop, 7))
    workload.start()
    try:
        while progress[0] < 150:
            time.sleep(0.01)
        forecasting.kill()  # mid-batch, with events still flowing into Kafka
        time.sleep(0.5)
        forecasting.start()
        # A reorganisation while events flow: rep2's deals leave m0's team for m1's.
        set_manager(forecasting.target, "rep2", "m1")
        while progress[0] < 350:
            time.sleep(0.01)
        opportunities.kill()  # the relay dies between publishing and deleting outbox rows, or not
        time.sleep(0.3)
        opportunities.start()
        forecasting.kill()
        forecasting.start()
    finally:
        workload.join(timeout=300)
        stop.set()
    assert progress[0] == 600

    opportunities_db = opportunities.env["SALESPLANE_DATABASE_URL"]
    forecasting_db = forecasting.env["SALESPLANE_DATABASE_URL"]
    expected, actual = wait_until_equal(
        lambda: expected_rollups(opportunities_db, forecasting_db),
        lambda: actual_rollups(forecasting_db),
    )
    assert expected, "the workload created no deals"
    half = len(MEASURES)  # a row: the own measures, then the team measures
    assert any(any(row[:half]) for row in expected.values()), "no deal counted in anyone's own totals"
    assert any(any(row[half:]) for row in expected.values()), "no deal counted in any team totals"
    gaps = version_gaps(opportunities_db, forecasting_db)
    assert not gaps, (
        f"forecasting missed the newest version of {len(gaps)} deals, e.g. {list(gaps.items())[:5]}"
    )
    assert actual == expected, differences(expected, actual)
    assert opportunities.starts == 2 and forecasting.starts == 3
