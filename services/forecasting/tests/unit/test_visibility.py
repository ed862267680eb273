"""Who may read whose forecast: every read of forecasting, for every kind of caller.

The org: vp > east > (ann, bob); vp > west > cat. A user reads their own figures, every manager
above them reads them too, an admin reads everything; peers, reps of other teams and managers of
other teams do not. Drafts are the author's alone (checked in the quota and worksheet tests)."""

from __future__ import annotations

import grpc
import pytest

from salesplane.forecasting.v1 import (
    forecasting_pb2,
    forecasting_pb2_grpc,
    org_pb2,
    org_pb2_grpc,
    quotas_pb2,
    quotas_pb2_grpc,
    worksheets_pb2,
    worksheets_pb2_grpc,
)
from salesplane_forecasting.entrypoints.main import DEFINITION
from salesplane_testing.in_process import running_service

ORG = {"vp": "", "east": "vp", "west": "vp", "ann": "east", "bob": "east", "cat": "west"}
MANAGERS = {"vp", "east", "west"}
PERIOD = "2026-Q4"
# Readers of ann's figures, and of east's (a manager's) figures.
CAN_READ = {
    "ann": {"ann", "east", "vp", "root"},
    "east": {"east", "vp", "root"},
}


@pytest.fixture(scope="module")
def forecasting(tmp_path_factory):
    with running_service(DEFINITION, tmp_path_factory.mktemp("visibility")) as service:

        def token(user: str) -> list[tuple[str, str]]:
            roles = ["admin"] if user == "root" else ["manager"] if user in MANAGERS else ["rep"]
            return service.bearer(user, *roles)

        org = org_pb2_grpc.OrgServiceStub(service.channel)
        for user, manager in ORG.items():
            roles = ["manager"] if user in MANAGERS else ["rep"]
            user_message = org_pb2.User(
                user_id=user, display_name=user, roles=roles, manager_user_id=manager, active=True
            )
            org.UpsertUser(org_pb2.UpsertUserRequest(user=user_message), metadata=token("root"))
        yield service.channel, token


def reads(channel, subject: str):
    """Every read RPC of forecasting about `subject`, by name."""
    rollups = forecasting_pb2_grpc.ForecastingServiceStub(channel)
    sheets = worksheets_pb2_grpc.WorksheetServiceStub(channel)
    quotas = quotas_pb2_grpc.QuotaServiceStub(channel)
    sheet = worksheets_pb2.GetWorksheetRequest(user_id=subject, period_id=PERIOD)
    return {
        "GetRollup": lambda m: rollups.GetRollup(
            forecasting_pb2.GetRollupRequest(user_id=subject, period_id=PERIOD), metadata=m
        ),
        "GetProbabilisticForecast": lambda m: rollups.GetProbabilisticForecast(
            forecasting_pb2.GetProbabilisticForecastRequest(user_id=subject, period_id=PERIOD), metadata=m
        ),
        "GetRepWorksheet": lambda m: sheets.GetRepWorksheet(sheet, metadata=m),
        "ListForecastCommits": lambda m: sheets.ListForecastCommits(
            worksheets_pb2.ListForecastCommitsRequest(user_id=subject, period_id=PERIOD), metadata=m
        ),
        "GetForecastAccuracy": lambda m: sheets.GetForecastAccuracy(
            worksheets_pb2.GetForecastAccuracyRequest(user_id=subject, period_id=PERIOD), metadata=m
        ),
        "ListQuotaChanges": lambda m: quotas.ListQuotaChanges(
            quotas_pb2.ListQuotaChangesRequest(user_id=subject, period_id=PERIOD), metadata=m
        ),
        "GetQuota": lambda m: quotas.GetQuota(
            quotas_pb2.GetQuotaRequest(user_id=subject, period_id=PERIOD), metadata=m
        ),
        **(
            {
                "GetManagerWorksheet": lambda m: sheets.GetManagerWorksheet(sheet, metadata=m),
                "GetQuotaPlan": lambda m: quotas.GetQuotaPlan(
                    quotas_pb2.GetQuotaPlanRequest(manager_user_id=subject, period_id=PERIOD), metadata=m
                ),
            }
            if subject in MANAGERS
            else {}
        ),
    }


@pytest.mark.parametrize("subject", sorted(CAN_READ))
@pytest.mark.parametrize("caller", ["ann", "bob", "cat", "east", "west", "vp", "root"])
def test_each_read_is_open_to_the_user_their_managers_and_admins_only(forecasting, subject, caller):
    channel, token = forecasting
    allowed = caller in CAN_READ[subject]
    for name, call in reads(channel, subject).items():
        try:
            call(token(caller))
            outcome = grpc.StatusCode.OK
        except grpc.RpcError as error:
            outcome = error.code()
        if allowed:
            # NOT_FOUND: no quota committed yet, which is an answer, not a refusal.
            assert outcome in (grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND), (
                name,
                caller,
                subject,
                outcome,
            )
        else:
            assert outcome == grpc.StatusCode.PERMISSION_DENIED, (name, caller, subject, outcome)


def test_a_caller_without_a_token_is_refused_everywhere(forecasting):
    channel, _ = forecasting
    for name, call in reads(channel, "ann").items():
        with pytest.raises(grpc.RpcError) as refused:
            call([])
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, name
