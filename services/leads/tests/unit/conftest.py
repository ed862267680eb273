"""The leads use cases on the embedded SQLite database, migrated like in production: the real SQL
adapter, in milliseconds. (The queries - duplicate search, filtered pages, subtree reach - are the
point of many tests, so a hand-written fake would test itself.)"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from google.protobuf.message import Message
from sqlalchemy import Engine, delete, insert, select

from salesplane.leads.v1 import events_pb2
from salesplane_leads.adapters import tables
from salesplane_leads.adapters.sql_unit_of_work import SqlLeadsUnitOfWork
from salesplane_leads.entrypoints.main import DEFINITION, TOPIC
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.events import decode_envelope, unpack_payload
from salesplane_platform.identity import Identity
from salesplane_platform.migrations import upgrade_to_head
from salesplane_platform.unit_of_work import OutboxContext

ORGANISATION = ("ann", "bob", "carol", "dan", "mia", "mo", "x", "svc", "zed")
PAYLOADS: dict[str, type[Message]] = {
    "salesplane.leads.v1.LeadChanged": events_pb2.LeadChanged,
    "salesplane.leads.v1.LeadSourceChanged": events_pb2.LeadSourceChanged,
    "salesplane.leads.v1.CampaignChanged": events_pb2.CampaignChanged,
    "salesplane.leads.v1.ScoringRulesChanged": events_pb2.ScoringRulesChanged,
    "salesplane.leads.v1.LeadTouched": events_pb2.LeadTouched,
}


@dataclass(frozen=True)
class PublishedEvent:
    aggregate_type: str
    aggregate_id: str
    version: int
    actor: str
    payload: Message


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._session_factory = make_session_factory(engine)
        self._outbox = OutboxContext(tables.platform, "leads", TOPIC, threading.Event())

    def uow(self) -> SqlLeadsUnitOfWork:
        return SqlLeadsUnitOfWork(self._session_factory, self._outbox)

    def reports_to(self, user_id: str, manager_user_id: str | None, *, active: bool = True) -> None:
        """The organisation replica's row of a user (as UserChanged events write it)."""
        with self.engine.begin() as connection:
            connection.execute(
                delete(tables.reporting_lines).where(tables.reporting_lines.c.user_id == user_id)
            )
            connection.execute(
                insert(tables.reporting_lines).values(
                    user_id=user_id, manager_user_id=manager_user_id, active=active, version=1
                )
            )

    def events(self, aggregate_type: str | None = None) -> list[PublishedEvent]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(tables.platform.outbox).order_by(tables.platform.outbox.c.id)
            ).all()
        found = []
        for row in rows:
            envelope = decode_envelope(row.payload)
            if aggregate_type is None or envelope.aggregate_type == aggregate_type:
                found.append(
                    PublishedEvent(
                        envelope.aggregate_type,
                        envelope.aggregate_id,
                        envelope.aggregate_version,
                        envelope.actor,
                        unpack_payload(envelope, PAYLOADS[envelope.event_type]),
                    )
                )
        return found

    def count(self, table_name: str) -> int:
        table = tables.metadata.tables[table_name]
        with self.engine.connect() as connection:
            return len(connection.execute(select(table)).all())


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    engine = make_engine(f"sqlite:///{tmp_path / 'leads.db'}")
    upgrade_to_head(engine, DEFINITION.migrations, lock_name="leads")
    store = Store(engine)
    # The users leads are assigned to, as the organisation knows them (no reporting lines yet).
    for user in ORGANISATION:
        store.reports_to(user, None)
    yield store
    engine.dispose()


def caller(subject: str, *roles: str) -> Identity:
    return Identity(subject=subject, roles=frozenset(roles))


@pytest.fixture
def admin() -> Identity:
    return caller("ann", "admin")


@pytest.fixture
def marketer() -> Identity:
    return caller("mo", "marketing")


@pytest.fixture
def who() -> object:
    """who("bob", "rep") is bob with the rep role."""
    return caller
