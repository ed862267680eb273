"""Random and malformed requests to every opportunities RPC, on the embedded SQLite and on
PostgreSQL (stricter: value lengths, NUL characters): never a crash status, never a write by a call
that fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.opportunities.v1 import opportunities_pb2 as pb
from salesplane.opportunities.v1 import opportunities_pb2_grpc as pb_grpc
from salesplane_opportunities.entrypoints.main import DEFINITION
from salesplane_platform.identity import issue_token
from salesplane_platform.service_process import ServiceProcess
from salesplane_platform.settings import ServiceSettings
from salesplane_testing.organisation import seed_members
from salesplane_testing.rpc_fuzz import Pools, database_fingerprint, fuzz_every_rpc

pytestmark = pytest.mark.integration

USERS = ["mia", "bob", "carol"]
STAGES = ["Prospecting", "Qualification", "Negotiation/Review", "Closed Won", "Closed Lost", "Nope"]


@pytest.fixture(params=["sqlite", "postgresql"])
def opportunities(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[ServiceProcess, grpc.Channel, ServiceSettings]]:
    # API only: no relay or consumer writing in the background while fingerprints are taken.
    environ = {
        "SALESPLANE_ENV": "development",
        "SALESPLANE_DATA_DIR": str(tmp_path),
        "SALESPLANE_ROLES": "api",
    }
    if request.param == "postgresql":
        environ["SALESPLANE_DATABASE_URL"] = request.getfixturevalue("postgres_database_url")
    settings = ServiceSettings.from_env(
        "opportunities", default_grpc_port=0, default_metrics_port=0, environ=environ
    )
    process = ServiceProcess(DEFINITION, settings)
    process.start()
    seed_members(settings.database_url)
    channel = grpc.insecure_channel(f"127.0.0.1:{process.grpc_port}")
    yield process, channel, settings
    channel.close()
    process.stop()


def test_no_rpc_crashes_or_half_writes(opportunities: Any) -> None:
    process, channel, settings = opportunities

    def token(subject: str, *roles: str) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {issue_token(settings.auth_secret, subject, list(roles))}")]

    stub = pb_grpc.OpportunityServiceStub(channel)
    admin = token("root", "admin")
    rate = pb.SetExchangeRateRequest(
        currency_code="EUR", rate="1.0850", effective_from=Date(year=2026, month=1, day=1)
    )
    stub.SetExchangeRate(rate, metadata=admin)
    create = pb.CreateOpportunityRequest(
        name="Acme",
        account_name="Acme Ltd",
        owner_user_id="bob",
        amount=Money(currency_code="EUR", amount_minor=5_000_00),
        expected_close_date=Date(year=2026, month=11, day=30),
        sales_stage="Prospecting",
    )
    deal = stub.CreateOpportunity(create, metadata=admin)
    other = stub.CreateOpportunity(
        pb.CreateOpportunityRequest(
            name="Globex",
            owner_user_id="mia",
            amount=Money(currency_code="USD", amount_minor=7_000_00),
            expected_close_date=Date(year=2027, month=1, day=15),
            sales_stage="Qualification",
        ),
        metadata=admin,
    )
    stages = stub.ListSalesStages(pb.ListSalesStagesRequest(), metadata=admin)
    pools = Pools(
        ids=[deal.id, other.id],
        user_ids=USERS,
        by_field={
            "sales_stage": STAGES,
            "sales_stages": STAGES,
            "rate": ["1.0850", "0.5", "0", "-1", "1e3", "abc", "1.1234567890123"],
            "page_token": [""],
        },
    )
    for template in [
        create,
        rate,
        pb.UpdateOpportunityRequest(
            opportunity=pb.Opportunity(id=deal.id, sales_stage="Qualification", next_step="Call"),
            update_mask=FieldMask(paths=["sales_stage", "next_step"]),
        ),
        pb.UpdateOpportunityRequest(
            opportunity=pb.Opportunity(id=other.id, amount=Money(currency_code="EUR", amount_minor=1)),
            update_mask=FieldMask(paths=["amount"]),
        ),
        pb.GetOpportunityRequest(opportunity_id=deal.id),
        pb.ListOpportunitiesRequest(page_size=1, owner_user_ids=["bob"], text="ac"),
        pb.CloseOpportunityRequest(opportunity_id=deal.id, outcome=pb.CLOSE_OUTCOME_LOST, reason="price"),
        pb.ReopenOpportunityRequest(opportunity_id=deal.id, sales_stage="Prospecting"),
        pb.ReassignOpportunityRequest(opportunity_id=other.id, new_owner_user_id="carol"),
        pb.GetStageHistoryRequest(opportunity_id=deal.id),
        pb.ReplaceSalesStagesRequest(sales_stages=stages.sales_stages, expected_revision=stages.revision),
        pb.ListExchangeRatesRequest(currency_code="EUR"),
        pb.DeleteOpportunityRequest(opportunity_id=other.id),
    ]:
        pools.add_template(template)
    callers = [
        admin,
        admin,
        token("bob", "rep"),
        token("carol", "manager"),
        [("authorization", "Bearer not-a-token")],
    ]
    stats = fuzz_every_rpc(
        channel,
        [pb.DESCRIPTOR.services_by_name["OpportunityService"]],
        pools=pools,
        callers=callers,
        fingerprint=lambda: database_fingerprint(process.context.engine),
        examples_per_rpc=40,
    )
    print(stats)
    # The fuzzer has to get past validation on the writes too, or it proves little about them.
    for rpc in ["CreateOpportunity", "UpdateOpportunity", "CloseOpportunity", "SetExchangeRate"]:
        assert stats[f"OpportunityService.{rpc}"].get("OK", 0) > 0, (rpc, stats)
