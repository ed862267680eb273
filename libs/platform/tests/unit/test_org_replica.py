"""Subtree queries and reach decisions over reporting lines (SQLite here; PostgreSQL in the
forecasting integration test)."""

from __future__ import annotations

import pytest
from sqlalchemy import MetaData, create_engine, insert
from sqlalchemy.orm import Session

from salesplane_platform.identity import Identity
from salesplane_platform.org_replica import Reach, ReportingLines, define_reporting_lines_table

LINES = {"vp": None, "m1": "vp", "m2": "vp", "r1": "m1", "r2": "m2", "r3": "r1"}


@pytest.fixture
def session():
    metadata = MetaData()
    table = define_reporting_lines_table(metadata)
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with Session(engine) as session:
        session.execute(
            insert(table),
            [dict(user_id=u, manager_user_id=m, active=True, version=1) for u, m in LINES.items()],
        )
        yield session, ReportingLines(table)


def test_subtrees(session):
    db, lines = session
    assert sorted(db.scalars(lines.subtree_select("m1"))) == ["m1", "r1", "r3"]
    assert sorted(db.scalars(lines.subtree_select("vp"))) == sorted(LINES)
    assert sorted(db.scalars(lines.subtree_select("unknown"))) == ["unknown"]
    assert lines.is_in_subtree(db, "vp", "r3")
    assert lines.is_in_subtree(db, "r1", "r1")
    assert not lines.is_in_subtree(db, "m2", "r3")
    assert not lines.is_in_subtree(db, "r3", "m1")


@pytest.mark.parametrize(
    ("subject", "roles", "target", "allowed"),
    [
        ("r1", {"rep"}, "r1", True),
        ("r1", {"rep"}, "r3", False),  # reps reach only themselves, even with people below them
        ("m1", {"manager"}, "r3", True),
        ("m1", {"manager"}, "r2", False),
        ("anyone", {"admin"}, "r2", True),
        # A service principal is no admin: it reaches no user's records (its allowed RPCs say what
        # it may do instead).
        ("service:leads", {"service"}, "r2", False),
        ("service:leads", {"service", "admin"}, "r2", False),
    ],
)
def test_reach(session, subject, roles, target, allowed):
    db, lines = session
    assert Reach(lines).can_reach(db, Identity(subject, frozenset(roles)), target) is allowed


def test_visible_users(session):
    db, lines = session
    reach = Reach(lines)
    assert reach.visible_users(Identity("a", frozenset({"admin"}))) is None
    assert sorted(db.scalars(reach.visible_users(Identity("m2", frozenset({"manager"}))))) == ["m2", "r2"]
    assert list(db.scalars(reach.visible_users(Identity("r1", frozenset({"rep"}))))) == ["r1"]
