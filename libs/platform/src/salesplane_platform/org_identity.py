"""What a caller may do comes from the organisation, not from their token.

The identity provider says who the caller is (the token's user claim); forecasting's organisation
says what they may do: their roles and whether they are active, replicated to every service by
UserChanged events (org_replica.py) and read here from the local replica. So a user demoted or
deactivated loses the access within seconds of the change (the event's way here plus CACHE_SECONDS),
whatever tokens they still hold, and a user the organisation does not know has no access at all.

Three kinds of identity are left as they are:
* services (the `service:` principals of oidc.py): they act for Salesplane, not for a user;
* development tokens (signed with the development secret, SALESPLANE_ENV=development only): whoever
  holds that secret can mint any token anyway, and `make token --roles ...` stays useful;
* the bootstrap administrators of SALESPLANE_BOOTSTRAP_ADMINS, who are admins before the
  organisation has any user (somebody has to create the first ones).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy import Table, select
from sqlalchemy.orm import Session, sessionmaker

from salesplane_platform.authentication import Verifier
from salesplane_platform.errors import PermissionDenied
from salesplane_platform.identity import (
    ISSUER,
    KNOWN_ROLES,
    ROLE_ADMIN,
    ROLE_SERVICE,
    Identity,
)

# How long a member's roles are reused before the replica is read again.
CACHE_SECONDS = 2.0
CACHE_SIZE = 10_000


@dataclass(frozen=True)
class Member:
    user_id: str
    roles: frozenset[str]
    active: bool


# The token's user claim (a user id, or an e-mail: table_directory's by_email) -> the member, or
# None when the organisation does not know them.
Directory = Callable[[str], Member | None]


def table_directory(sessions: sessionmaker[Session], table: Table, *, by_email: bool = False) -> Directory:
    """Members read from a table with user_id, roles (comma-separated), active and email columns:
    forecasting's users, or another service's replica of them."""
    key_column = table.c.email if by_email else table.c.user_id

    def member(key: str) -> Member | None:
        with sessions() as session:
            row = session.execute(
                select(table.c.user_id, table.c.roles, table.c.active).where(key_column == key).limit(2)
            ).all()
        if len(row) != 1:
            # Unknown, or (by e-mail) ambiguous: no member.
            return None
        user_id, roles, active = row[0]
        return Member(user_id, frozenset(r for r in str(roles).split(",") if r), bool(active))

    return member


class OrgBoundVerifier:
    """A verifier whose users' roles and active flag come from the organisation."""

    def __init__(
        self,
        inner: Verifier,
        directory: Directory,
        *,
        bootstrap_admins: frozenset[str] = frozenset(),
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self._inner = inner
        self._directory = directory
        self._bootstrap_admins = bootstrap_admins
        self._cache_seconds = cache_seconds
        self._members: dict[str, tuple[Member | None, float]] = {}
        self._lock = threading.Lock()

    def verify_header(self, header_value: str | None) -> Identity:
        identity = self._inner.verify_header(header_value)
        if identity.issuer == ISSUER or ROLE_SERVICE in identity.roles:
            return identity
        if identity.subject in self._bootstrap_admins:
            return replace(identity, roles=frozenset({ROLE_ADMIN}))
        member = self._member(identity.subject)
        if member is None:
            raise PermissionDenied(f"{identity.subject!r} is not a user of the organisation")
        if not member.active:
            raise PermissionDenied(f"user {member.user_id!r} is deactivated")
        return replace(identity, subject=member.user_id, roles=member.roles & (KNOWN_ROLES - {ROLE_SERVICE}))

    def _member(self, key: str) -> Member | None:
        now = time.monotonic()
        with self._lock:
            cached = self._members.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        member = self._directory(key)
        with self._lock:
            if len(self._members) >= CACHE_SIZE:
                self._members.clear()
            self._members[key] = (member, now + self._cache_seconds)
        return member
