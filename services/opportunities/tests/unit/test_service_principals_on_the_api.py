"""The opportunities API to service principals: each service reaches only the RPCs allowed to it
(leads: the conversion's CreateOpportunity and ListSalesStages; forecasting: the hand-over of a
leaving user's deals), and a service token never reaches what users do, whatever roles it claims."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from salesplane.opportunities.v1 import opportunities_pb2 as pb
from salesplane.opportunities.v1 import opportunities_pb2_grpc as pb_grpc
from salesplane_opportunities.entrypoints.main import DEFINITION
from salesplane_testing.in_process import RunningService, running_service

OPPORTUNITY_ID = "6b0c5f5e-8a3b-4f3e-9b55-7e2a4c1d9f10"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[pb_grpc.OpportunityServiceStub, RunningService]]:
    with running_service(DEFINITION, tmp_path) as service:
        yield pb_grpc.OpportunityServiceStub(service.channel), service


def code_of(call: Callable[[], object]) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def test_each_service_reaches_only_its_allowed_rpcs(
    api: tuple[pb_grpc.OpportunityServiceStub, RunningService],
) -> None:
    stub, service = api
    leads = service.bearer("service:leads", "service")
    forecasting = service.bearer("service:forecasting", "service")
    denied = grpc.StatusCode.PERMISSION_DENIED
    reassign = pb.ReassignOpenOpportunitiesRequest(from_user_id="bob", to_user_id="mia")

    assert stub.ListSalesStages(pb.ListSalesStagesRequest(), metadata=leads).sales_stages
    # Past the allow-list; the deal for a conversion then needs an active owner.
    conversion = pb.CreateOpportunityRequest(
        name="Deal",
        owner_user_id="bob",
        lead_id=OPPORTUNITY_ID,
        request_id=f"lead-conversion:{OPPORTUNITY_ID}",
    )
    assert (
        code_of(lambda: stub.CreateOpportunity(conversion, metadata=leads))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert code_of(lambda: stub.ReassignOpenOpportunities(reassign, metadata=leads)) == denied
    assert code_of(lambda: stub.ListOpportunities(pb.ListOpportunitiesRequest(), metadata=leads)) == denied
    assert (
        code_of(
            lambda: stub.GetOpportunity(
                pb.GetOpportunityRequest(opportunity_id=OPPORTUNITY_ID), metadata=leads
            )
        )
        == denied
    )
    assert code_of(lambda: stub.ListExchangeRates(pb.ListExchangeRatesRequest(), metadata=leads)) == denied

    assert code_of(lambda: stub.ReassignOpenOpportunities(reassign, metadata=forecasting)) == (
        grpc.StatusCode.FAILED_PRECONDITION  # allowed; mia is not a user this replica knows yet
    )
    assert code_of(lambda: stub.CreateOpportunity(conversion, metadata=forecasting)) == denied
    assert code_of(lambda: stub.ListSalesStages(pb.ListSalesStagesRequest(), metadata=forecasting)) == denied


def test_a_service_token_cannot_reach_what_users_do_whatever_roles_it_claims(
    api: tuple[pb_grpc.OpportunityServiceStub, RunningService],
) -> None:
    stub, service = api
    claims_admin = service.bearer("service:leads", "service", "admin")
    denied = grpc.StatusCode.PERMISSION_DENIED

    assert (
        code_of(lambda: stub.ListOpportunities(pb.ListOpportunitiesRequest(), metadata=claims_admin))
        == denied
    )
    replace = pb.ReplaceSalesStagesRequest()
    assert code_of(lambda: stub.ReplaceSalesStages(replace, metadata=claims_admin)) == denied
    # The conversion's RPC creates deals only for a conversion, even for the allowed service.
    plain = pb.CreateOpportunityRequest(name="Deal", owner_user_id="bob", request_id="r-1")
    assert code_of(lambda: stub.CreateOpportunity(plain, metadata=claims_admin)) == denied
    # A user may not pose as a service.
    posing = service.bearer("alice", "service")
    assert code_of(lambda: stub.ListSalesStages(pb.ListSalesStagesRequest(), metadata=posing)) == (
        grpc.StatusCode.UNAUTHENTICATED
    )
