"""Two consumers applying user events of different partitions at once still leave the complete
closure: the second waits for the first and recomputes with its users."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

import salesplane_reporting.migrations as migrations
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.migrations import upgrade_to_head
from salesplane_reporting.adapters import tables
from salesplane_reporting.adapters.read_model_store import ReadModelWriter

AT = datetime(2026, 11, 2, 9, tzinfo=UTC)


def user(user_id: str, manager: str | None) -> dict[str, object]:
    return {
        "user_id": user_id,
        "display_name": user_id,
        "manager_user_id": manager,
        "roles": "manager",
        "active": True,
        "version": 1,
        "update_time": AT,
    }


def test_concurrent_batches_of_users_leave_every_pair_of_the_closure(postgres_database_url: str) -> None:
    engine = make_engine(postgres_database_url)
    upgrade_to_head(engine, Path(migrations.__file__).parent, lock_name="reporting")
    sessions = make_session_factory(engine)
    first_written = threading.Event()
    try:
        with sessions() as first, first.begin():
            ReadModelWriter(first).save_users([user("vp", None), user("m1", "vp")], AT)

            def second_batch() -> None:
                first_written.set()
                with sessions() as second, second.begin():
                    ReadModelWriter(second).save_users([user("r1", "m1")], AT)

            worker = threading.Thread(target=second_batch)
            worker.start()
            first_written.wait(5)
            # The second batch now waits for this transaction (it would otherwise compute the
            # closure without vp and m1 and never learn vp -> r1).
            worker.join(0.5)
            assert worker.is_alive()
        worker.join(10)
        assert not worker.is_alive()
        with sessions() as session:
            c = tables.org_closure.c
            pairs = set(
                session.execute(
                    select(c.ancestor_user_id, c.descendant_user_id, c.distance).where(c.valid_to.is_(None))
                ).all()
            )
        assert ("vp", "r1", 2) in pairs
        assert pairs == {
            ("vp", "vp", 0),
            ("m1", "m1", 0),
            ("r1", "r1", 0),
            ("vp", "m1", 1),
            ("m1", "r1", 1),
            ("vp", "r1", 2),
        }
    finally:
        engine.dispose()


pytestmark = pytest.mark.integration
