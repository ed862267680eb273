"""Random and malformed requests to every forecasting RPC: never a crash, never a partial write."""

from __future__ import annotations

import pytest

from salesplane.common.v1.common_pb2 import Money
from salesplane.forecasting.v1 import (
    forecasting_pb2,
    org_pb2,
    org_pb2_grpc,
    quotas_pb2,
    settings_pb2,
    settings_pb2_grpc,
    worksheets_pb2,
)
from salesplane_forecasting.entrypoints.main import DEFINITION
from salesplane_platform.identity import issue_token
from salesplane_testing.in_process import running_service
from salesplane_testing.rpc_fuzz import Pools, database_fingerprint, fuzz_every_rpc

USERS = ["vp", "mgr", "rep-a", "rep-b"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def forecasting(request, tmp_path):
    # API only: no relay or consumer writing in the background while fingerprints are taken.
    environ = {}
    if request.param == "postgresql":
        # PostgreSQL is stricter than SQLite (value lengths, NUL characters).
        environ["SALESPLANE_DATABASE_URL"] = request.getfixturevalue("postgres_database_url")
    with running_service(DEFINITION, tmp_path, environ=environ) as service:
        yield service.process, service.channel, service.settings


def test_no_rpc_crashes_or_half_writes(forecasting):
    process, channel, settings = forecasting

    def token(subject, *roles):
        return [("authorization", f"Bearer {issue_token(settings.auth_secret, subject, list(roles))}")]

    org = org_pb2_grpc.OrgServiceStub(channel)
    pools = Pools(
        user_ids=USERS,
        by_field={
            "period_id": ["2026-Q4", "2026-Q1", "2026-11", "2026-Q5", "Q4"],
            "roles": ["rep", "manager", "admin", "wizard"],
            "currency_code": ["USD", "EUR"],
        },
    )
    usd = Money(currency_code="USD", amount_minor=1_000_000)
    quarter = "2026-Q4"
    pools.add_template(forecasting_pb2.GetRollupRequest(user_id="rep-a", period_id=quarter))
    pools.add_template(
        forecasting_pb2.GetProbabilisticForecastRequest(
            user_id="mgr", period_id=quarter, scope=forecasting_pb2.FORECAST_SCOPE_TEAM
        )
    )
    defaults = settings_pb2_grpc.ForecastSettingsServiceStub(channel).GetForecastSettings(
        settings_pb2.GetForecastSettingsRequest(), metadata=token("root", "admin")
    )
    pools.add_template(settings_pb2.UpdateForecastSettingsRequest(settings=defaults))
    pools.add_template(defaults)
    pools.add_template(quotas_pb2.SetQuotaRequest(user_id="vp", period_id=quarter, amount=usd))
    allocations = [
        quotas_pb2.DraftAllocation(user_id="mgr", kind=quotas_pb2.QUOTA_KIND_ASSIGNED, amount=usd),
        quotas_pb2.DraftAllocation(user_id="vp", kind=quotas_pb2.QUOTA_KIND_DIRECT, amount=usd),
    ]
    pools.add_template(
        quotas_pb2.SaveQuotaDraftRequest(manager_user_id="vp", period_id=quarter, allocations=allocations)
    )
    pools.add_template(quotas_pb2.CommitQuotaPlanRequest(manager_user_id="vp", period_id=quarter))
    pools.add_template(quotas_pb2.GetQuotaPlanRequest(manager_user_id="mgr", period_id=quarter))
    pools.add_template(worksheets_pb2.GetWorksheetRequest(user_id="mgr", period_id=quarter))
    pools.add_template(
        worksheets_pb2.CommitForecastRequest(
            user_id="rep-a", period_id=quarter, kind=worksheets_pb2.SNAPSHOT_KIND_REP, note="call"
        )
    )
    pools.add_template(
        worksheets_pb2.SaveWorksheetDraftRequest(
            user_id="mgr", period_id=quarter, kind=worksheets_pb2.SNAPSHOT_KIND_MANAGER
        )
    )
    pools.add_template(
        worksheets_pb2.AdjustManagerRowRequest(
            manager_user_id="mgr", period_id=quarter, user_id="rep-a", likely_minor=500_000
        )
    )
    for user_id, manager in [("vp", ""), ("mgr", "vp"), ("rep-a", "mgr"), ("rep-b", "mgr")]:
        request = org_pb2.UpsertUserRequest(
            user=org_pb2.User(
                user_id=user_id, display_name=user_id, roles=["manager"], manager_user_id=manager, active=True
            )
        )
        org.UpsertUser(request, metadata=token("root", "admin"))
        pools.add_template(request)
        pools.add_template(request.user)
    callers = [
        token("root", "admin"),
        token("root", "admin"),
        token("vp", "manager"),
        token("mgr", "manager"),
        token("mgr", "manager"),
        token("rep-a", "rep"),
        [("authorization", "Bearer not-a-token")],
        [],
    ]
    stats = fuzz_every_rpc(
        channel,
        [
            forecasting_pb2.DESCRIPTOR.services_by_name["ForecastingService"],
            org_pb2.DESCRIPTOR.services_by_name["OrgService"],
            settings_pb2.DESCRIPTOR.services_by_name["ForecastSettingsService"],
            quotas_pb2.DESCRIPTOR.services_by_name["QuotaService"],
            worksheets_pb2.DESCRIPTOR.services_by_name["WorksheetService"],
        ],
        pools=pools,
        callers=callers,
        fingerprint=lambda: database_fingerprint(process.context.engine),
        examples_per_rpc=25,
    )
    print(stats)
    # The fuzzer must get past validation sometimes, or it proves little.
    assert stats["ForecastingService.GetRollup"].get("OK", 0) > 0
    for rpc in (
        "OrgService.UpsertUser",
        "QuotaService.SetQuota",
        "QuotaService.SaveQuotaDraft",
        "WorksheetService.GetManagerWorksheet",
        "WorksheetService.CommitForecast",
        "ForecastSettingsService.UpdateForecastSettings",
    ):
        assert stats[rpc].get("OK", 0) > 0, (rpc, stats[rpc])
