"""Many-row upserts and key lookups behave the same on PostgreSQL (COPY + unnest) and SQLite."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import BigInteger, Column, Date, DateTime, MetaData, String, Table, select

from salesplane_platform.bulk_writes import ADD, REPLACE, bulk_lookup, bulk_upsert
from salesplane_platform.db import make_engine, make_session_factory

metadata = MetaData()
totals = Table(
    "bulk_totals",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("period_id", String(16), primary_key=True),
    Column("amount", BigInteger, nullable=False),
    Column("label", String(200), nullable=True),
    Column("day", Date, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
COLUMNS = ["user_id", "period_id", "amount", "label", "day", "updated_at"]
NOW = datetime(2026, 11, 30, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def sessions(request, tmp_path):
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_database_url")
    else:
        url = f"sqlite:///{tmp_path / 'bulk.db'}"
    engine = make_engine(url)
    metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


def stored(sessions) -> dict[tuple[str, str], tuple]:
    with sessions() as session:
        rows = session.execute(select(totals)).all()
    return {(r.user_id, r.period_id): (r.amount, r.label, r.day) for r in rows}


def write(session, rows, update) -> None:
    bulk_upsert(session, totals, COLUMNS, rows, keys=["user_id", "period_id"], update=update)


def upsert(sessions, rows, update) -> None:
    with sessions() as session, session.begin():
        write(session, rows, update)


def test_new_rows_are_inserted_and_existing_ones_added_to_or_replaced(sessions):
    tricky = 'tab\there, new\nline, back\\slash, quote \' and "double", naïve €'
    first = [("ann", "2026-Q4", 5, tricky, date(2026, 12, 1), NOW), ("bob", "2026-Q4", 7, None, None, NOW)]
    upsert(sessions, first, {})
    upsert(
        sessions,
        [("ann", "2026-Q4", -2, "ignored", None, NOW), ("cy", "2026-11", 1, "new", None, NOW)],
        {"amount": ADD, "updated_at": REPLACE},
    )
    upsert(sessions, [("bob", "2026-Q4", 100, "replaced", None, NOW)], {"label": REPLACE})
    upsert(sessions, [("bob", "2026-Q4", 999, "nothing", None, NOW)], {})
    assert stored(sessions) == {
        ("ann", "2026-Q4"): (3, tricky, date(2026, 12, 1)),
        ("bob", "2026-Q4"): (7, "replaced", None),
        ("cy", "2026-11"): (1, "new", None),
    }


def test_lookups_find_exactly_the_keys_asked_for_even_after_a_rolled_back_write(sessions):
    upsert(sessions, [(f"u{i}", "2026-Q4", i, None, None, NOW) for i in range(1200)], {})
    with sessions() as session:
        with session.begin():
            write(session, [("rolled", "back", 1, None, None, NOW)], {})
            session.rollback()
        wanted = [("u5", "2026-Q4"), ("u1100", "2026-Q4"), ("u5", "2026-Q1"), ("nobody", "2026-Q4")]
        with session.begin():
            rows = bulk_lookup(
                session,
                totals,
                keys=["user_id", "period_id"],
                values=wanted,
                columns=["user_id", "amount"],
                for_update=True,
            )
            # The staging table of the rolled-back transaction is gone; the next write still works.
            write(session, [("later", "2026-Q4", 2, None, None, NOW)], {})
    assert sorted((r.user_id, r.amount) for r in rows) == [("u1100", 1100), ("u5", 5)]
    assert ("rolled", "back") not in stored(sessions) and ("later", "2026-Q4") in stored(sessions)


def test_two_upserts_into_one_table_in_one_transaction_each_apply_once(sessions):
    with sessions() as session, session.begin():
        write(session, [("ann", "2026-Q4", 5, None, None, NOW)], {"amount": ADD})
        write(
            session,
            [("ann", "2026-Q4", 2, None, None, NOW), ("bob", "2026-Q4", 1, None, None, NOW)],
            {"amount": ADD},
        )
    assert stored(sessions) == {("ann", "2026-Q4"): (7, None, None), ("bob", "2026-Q4"): (1, None, None)}
