"""A provider's user gets the roles the organisation gives them, at most CACHE_SECONDS late; an
unknown or deactivated user gets nothing; services, development tokens and bootstrap admins keep
what they are."""

from __future__ import annotations

import pytest

from salesplane_platform.errors import PermissionDenied
from salesplane_platform.identity import Identity
from salesplane_platform.org_identity import Member, OrgBoundVerifier

PROVIDER = "https://id.example.test/realms/sales"


class Tokens:
    """A verifier stand-in: the header names the identity it vouches for."""

    def __init__(self) -> None:
        self.identities = {
            "alice": Identity("alice", frozenset(), email="alice@example.test", issuer=PROVIDER),
            "mallory": Identity("mallory", frozenset({"admin"}), issuer=PROVIDER),
            "leads": Identity("service:salesplane-leads", frozenset({"service"}), issuer=PROVIDER),
            "dev": Identity("root", frozenset({"admin"})),
            "boot": Identity("first-admin", frozenset(), issuer=PROVIDER),
        }

    def verify_header(self, header_value: str | None) -> Identity:
        return self.identities[str(header_value)]


class Organisation:
    def __init__(self) -> None:
        self.members = {"alice": Member("alice", frozenset({"manager"}), active=True)}
        self.reads = 0

    def __call__(self, key: str) -> Member | None:
        self.reads += 1
        if key == "alice@example.test":
            key = "alice"
        return self.members.get(key)


def bound(org: Organisation, **options: object) -> OrgBoundVerifier:
    return OrgBoundVerifier(Tokens(), org, bootstrap_admins=frozenset({"first-admin"}), **options)  # type: ignore[arg-type]


def test_a_users_roles_are_the_organisations_not_the_tokens():
    org = Organisation()
    assert bound(org).verify_header("alice").roles == frozenset({"manager"})
    # mallory's token says admin; the organisation does not know her.
    with pytest.raises(PermissionDenied, match="not a user of the organisation"):
        bound(org).verify_header("mallory")


def test_a_demotion_or_deactivation_takes_effect_once_the_cache_expires():
    org = Organisation()
    verifier = bound(org, cache_seconds=0.0)
    assert verifier.verify_header("alice").roles == frozenset({"manager"})
    org.members["alice"] = Member("alice", frozenset({"rep"}), active=True)
    assert verifier.verify_header("alice").roles == frozenset({"rep"})
    org.members["alice"] = Member("alice", frozenset({"rep"}), active=False)
    with pytest.raises(PermissionDenied, match="deactivated"):
        verifier.verify_header("alice")


def test_members_are_read_once_per_cache_period():
    org = Organisation()
    verifier = bound(org, cache_seconds=60.0)
    for _ in range(5):
        verifier.verify_header("alice")
    assert org.reads == 1


def test_services_development_tokens_and_bootstrap_admins_keep_what_they_are():
    org = Organisation()
    verifier = bound(org)
    assert verifier.verify_header("leads").roles == frozenset({"service"})
    assert verifier.verify_header("dev").roles == frozenset({"admin"})
    assert verifier.verify_header("boot").roles == frozenset({"admin"})
    assert org.reads == 0


def test_the_service_role_is_never_granted_by_the_organisation():
    org = Organisation()
    org.members["alice"] = Member("alice", frozenset({"manager", "service", "made-up"}), active=True)
    assert bound(org).verify_header("alice").roles == frozenset({"manager"})


def test_by_email_the_member_found_names_the_caller():
    org = Organisation()

    class ByEmail(Tokens):
        def verify_header(self, header_value: str | None) -> Identity:
            return Identity("alice@example.test", frozenset(), issuer=PROVIDER)

    verifier = OrgBoundVerifier(ByEmail(), org)
    assert verifier.verify_header("x").subject == "alice"
