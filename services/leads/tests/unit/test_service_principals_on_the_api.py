"""The leads API to service principals: forecasting reaches only the count and the hand-over of a
leaving user's open leads, other services nothing, and a service token none of what users do."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from salesplane.leads.v1 import leads_pb2 as pb
from salesplane.leads.v1 import leads_pb2_grpc as pb_grpc
from salesplane_leads.entrypoints.main import DEFINITION
from salesplane_testing.in_process import RunningService, running_service

LEAD_ID = "6b0c5f5e-8a3b-4f3e-9b55-7e2a4c1d9f10"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[pb_grpc.LeadServiceStub, RunningService]]:
    with running_service(DEFINITION, tmp_path) as service:
        yield pb_grpc.LeadServiceStub(service.channel), service


def code_of(call: Callable[[], object]) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def test_forecasting_reaches_only_the_open_leads_of_a_leaving_user(
    api: tuple[pb_grpc.LeadServiceStub, RunningService],
) -> None:
    stub, service = api
    forecasting = service.bearer("service:forecasting", "service")
    denied = grpc.StatusCode.PERMISSION_DENIED
    reassign = pb.ReassignOpenLeadsRequest(from_user_id="bob", to_user_id="mia")

    assert stub.CountOpenLeads(pb.CountOpenLeadsRequest(user_id="bob"), metadata=forecasting).open_leads == 0
    # Allowed; mia is not a user this replica knows yet.
    assert code_of(lambda: stub.ReassignOpenLeads(reassign, metadata=forecasting)) == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    assert code_of(lambda: stub.ListLeads(pb.ListLeadsRequest(), metadata=forecasting)) == denied
    assert code_of(lambda: stub.GetLead(pb.GetLeadRequest(lead_id=LEAD_ID), metadata=forecasting)) == denied
    assert code_of(lambda: stub.GetScoringRules(pb.GetScoringRulesRequest(), metadata=forecasting)) == denied
    assert (
        code_of(lambda: stub.ConvertLead(pb.ConvertLeadRequest(lead_id=LEAD_ID), metadata=forecasting))
        == denied
    )

    # Another service is allowed nothing here.
    other = service.bearer("service:opportunities", "service")
    assert (
        code_of(lambda: stub.CountOpenLeads(pb.CountOpenLeadsRequest(user_id="bob"), metadata=other))
        == denied
    )


def test_a_service_token_claiming_user_roles_reaches_no_user_rpc_and_users_count_no_ones_leads(
    api: tuple[pb_grpc.LeadServiceStub, RunningService],
) -> None:
    stub, service = api
    claims_marketing = service.bearer("service:forecasting", "service", "marketing", "admin")
    denied = grpc.StatusCode.PERMISSION_DENIED
    source = pb.CreateLeadSourceRequest(name="Web", channel=pb.CHANNEL_WEB)

    assert code_of(lambda: stub.CreateLeadSource(source, metadata=claims_marketing)) == denied
    assert (
        code_of(lambda: stub.ListLeadSources(pb.ListLeadSourcesRequest(), metadata=claims_marketing))
        == denied
    )
    count = pb.CountOpenLeadsRequest(user_id="bob")
    assert code_of(lambda: stub.CountOpenLeads(count, metadata=service.bearer("mia", "manager"))) == denied
    assert stub.CountOpenLeads(count, metadata=service.bearer("ann", "admin")).open_leads == 0
