"""Service-to-service credentials with a real OpenID Connect provider (Keycloak): the leads service's
client-credentials token, fetched as the leads service fetches it (token endpoint discovered from
the issuer), is `service:leads` to the opportunities service in production mode on PostgreSQL,
which lets it create a conversion's deal and list the stages, and nothing else."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from sqlalchemy import create_engine, text

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.opportunities.v1 import opportunities_pb2 as pb
from salesplane.opportunities.v1 import opportunities_pb2_grpc as pb_grpc
from salesplane_opportunities.entrypoints.main import DEFINITION
from salesplane_platform.authentication import auth_settings_from
from salesplane_platform.service_credentials import (
    ClientCredentialsToken,
    client_credentials_from,
    service_credentials,
)
from salesplane_platform.service_principals import ON_BEHALF_OF_HEADER
from salesplane_testing.in_process import running_service
from salesplane_testing.keycloak_server import AUDIENCE, SERVICE_CLIENT, SERVICE_SECRET, KeycloakServer

pytestmark = pytest.mark.integration

LEAD_ID = "6b0c5f5e-8a3b-4f3e-9b55-7e2a4c1d9f10"


def code_of(call: Callable[[], object]) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def test_the_leads_service_token_is_accepted_only_on_its_allowed_rpcs(
    keycloak: KeycloakServer, postgres_database_url: str, tmp_path
) -> None:
    provider = {
        "SALESPLANE_ENV": "production",
        "SALESPLANE_OIDC_ISSUER": keycloak.issuer,
        "SALESPLANE_OIDC_AUDIENCE": AUDIENCE,
    }
    # The leads service's own settings: its OAuth client, the grant's endpoint discovered.
    leads_env = {
        **provider,
        "SALESPLANE_OIDC_CLIENT_ID": SERVICE_CLIENT,
        "SALESPLANE_OIDC_CLIENT_SECRET": SERVICE_SECRET,
    }
    credentials = service_credentials(
        "leads", auth_settings_from(leads_env), client_credentials_from(leads_env)
    )
    assert isinstance(credentials, ClientCredentialsToken)
    token = credentials.bearer_token()
    assert credentials.bearer_token() == token  # reused, not fetched again
    leads = [("authorization", f"Bearer {token}"), (ON_BEHALF_OF_HEADER, "bob")]

    environ = {
        **provider,
        "SALESPLANE_DATABASE_URL": postgres_database_url,
        "SALESPLANE_OIDC_SERVICE_CLIENTS": f"{SERVICE_CLIENT}=leads",
    }
    with running_service(DEFINITION, tmp_path, environ=environ) as service:
        _member(postgres_database_url, "bob", "rep", "")
        stub = pb_grpc.OpportunityServiceStub(service.channel)
        denied = grpc.StatusCode.PERMISSION_DENIED

        stages = stub.ListSalesStages(pb.ListSalesStagesRequest(), metadata=leads).sales_stages
        first_open = min((s for s in stages if not s.is_won and not s.is_lost), key=lambda s: s.order)
        conversion = pb.CreateOpportunityRequest(
            name="Analytical Engines",
            owner_user_id="bob",
            amount=Money(currency_code="USD", amount_minor=40_000_00),
            expected_close_date=Date(year=2031, month=9, day=30),
            sales_stage=first_open.name,
            lead_id=LEAD_ID,
            request_id=f"lead-conversion:{LEAD_ID}",
        )
        made = stub.CreateOpportunity(conversion, metadata=leads)
        assert stub.CreateOpportunity(conversion, metadata=leads).id == made.id
        assert made.owner_user_id == "bob"

        # Nothing else: not the deals it made, not the users' RPCs, not another service's.
        get = pb.GetOpportunityRequest(opportunity_id=made.id)
        assert code_of(lambda: stub.GetOpportunity(get, metadata=leads)) == denied
        assert (
            code_of(lambda: stub.ListOpportunities(pb.ListOpportunitiesRequest(), metadata=leads)) == denied
        )
        close = pb.CloseOpportunityRequest(opportunity_id=made.id, outcome=pb.CLOSE_OUTCOME_WON)
        assert code_of(lambda: stub.CloseOpportunity(close, metadata=leads)) == denied
        reassign = pb.ReassignOpenOpportunitiesRequest(from_user_id="bob", to_user_id="alice")
        assert code_of(lambda: stub.ReassignOpenOpportunities(reassign, metadata=leads)) == denied
        not_a_conversion = pb.CreateOpportunityRequest()
        not_a_conversion.CopyFrom(conversion)
        not_a_conversion.lead_id = ""
        assert code_of(lambda: stub.CreateOpportunity(not_a_conversion, metadata=leads)) == denied

        history = stub.GetStageHistory(
            pb.GetStageHistoryRequest(opportunity_id=made.id),
            metadata=_admin(keycloak, engine_url=postgres_database_url),
        )
        assert [entry.actor for entry in history.entries] == ["service:leads on behalf of bob"]


def _admin(keycloak: KeycloakServer, *, engine_url: str) -> list[tuple[str, str]]:
    """Carol, made an admin of the organisation (its replica here)."""
    _member(engine_url, "carol", "admin", "carol@example.test")
    return [("authorization", f"Bearer {keycloak.password_token('carol')}")]


def _member(engine_url: str, user_id: str, roles: str, email: str) -> None:
    """A user in the service's replica of the organisation, as a UserChanged event writes it."""
    engine = create_engine(engine_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO org_reporting_lines (user_id, manager_user_id, active, version, roles, email)"
                " VALUES (:user_id, NULL, TRUE, 1, :roles, :email)"
            ),
            {"user_id": user_id, "roles": roles, "email": email},
        )
    engine.dispose()
