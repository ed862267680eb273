"""UpsertUser over gRPC: the reassign option reaches the use case and the refusal its caller with its
reason; and no service principal reaches any forecasting RPC (none is allowed to one)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from salesplane.forecasting.v1 import forecasting_pb2, forecasting_pb2_grpc, org_pb2, org_pb2_grpc
from salesplane_forecasting.entrypoints.main import make_definition
from salesplane_testing.in_process import running_service


class StandInWork:
    def __init__(self) -> None:
        self.open_leads = 2
        self.calls: list[tuple[str, str, str]] = []

    def count_open_leads(self, user_id: str) -> int:
        return self.open_leads

    def reassign_open_leads(self, *, from_user_id: str, to_user_id: str, on_behalf_of: str) -> int:
        self.calls.append(("leads", to_user_id, on_behalf_of))
        return self.open_leads

    def reassign_open_opportunities(self, *, from_user_id: str, to_user_id: str, on_behalf_of: str) -> int:
        self.calls.append(("deals", to_user_id, on_behalf_of))
        return 0


def code_of(call: Callable[[], object]) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def test_deactivation_refused_for_open_leads_then_done_with_the_reassign_option(tmp_path: Path) -> None:
    work = StandInWork()
    with running_service(make_definition(open_work=lambda _: work), tmp_path) as service:
        org = org_pb2_grpc.OrgServiceStub(service.channel)
        admin = service.bearer("root", "admin")
        org.UpsertUser(
            org_pb2.UpsertUserRequest(
                user=org_pb2.User(user_id="mia", display_name="Mia", roles=["manager"], active=True)
            ),
            metadata=admin,
        )
        bob = org_pb2.User(
            user_id="bob", display_name="Bob", roles=["rep"], manager_user_id="mia", active=True
        )
        org.UpsertUser(org_pb2.UpsertUserRequest(user=bob), metadata=admin)
        bob.active = False

        try:
            org.UpsertUser(org_pb2.UpsertUserRequest(user=bob), metadata=admin)
            raise AssertionError("deactivated with open leads")
        except grpc.RpcError as refused:
            status = rpc_status.from_call(refused)
            info = error_details_pb2.ErrorInfo()
            assert status is not None and status.details[0].Unpack(info)
            assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "has 2 open leads" in refused.details()
            assert (info.reason, dict(info.metadata)) == (
                "OWNS_OPEN_LEADS",
                {"open_deals": "0", "open_leads": "2"},
            )

        done = org.UpsertUser(
            org_pb2.UpsertUserRequest(user=bob, reassign_open_work_to_manager=True), metadata=admin
        )

    assert done.active is False
    assert work.calls == [("leads", "mia", "root"), ("deals", "mia", "root")]


def test_no_service_principal_reaches_forecasting(tmp_path: Path) -> None:
    with running_service(make_definition(open_work=lambda _: StandInWork()), tmp_path) as service:
        org = org_pb2_grpc.OrgServiceStub(service.channel)
        rollups = forecasting_pb2_grpc.ForecastingServiceStub(service.channel)
        upsert = org_pb2.UpsertUserRequest(user=org_pb2.User(user_id="x", display_name="X", roles=["admin"]))
        rollup = forecasting_pb2.GetRollupRequest(user_id="x", period_id="2026-Q4")
        codes = set()
        for principal in ("service:leads", "service:forecasting"):
            token = service.bearer(principal, "service", "admin")
            codes.add(code_of(partial(org.UpsertUser, upsert, metadata=token)))
            codes.add(code_of(partial(org.ListUsers, org_pb2.ListUsersRequest(), metadata=token)))
            codes.add(code_of(partial(rollups.GetRollup, rollup, metadata=token)))

    assert codes == {grpc.StatusCode.PERMISSION_DENIED}
