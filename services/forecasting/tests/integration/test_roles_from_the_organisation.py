"""Forecasting in production mode behind a real OpenID Connect provider (Keycloak) on PostgreSQL:
the provider says who the caller is, the organisation what they may do. A user the organisation
does not know has no access, whatever their token; a manager demoted in the organisation loses
manager access within seconds; a deactivated user is refused; a bootstrap admin creates the first
users. The deactivation asks the (real) leads service for the user's open leads with forecasting's
own client-credentials token, which leads accepts as `service:forecasting`."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from salesplane.forecasting.v1 import forecasting_pb2, forecasting_pb2_grpc, org_pb2, org_pb2_grpc
from salesplane_forecasting.entrypoints.main import DEFINITION, LEADS_TARGET_ENV
from salesplane_leads.entrypoints.main import DEFINITION as LEADS
from salesplane_testing.in_process import RunningService, running_service
from salesplane_testing.keycloak_server import (
    AUDIENCE,
    FORECASTING_CLIENT,
    FORECASTING_SECRET,
    KeycloakServer,
)

pytestmark = pytest.mark.integration

PERIOD = "2026-Q4"


def test_roles_and_the_active_flag_come_from_the_organisation(
    keycloak: KeycloakServer, postgres_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = {
        "SALESPLANE_ENV": "production",
        "SALESPLANE_OIDC_ISSUER": keycloak.issuer,
        "SALESPLANE_OIDC_AUDIENCE": AUDIENCE,
    }
    environ = {
        **provider,
        "SALESPLANE_BOOTSTRAP_ADMINS": "carol",
        "SALESPLANE_DATABASE_URL": postgres_database_url,
        "SALESPLANE_OIDC_CLIENT_ID": FORECASTING_CLIENT,
        "SALESPLANE_OIDC_CLIENT_SECRET": FORECASTING_SECRET,
    }
    leads_environ = {**provider, "SALESPLANE_OIDC_SERVICE_CLIENTS": f"{FORECASTING_CLIENT}=forecasting"}
    tokens = {user: keycloak.password_token(user) for user in ("alice", "bob", "carol")}

    def as_(user: str) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {tokens[user]}")]

    (tmp_path / "leads").mkdir()
    with running_service(LEADS, tmp_path / "leads", environ=leads_environ) as leads:
        monkeypatch.setenv(LEADS_TARGET_ENV, f"127.0.0.1:{leads.process.grpc_port}")
        with running_service(DEFINITION, tmp_path, environ=environ) as service:
            check_the_organisation(service, as_)


def check_the_organisation(service: RunningService, as_: Callable[[str], list[tuple[str, str]]]) -> None:
    org = org_pb2_grpc.OrgServiceStub(service.channel)
    forecasting = forecasting_pb2_grpc.ForecastingServiceStub(service.channel)

    def rollup(caller: str, user: str) -> grpc.StatusCode:
        try:
            forecasting.GetRollup(
                forecasting_pb2.GetRollupRequest(user_id=user, period_id=PERIOD), metadata=as_(caller)
            )
        except grpc.RpcError as error:
            return error.code()
        return grpc.StatusCode.OK

    def upsert(user: str, roles: list[str], manager: str = "", active: bool = True) -> None:
        message = org_pb2.User(
            user_id=user,
            display_name=user.title(),
            email=f"{user}@example.test",
            roles=roles,
            manager_user_id=manager,
            active=active,
        )
        org.UpsertUser(org_pb2.UpsertUserRequest(user=message), metadata=as_("carol"))

    def within_five_seconds(caller: str, user: str, code: grpc.StatusCode) -> None:
        """The organisation's change reaches the caller's access within 5 s (its members are
        cached for 2 s)."""
        changed_at = time.monotonic()
        while (found := rollup(caller, user)) != code:
            assert time.monotonic() - changed_at < 5, f"{caller} on {user}: still {found} after 5 s"
            time.sleep(0.2)

    # Nobody is in the organisation yet: alice's valid token reaches nothing.
    assert rollup("alice", "alice") == grpc.StatusCode.PERMISSION_DENIED
    # The bootstrap admin creates the first users.
    upsert("alice", ["manager"])
    upsert("bob", ["rep"], manager="alice")
    within_five_seconds("alice", "bob", grpc.StatusCode.OK)
    assert rollup("bob", "alice") == grpc.StatusCode.PERMISSION_DENIED

    # Alice is demoted in the organisation; her token says nothing of it.
    upsert("alice", ["rep"])
    within_five_seconds("alice", "bob", grpc.StatusCode.PERMISSION_DENIED)
    assert rollup("alice", "alice") == grpc.StatusCode.OK

    # Bob is deactivated (the leads service, asked with forecasting's own client-credentials
    # token, knows no open lead of his): refused even for his own figures.
    assert rollup("bob", "bob") == grpc.StatusCode.OK
    upsert("bob", ["rep"], manager="alice", active=False)
    within_five_seconds("bob", "bob", grpc.StatusCode.PERMISSION_DENIED)
