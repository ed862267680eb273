"""Service principals act for Salesplane, never as a user: no user role, no admin, only the RPCs a
service allows them (deny by default), and who they say they act for is recorded, never trusted."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

from salesplane_platform.errors import InvalidArgument, PermissionDenied, Unauthenticated
from salesplane_platform.grpc_interceptor import ServiceInterceptor, current_caller
from salesplane_platform.identity import Identity, TokenVerifier, issue_token, service_principal
from salesplane_platform.oidc import OidcSettings
from salesplane_platform.service_principals import (
    ON_BEHALF_OF_HEADER,
    actor_of,
    ensure_service_may_call,
    on_behalf_of,
    service_rpcs,
)

SECRET = "service-principal-test-secret-32-bytes"
ALLOWED = service_rpcs({"leads": {"/test.v1.Test/ForServices", "/test.v1.Test/Stream"}})


def who_calls(request: bytes, context: grpc.ServicerContext) -> bytes:
    return current_caller().subject.encode()


def stream(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
    yield current_caller().subject.encode()


@pytest.fixture
def channel() -> Iterator[grpc.Channel]:
    server = grpc.server(
        futures.ThreadPoolExecutor(4), interceptors=[ServiceInterceptor(TokenVerifier(SECRET), ALLOWED)]
    )
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "test.v1.Test",
                {
                    "ForServices": grpc.unary_unary_rpc_method_handler(who_calls),
                    "ForUsers": grpc.unary_unary_rpc_method_handler(who_calls),
                    "Stream": grpc.unary_stream_rpc_method_handler(stream),
                    "UserStream": grpc.unary_stream_rpc_method_handler(stream),
                },
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as opened:
        yield opened
    server.stop(None)


def bearer(subject: str, *roles: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {issue_token(SECRET, subject, roles)}")]


def code_of(call: grpc.UnaryUnaryMultiCallable, metadata: list[tuple[str, str]]) -> grpc.StatusCode:
    try:
        call(b"x", metadata=metadata, timeout=5)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def test_a_service_principal_is_refused_every_rpc_outside_its_allow_list(channel: grpc.Channel) -> None:
    for_services = channel.unary_unary("/test.v1.Test/ForServices")
    for_users = channel.unary_unary("/test.v1.Test/ForUsers")

    assert for_services(b"x", metadata=bearer("service:leads", "service"), timeout=5) == b"service:leads"
    assert code_of(for_users, bearer("service:leads", "service")) == grpc.StatusCode.PERMISSION_DENIED
    # Another service is allowed nothing here.
    assert (
        code_of(for_services, bearer("service:forecasting", "service")) == grpc.StatusCode.PERMISSION_DENIED
    )
    # Users are not limited by the list (their use cases decide).
    assert for_users(b"x", metadata=bearer("alice", "rep"), timeout=5) == b"alice"
    assert for_services(b"x", metadata=bearer("alice", "rep"), timeout=5) == b"alice"


def test_streaming_rpcs_keep_to_the_allow_list_too(channel: grpc.Channel) -> None:
    allowed = channel.unary_stream("/test.v1.Test/Stream")
    refused = channel.unary_stream("/test.v1.Test/UserStream")

    assert list(allowed(b"", metadata=bearer("service:leads", "service"), timeout=5)) == [b"service:leads"]
    with pytest.raises(grpc.RpcError) as raised:
        list(refused(b"", metadata=bearer("service:leads", "service"), timeout=5))
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_service_token_claiming_user_roles_gets_none_and_a_user_cannot_claim_the_service_role(
    channel: grpc.Channel,
) -> None:
    verifier = TokenVerifier(SECRET)
    service = verifier.verify(issue_token(SECRET, "service:leads", ["admin", "manager"]))

    assert (service.subject, service.roles, service.is_admin) == (
        "service:leads",
        frozenset({"service"}),
        False,
    )
    assert code_of(channel.unary_unary("/test.v1.Test/ForUsers"), bearer("service:leads", "admin")) == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    with pytest.raises(Unauthenticated, match="service role"):
        verifier.verify(issue_token(SECRET, "alice", ["service", "admin"]))
    with pytest.raises(Unauthenticated, match="needs a name"):
        verifier.verify(issue_token(SECRET, "service:", ["service"]))


@pytest.mark.parametrize(
    "identity",
    [
        service_principal("leads"),
        Identity("service:leads", frozenset({"admin"})),
        Identity("batch", frozenset({"service", "admin", "manager"})),
    ],
)
def test_a_service_identity_holds_no_user_role_and_is_no_admin(identity: Identity) -> None:
    assert identity.is_service
    assert not identity.is_admin
    assert not identity.has_any("rep", "manager", "marketing", "admin")


def test_the_allow_list_names_services_and_denies_by_default() -> None:
    ensure_service_may_call(service_principal("leads"), "/test.v1.Test/ForServices", ALLOWED)
    with pytest.raises(PermissionDenied, match=r"service:leads may not call /test\.v1\.Test/ForUsers"):
        ensure_service_may_call(service_principal("leads"), "/test.v1.Test/ForUsers", ALLOWED)
    with pytest.raises(PermissionDenied):
        ensure_service_may_call(service_principal("leads"), "/test.v1.Test/ForServices", service_rpcs({}))
    with pytest.raises(ValueError):
        service_rpcs({"service:leads": {"/x/Y"}})


def test_who_a_service_acts_for_is_recorded_and_a_users_claim_is_ignored() -> None:
    claim = [(ON_BEHALF_OF_HEADER, "bob"), ("authorization", "Bearer x")]
    leads = service_principal("leads")
    alice = Identity("alice", frozenset({"admin"}))

    assert on_behalf_of(leads, claim) == "bob"
    assert actor_of(leads, "bob") == "service:leads on behalf of bob"
    assert actor_of(leads, "") == "service:leads"
    assert on_behalf_of(alice, claim) == ""
    assert actor_of(alice, on_behalf_of(alice, claim)) == "alice"
    with pytest.raises(InvalidArgument):
        on_behalf_of(leads, [(ON_BEHALF_OF_HEADER, "bob smith; DROP")])


def test_a_provider_client_names_the_service_it_is() -> None:
    settings = OidcSettings(
        issuer="https://id.example",
        audience="salesplane",
        service_clients=frozenset({"salesplane-leads=leads", "etl"}),
    )

    assert settings.service_names == {"salesplane-leads": "leads", "etl": "etl"}
