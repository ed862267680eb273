"""Who reports to whom, as every service needs it to limit a manager to their subtree.

Forecasting owns the organisation and publishes a `UserChanged` event (full state, versioned) for
every change. Other services keep a replica of the reporting lines from those events, so an
authorisation decision is a local query, never a synchronous call to another service. The replica
is eventually consistent: a manager given a new report reaches their records once the event is in,
usually well under a second.

The queries work on any table with `user_id` and `manager_user_id` columns, so forecasting runs
them on its own users table and the others on their replica.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    MetaData,
    Select,
    String,
    Table,
    literal,
    select,
)
from sqlalchemy.orm import Session

from salesplane.forecasting.v1 import org_pb2
from salesplane_platform import topics
from salesplane_platform.consumer_runner import ConsumedEvent, Rejection
from salesplane_platform.db import upsert_statement
from salesplane_platform.events import MalformedEvent, unpack_payload
from salesplane_platform.identity import ROLE_MANAGER, Identity

ORG_TOPIC = topics.FORECASTING
USER_CHANGED = org_pb2.UserChanged.DESCRIPTOR.full_name
REPLICA_TABLE = "org_reporting_lines"
# Deeper than any real organisation; bounds the recursion should the data ever hold a cycle.
MAX_DEPTH = 64


def define_reporting_lines_table(metadata: MetaData) -> Table:
    return Table(
        REPLICA_TABLE,
        metadata,
        Column("user_id", String(64), primary_key=True),
        Column("manager_user_id", String(64), nullable=True, index=True),
        Column("active", Boolean, nullable=False),
        Column("version", BigInteger, nullable=False),
        # What the user may do and their e-mail, for the roles-from-the-organisation check
        # (org_identity.py).
        Column("roles", String(255), nullable=False, server_default=""),
        Column("email", String(254), nullable=False, server_default=""),
    )


def add_member_columns_v2() -> None:
    """Alembic operations adding roles and e-mail to the replica (call from a service migration).
    Rows replicated before it have none until their user's next UserChanged: a service upgraded in
    place should replay the organisation topic (its consumer group's offsets reset to the start)."""
    op.add_column(REPLICA_TABLE, Column("roles", String(255), nullable=False, server_default=""))
    op.add_column(REPLICA_TABLE, Column("email", String(254), nullable=False, server_default=""))


def create_reporting_lines_table_v1() -> None:
    """Alembic operations creating the replica table (call from a service migration)."""
    op.create_table(
        REPLICA_TABLE,
        Column("user_id", String(64), primary_key=True),
        Column("manager_user_id", String(64), nullable=True),
        Column("active", Boolean, nullable=False),
        Column("version", BigInteger, nullable=False),
    )
    op.create_index(f"ix_{REPLICA_TABLE}_manager_user_id", REPLICA_TABLE, ["manager_user_id"])


class ReportingLines:
    """Subtree queries over a table of (user_id, manager_user_id)."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def subtree_select(self, root_user_id: str) -> Select[tuple[str]]:
        """SELECT of the user ids in root's subtree, root included (for `owner IN (...)` filters)."""
        lines = self._table
        seed = select(literal(root_user_id).label("user_id"), literal(0).label("depth"))
        tree = seed.cte("subtree", recursive=True)
        step = select(lines.c.user_id, (tree.c.depth + 1).label("depth")).join(
            tree, lines.c.manager_user_id == tree.c.user_id
        )
        tree = tree.union_all(step.where(tree.c.depth < MAX_DEPTH))
        return select(tree.c.user_id)

    def is_in_subtree(self, session: Session, root_user_id: str, user_id: str) -> bool:
        """Whether user_id is root_user_id or reports to them, directly or not."""
        if user_id == root_user_id:
            return True
        lines = self._table
        seed = select(lines.c.manager_user_id.label("user_id"), literal(1).label("depth")).where(
            lines.c.user_id == user_id
        )
        chain = seed.cte("managers", recursive=True)
        step = select(lines.c.manager_user_id, (chain.c.depth + 1).label("depth")).join(
            chain, lines.c.user_id == chain.c.user_id
        )
        chain = chain.union_all(step.where(chain.c.depth < MAX_DEPTH))
        found = session.execute(
            select(literal(1)).select_from(chain).where(chain.c.user_id == root_user_id).limit(1)
        ).first()
        return found is not None

    def is_active(self, session: Session, user_id: str) -> bool | None:
        """Whether the user is active; None when the organisation does not know them (yet)."""
        found = session.execute(select(self._table.c.active).where(self._table.c.user_id == user_id)).first()
        return None if found is None else bool(found[0])

    def manager_of(self, session: Session, user_id: str) -> str | None:
        return session.execute(
            select(self._table.c.manager_user_id).where(self._table.c.user_id == user_id)
        ).scalar_one_or_none()


class Reach:
    """What a caller may reach: their own records, their subtree's if a manager, all if admin."""

    def __init__(self, lines: ReportingLines) -> None:
        self._lines = lines

    def can_reach(self, session: Session, caller: Identity, user_id: str) -> bool:
        if caller.is_admin or caller.subject == user_id:
            return True
        if ROLE_MANAGER not in caller.roles:
            return False
        return self._lines.is_in_subtree(session, caller.subject, user_id)

    def is_active(self, session: Session, user_id: str) -> bool | None:
        return self._lines.is_active(session, user_id)

    def visible_users(self, caller: Identity) -> Select[tuple[str]] | None:
        """SELECT of the user ids whose records the caller sees; None means everybody's."""
        if caller.is_admin:
            return None
        if ROLE_MANAGER in caller.roles:
            return self._lines.subtree_select(caller.subject)
        return select(literal(caller.subject).label("user_id"))


class OrgReplicaHandler:
    """Keeps the replica table current from UserChanged events; other events on the topic are not
    for it and are passed over."""

    def __init__(self, table: Table, topic: str = ORG_TOPIC) -> None:
        self._table = table
        self.topics: Sequence[str] = (topic,)

    def apply(self, session: Session, events: Sequence[ConsumedEvent]) -> list[Rejection]:
        rows: list[dict[str, object]] = []
        rejected: list[Rejection] = []
        for consumed in events:
            if consumed.envelope.event_type != USER_CHANGED:
                continue
            try:
                user = unpack_payload(consumed.envelope, org_pb2.UserChanged).user
            except MalformedEvent as error:
                rejected.append(Rejection(consumed, str(error)))
                continue
            if user.user_id != consumed.envelope.aggregate_id:
                rejected.append(Rejection(consumed, "user id differs from the aggregate id"))
                continue
            rows.append(
                {
                    "user_id": user.user_id,
                    "manager_user_id": user.manager_user_id or None,
                    "active": user.active,
                    "version": consumed.envelope.aggregate_version,
                    "roles": ",".join(sorted(user.roles))[:255],
                    "email": user.email[:254],
                }
            )
        if rows:
            statement = upsert_statement(
                session, self._table, ["user_id"], ["manager_user_id", "active", "version", "roles", "email"]
            )
            session.execute(statement, rows)
        return rejected
