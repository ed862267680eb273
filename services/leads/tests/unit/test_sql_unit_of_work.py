"""The SQL adapter on SQLite: the lead row and its outbox event commit together."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from salesplane.leads.v1 import events_pb2, leads_pb2
from salesplane_leads.adapters import tables
from salesplane_leads.adapters.proto_mapping import lead_to_proto
from salesplane_leads.adapters.sql_unit_of_work import SqlLeadsUnitOfWork
from salesplane_leads.domain.lead import Lead, LeadDraft
from salesplane_leads.entrypoints.main import DEFINITION, TOPIC
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.events import decode_envelope, unpack_payload
from salesplane_platform.migrations import upgrade_to_head
from salesplane_platform.unit_of_work import OutboxContext


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'leads.db'}")
    upgrade_to_head(engine, DEFINITION.migrations, lock_name="leads")
    yield engine
    engine.dispose()


def unit_of_work(engine: Engine) -> SqlLeadsUnitOfWork:
    outbox = OutboxContext(tables.platform, "leads", TOPIC, threading.Event())
    return SqlLeadsUnitOfWork(make_session_factory(engine), outbox)


def new_lead() -> Lead:
    draft = LeadDraft(first_name="Ada", last_name="Lovelace", email="ada@example.com", assigned_user_id="bob")
    return Lead.create(draft, created_by="alice")


def test_a_stored_lead_reads_back_equal(engine: Engine) -> None:
    lead = new_lead()
    with unit_of_work(engine) as uow:
        uow.leads.add(lead)
        uow.commit()

    with unit_of_work(engine) as uow:
        assert uow.leads.get(lead.id) == lead


def test_an_uncommitted_lead_is_not_stored(engine: Engine) -> None:
    lead = new_lead()
    with unit_of_work(engine) as uow:
        uow.leads.add(lead)
        uow.publish_events(lead, actor="alice")

    with unit_of_work(engine) as uow:
        assert uow.leads.get(lead.id) is None
        assert uow.session.execute(select(tables.platform.outbox)).all() == []


def test_the_lead_changed_event_is_written_to_the_outbox_with_the_lead(engine: Engine) -> None:
    lead = new_lead()
    with unit_of_work(engine) as uow:
        uow.leads.add(lead)
        uow.publish_events(lead, actor="alice")
        uow.commit()

    with unit_of_work(engine) as uow:
        rows = uow.session.execute(select(tables.platform.outbox)).all()
    assert len(rows) == 1
    row = rows[0]
    assert (row.topic, row.aggregate_type, row.aggregate_id, row.aggregate_version) == (
        TOPIC,
        "lead",
        lead.id,
        1,
    )
    envelope = decode_envelope(row.payload)
    assert envelope.event_type == "salesplane.leads.v1.LeadChanged"
    assert envelope.actor == "alice"
    payload = unpack_payload(envelope, events_pb2.LeadChanged)
    assert payload.lead == lead_to_proto(lead)
    assert payload.lead.status == leads_pb2.LEAD_STATUS_ASSIGNED
