"""What a service principal may do: call the RPCs a service names for it, and nothing else.

A service principal (`service:<name>`: a client-credentials token of a configured service client,
or in development a token minted with the development secret, see service_credentials.py) holds
no user role and is no admin. Each service lists, per principal, the RPCs it may call
(ServiceDefinition.service_rpcs); the shared interceptor refuses every other RPC with
PERMISSION_DENIED before any handler runs (deny by default), and the use cases of the allowed ones
check what only a service may do (e.g. opportunities creates a deal for a service only for a lead
conversion).

A service acting for a user says so in the `x-salesplane-on-behalf-of` metadata header. That claim
is recorded (the actor of the changes becomes "service:leads on behalf of bob"), never used to
authorise: the calling service checked the user before it called. A user's claim is ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Protocol

from salesplane_platform.errors import FieldViolation, InvalidArgument, PermissionDenied
from salesplane_platform.identifiers import USER_ID_RULE, is_user_id
from salesplane_platform.identity import SERVICE_PREFIX, Identity

# A principal's subject -> the full names of the RPCs it may call ("/package.Service/Method").
ServiceRpcs = Mapping[str, frozenset[str]]
NO_SERVICE_RPCS: ServiceRpcs = MappingProxyType({})
ON_BEHALF_OF_HEADER = "x-salesplane-on-behalf-of"


class _ServiceDescriptor(Protocol):
    """What rpc_name needs of a protobuf ServiceDescriptor."""

    @property
    def full_name(self) -> str: ...

    @property
    def methods_by_name(self) -> Mapping[str, object]: ...


def rpc_name(service: _ServiceDescriptor, method: str) -> str:
    """The full name gRPC gives a method of the service; KeyError for a method it does not have,
    so a misspelt allow-list fails at start, not by refusing calls."""
    if method not in service.methods_by_name:
        raise KeyError(f"{service.full_name} has no method {method!r}")
    return f"/{service.full_name}/{method}"


def service_rpcs(allowed: Mapping[str, Iterable[str]]) -> ServiceRpcs:
    """An allow-list by service name ("leads": RPC names) as the interceptor reads it."""
    frozen: dict[str, frozenset[str]] = {}
    for service, rpcs in allowed.items():
        if not service or service.startswith(SERVICE_PREFIX) or ":" in service:
            raise ValueError(f"{service!r} is not a service name (the principal is {SERVICE_PREFIX}<name>)")
        frozen[SERVICE_PREFIX + service] = frozenset(rpcs)
    return MappingProxyType(frozen)


def ensure_service_may_call(caller: Identity, method: str, allowed: ServiceRpcs) -> None:
    """PERMISSION_DENIED for a service principal on an RPC not allowed to it; users pass (what they
    may do is the use cases' business)."""
    if caller.is_service and method not in allowed.get(caller.subject, frozenset()):
        raise PermissionDenied(f"{caller.subject} may not call {method}: it is not allowed to that service")


def on_behalf_of(caller: Identity, metadata: Iterable[tuple[str, str | bytes]]) -> str:
    """The user a service says it acts for ("" when none, and always for a user's call: a user acts
    for themselves). Recorded only; a malformed claim is INVALID_ARGUMENT."""
    if not caller.is_service:
        return ""
    claimed = ""
    for key, value in metadata:
        if key == ON_BEHALF_OF_HEADER:
            claimed = (value.decode() if isinstance(value, bytes) else value).strip()
    if claimed and not is_user_id(claimed):
        raise InvalidArgument(FieldViolation(ON_BEHALF_OF_HEADER, USER_ID_RULE))
    return claimed


def actor_of(caller: Identity, acting_for: str) -> str:
    """Who the changes of a call are attributed to: the caller, and for a service the user it says
    it acted for as well."""
    if caller.is_service and acting_for:
        return f"{caller.subject} on behalf of {acting_for}"
    return caller.subject


def on_behalf_of_metadata(user_id: str) -> tuple[tuple[str, str], ...]:
    """The metadata a service sends to name the user it acts for."""
    return ((ON_BEHALF_OF_HEADER, user_id),) if user_id else ()
