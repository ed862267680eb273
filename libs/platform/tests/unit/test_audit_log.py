"""The audit log: an entry for every event a unit of work writes and for each explicit planning
change, in the same transaction; read back newest first with what changed since the subject's
previous entry; published on the audit topic."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import MetaData, select
from sqlalchemy.orm import Session, sessionmaker

from salesplane.audit.v1 import audit_pb2
from salesplane.common.v1.common_pb2 import Money
from salesplane_platform.audit_log import MISSING, AuditQuery, field_changes, read_entries
from salesplane_platform.audit_mapping import audit_entry_proto, audit_query
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.errors import InvalidArgument
from salesplane_platform.events import decode_envelope, unpack_payload
from salesplane_platform.platform_tables import define_platform_tables
from salesplane_platform.request_ids import bind_request_id, unbind_request_id
from salesplane_platform.unit_of_work import OutboxContext, SqlUnitOfWork

metadata = MetaData()
platform = define_platform_tables(metadata)


@pytest.fixture
def sessions(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'svc.db'}")
    metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


def outbox(audit_topic: str | None = "audit") -> OutboxContext:
    return OutboxContext(platform, "test", "events", threading.Event(), audit_topic=audit_topic)


def change_money(sessions: sessionmaker[Session], version: int, amount: int, actor: str = "ann") -> None:
    with SqlUnitOfWork(sessions, outbox()).acting_for(actor) as uow:
        uow.record_event(
            payload=Money(currency_code="EUR", amount_minor=amount),
            aggregate_type="price",
            aggregate_id="p1",
            aggregate_version=version,
            actor=actor,
        )
        uow.commit()


def read(sessions: sessionmaker[Session], query: AuditQuery | None = None):
    with sessions() as session:
        return read_entries(session, platform.audit_log, query or AuditQuery())


def test_every_event_gets_an_entry_with_its_actor_request_and_state_and_is_published(sessions):
    token = bind_request_id("req-42")
    try:
        change_money(sessions, 1, 100)
    finally:
        unbind_request_id(token)

    (entry,), more = read(sessions)
    assert not more
    assert (entry.actor, entry.request_id, entry.subject_type, entry.subject_id) == (
        "ann",
        "req-42",
        "price",
        "p1",
    )
    assert (entry.subject_version, entry.action) == (1, "Money")
    assert entry.state == {"currency_code": "EUR", "amount_minor": "100"}
    assert entry.previous_state is None
    with sessions() as session:
        rows = session.execute(select(platform.outbox).order_by(platform.outbox.c.id)).all()
    assert [(r.topic, r.aggregate_type) for r in rows] == [("events", "price"), ("audit", "audit_entry")]
    event_row = rows[0]
    published = unpack_payload(decode_envelope(rows[1].payload), audit_pb2.AuditEntryRecorded).entry
    # The entry and the change's event can be joined: the entry's id is the event's.
    assert published.entry_id == decode_envelope(event_row.payload).event_id == entry.entry_id
    assert (published.service, published.actor, published.request_id) == ("test", "ann", "req-42")


def test_a_change_rolled_back_leaves_no_entry(sessions):
    with SqlUnitOfWork(sessions, outbox()).acting_for("ann") as uow:
        uow.record_event(
            payload=Money(currency_code="EUR", amount_minor=1),
            aggregate_type="price",
            aggregate_id="p1",
            aggregate_version=1,
            actor="ann",
        )
        # no commit: the with block rolls back

    assert read(sessions) == ([], False)


def test_an_entry_reads_with_what_changed_since_the_subjects_previous_entry(sessions):
    change_money(sessions, 1, 100)
    change_money(sessions, 2, 250, actor="bob")

    (newest, first), _ = read(sessions)
    assert newest.actor == "bob" and first.actor == "ann"
    proto = audit_entry_proto(newest, "test")
    assert proto.has_previous
    assert [(c.path, getattr(c, "from").string_value, c.to.string_value) for c in proto.changes] == [
        ("amount_minor", "100", "250")
    ]
    assert not audit_entry_proto(first, "test").has_previous


def test_explicit_entries_for_changes_without_events_need_an_actor(sessions):
    with SqlUnitOfWork(sessions, outbox(audit_topic=None)).acting_for("vp") as uow:
        uow.audit(
            action="QuotaDraftSaved",
            subject_type="quota_draft",
            subject_id="vp/2026-Q4",
            state={"allocations": [{"user_id": "east", "amount_minor": 5}]},
        )
        uow.commit()
    with SqlUnitOfWork(sessions, outbox()) as uow, pytest.raises(RuntimeError):
        uow.audit(action="X", subject_type="y", subject_id="z", state={})

    (entry,), _ = read(sessions)
    assert (entry.actor, entry.action, entry.subject_version) == ("vp", "QuotaDraftSaved", 0)
    with sessions() as session:
        assert session.execute(select(platform.outbox)).all() == []  # no audit topic: stored only


def test_filters_combine_and_the_cursor_pages_through_without_gaps_or_repeats(sessions):
    for version in range(1, 8):
        change_money(sessions, version, version * 10, actor="ann" if version % 2 else "bob")

    seen: list[str] = []
    query = AuditQuery(limit=3)
    while True:
        page, more = read(sessions, query)
        seen.extend(entry.entry_id for entry in page)
        if not more:
            break
        query = AuditQuery(limit=3, before=(page[-1].occurred_at, page[-1].entry_id))
    everything, _ = read(sessions, AuditQuery(limit=100))
    assert seen == [entry.entry_id for entry in everything] and len(seen) == 7
    bobs, _ = read(sessions, AuditQuery(actor="bob", subject_type="price"))
    assert [entry.subject_version for entry in bobs] == [6, 4, 2]
    assert read(sessions, AuditQuery(since=datetime.now(UTC) + timedelta(hours=1))) == ([], False)


def test_field_changes_name_added_removed_and_changed_leaves_and_compare_lists_whole():
    before = {"a": {"b": 1, "c": 2}, "tags": [1, 2], "gone": "x"}
    after = {"a": {"b": 1, "c": 3}, "tags": [2, 1], "new": True}

    assert [(c.path, c.before, c.after) for c in field_changes(before, after)] == [
        ("a.c", 2, 3),
        ("gone", "x", MISSING),
        ("new", MISSING, True),
        ("tags", [1, 2], [2, 1]),
    ]


def test_a_bad_list_request_names_every_bad_field():
    request = audit_pb2.ListAuditEntriesRequest(page_size=501, before_entry_id="e1", actor="x" * 1001)

    with pytest.raises(InvalidArgument) as error:
        audit_query(request)

    assert sorted(v.field for v in error.value.violations) == ["actor", "before_entry_id", "page_size"]


@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [(1_700_000_000, -1), (1_700_000_000, 1_000_000_000), (253_402_300_800, 0), (-62_135_596_801, 0)],
)
def test_an_impossible_instant_is_a_bad_field_not_a_crash(seconds, nanos):
    # Found by the malformed-request runs (tests/fuzz): ToDatetime raised ValueError, answered INTERNAL.
    instant = Timestamp(seconds=seconds, nanos=nanos)
    request = audit_pb2.ListAuditEntriesRequest(since=instant, before_time=instant, before_entry_id="e1")

    with pytest.raises(InvalidArgument) as error:
        audit_query(request)

    assert sorted(v.field for v in error.value.violations) == ["before_time", "since"]


def test_a_filter_with_a_nul_character_is_a_bad_field_not_a_crash():
    # PostgreSQL refuses NUL in text: unchecked, the filter failed as INTERNAL there.
    request = audit_pb2.ListAuditEntriesRequest(subject_id="a\x00b", actor="\x07")

    with pytest.raises(InvalidArgument) as error:
        audit_query(request)

    assert sorted(v.field for v in error.value.violations) == ["actor", "subject_id"]
