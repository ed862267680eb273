"""InspectionService over a real gRPC channel to an in-process forecasting service on SQLite:
thresholds as admin settings, the team and rep inspections, and their errors."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from salesplane.forecasting.v1 import inspection_pb2, inspection_pb2_grpc, org_pb2, org_pb2_grpc
from salesplane_forecasting.entrypoints.main import DEFINITION
from salesplane_testing.in_process import running_service

ORG = {"vp": "", "mia": "vp", "ann": "mia", "max": "vp"}
MANAGERS = {"vp", "mia", "max"}
TODAY = datetime.now(UTC).date()
PERIOD = f"{TODAY.year}-Q{(TODAY.month - 1) // 3 + 1}"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    with running_service(DEFINITION, tmp_path_factory.mktemp("inspection")) as running:

        def token(user: str) -> list[tuple[str, str]]:
            roles = ["admin"] if user == "root" else ["manager"] if user in MANAGERS else ["rep"]
            return running.bearer(user, *roles)

        org = org_pb2_grpc.OrgServiceStub(running.channel)
        for user, manager in ORG.items():
            roles = ["manager"] if user in MANAGERS else ["rep"]
            message = org_pb2.User(
                user_id=user, display_name=user, roles=roles, manager_user_id=manager, active=True
            )
            org.UpsertUser(org_pb2.UpsertUserRequest(user=message), metadata=token("root"))
        yield inspection_pb2_grpc.InspectionServiceStub(running.channel), token


def violations(error: grpc.RpcError) -> set[str]:
    status = rpc_status.from_call(error)
    assert status is not None
    found: set[str] = set()
    for detail in status.details:
        request = error_details_pb2.BadRequest()
        if detail.Unpack(request):
            found |= {v.field for v in request.field_violations}
    return found


def test_thresholds_are_the_defaults_then_what_an_admin_saved(service):
    stub, token = service
    settings = stub.GetInspectionSettings(
        inspection_pb2.GetInspectionSettingsRequest(), metadata=token("ann")
    )
    assert settings.version == 0 and settings.thresholds.no_change_days == 14
    assert not settings.thresholds.HasField("unlikely_max_stage_order")
    settings.thresholds.no_change_days = 21
    saved = stub.UpdateInspectionSettings(
        inspection_pb2.UpdateInspectionSettingsRequest(settings=settings, expected_version=0),
        metadata=token("root"),
    )
    assert (saved.version, saved.thresholds.no_change_days, saved.updated_by) == (1, 21, "root")
    with pytest.raises(grpc.RpcError) as stale:
        stub.UpdateInspectionSettings(
            inspection_pb2.UpdateInspectionSettingsRequest(settings=settings, expected_version=7),
            metadata=token("root"),
        )
    assert stale.value.code() == grpc.StatusCode.ABORTED


def test_out_of_range_thresholds_are_invalid_argument_per_field_and_reps_may_not_change_them(service):
    stub, token = service
    settings = stub.GetInspectionSettings(
        inspection_pb2.GetInspectionSettingsRequest(), metadata=token("root")
    )
    settings.thresholds.stalled_percentile = 0
    settings.thresholds.no_change_days = 999
    request = inspection_pb2.UpdateInspectionSettingsRequest(settings=settings)
    with pytest.raises(grpc.RpcError) as bad:
        stub.UpdateInspectionSettings(request, metadata=token("root"))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(bad.value) == {
        "settings.thresholds.stalled_percentile",
        "settings.thresholds.no_change_days",
    }
    with pytest.raises(grpc.RpcError) as denied:
        stub.UpdateInspectionSettings(request, metadata=token("ann"))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_manager_inspects_their_team_and_a_reps_deals(service):
    stub, token = service
    team = stub.InspectTeam(
        inspection_pb2.InspectTeamRequest(manager_user_id="mia", period_id=PERIOD), metadata=token("vp")
    )
    assert team.team.user_id == "mia" and team.team.team
    assert sorted(row.user_id for row in team.rows) == ["ann", "mia"]
    assert team.team.coverage_needed_bp == 30_000  # no history: 3x
    rep = stub.InspectRep(inspection_pb2.InspectRepRequest(period_id=PERIOD), metadata=token("ann"))
    assert (rep.user_id, list(rep.deals)) == ("ann", [])


@pytest.mark.parametrize(
    ("caller", "request_", "code"),
    [
        (
            "max",
            inspection_pb2.InspectTeamRequest(manager_user_id="mia", period_id=PERIOD),
            "PERMISSION_DENIED",
        ),
        (
            "ann",
            inspection_pb2.InspectTeamRequest(manager_user_id="mia", period_id=PERIOD),
            "PERMISSION_DENIED",
        ),
        ("max", inspection_pb2.InspectRepRequest(user_id="ann", period_id=PERIOD), "PERMISSION_DENIED"),
        (
            "mia",
            inspection_pb2.InspectTeamRequest(manager_user_id="mia", period_id="2026-Q5"),
            "INVALID_ARGUMENT",
        ),
        ("ann", inspection_pb2.InspectRepRequest(user_id="ann", period_id=""), "INVALID_ARGUMENT"),
    ],
)
def test_callers_outside_the_subtree_and_bad_periods_get_clear_errors(service, caller, request_, code):
    stub, token = service
    call = stub.InspectTeam if isinstance(request_, inspection_pb2.InspectTeamRequest) else stub.InspectRep
    with pytest.raises(grpc.RpcError) as raised:
        call(request_, metadata=token(caller))
    assert raised.value.code() == getattr(grpc.StatusCode, code)
