"""Migration 0002 on the embedded database: leads written before it keep their data, their
free-text lead source becomes a lead source, and their duplicate keys are filled in."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import column, insert, select, table

from salesplane_leads.adapters import tables
from salesplane_leads.adapters.sql_unit_of_work import SqlLeadsUnitOfWork
from salesplane_leads.entrypoints.main import DEFINITION, TOPIC
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.migrations import upgrade_to_head
from salesplane_platform.unit_of_work import OutboxContext


def test_leads_from_before_0002_are_carried_over(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(DEFINITION.migrations))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        old_leads = table(
            "leads",
            *(
                column(name)
                for name in (
                    "id",
                    "first_name",
                    "last_name",
                    "company",
                    "email",
                    "phone",
                    "status",
                    "assigned_user_id",
                    "lead_source",
                    "created_by",
                    "version",
                    "created_at",
                    "updated_at",
                )
            ),
        )
        now = datetime(2030, 1, 1, tzinfo=UTC)
        for number, source in enumerate(["Trade show", "trade SHOW", ""]):
            connection.execute(
                insert(old_leads).values(
                    id=f"00000000-0000-4000-8000-00000000000{number}",
                    first_name="Zoë",
                    last_name="O'Brien",
                    company="Acme Inc.",
                    email=f"z{number}@example.com",
                    phone="+44 (0)20 7946 0018",
                    status="assigned",
                    assigned_user_id="bob",
                    lead_source=source,
                    created_by="alice",
                    version=3,
                    created_at=now,
                    updated_at=now,
                )
            )

    upgrade_to_head(engine, DEFINITION.migrations, lock_name="leads")

    uow = SqlLeadsUnitOfWork(
        make_session_factory(engine), OutboxContext(tables.platform, "leads", TOPIC, threading.Event())
    )
    with uow:
        [source] = uow.lead_sources.all()
        carried = [uow.leads.get(f"00000000-0000-4000-8000-00000000000{n}") for n in range(3)]
    assert (source.name, source.channel.value) == ("Trade show", "other")
    assert [lead.fields.lead_source_id if lead else None for lead in carried] == [source.id, source.id, ""]
    first = carried[0]
    assert first is not None
    assert (
        first.version,
        first.fields.first_name,
        first.normalised_phone,
        first.person_key,
        first.company_key,
    ) == (
        3,
        "Zoë",
        "+442079460018",
        "zoe|obrien",
        "acme",
    )
    with engine.connect() as connection:
        assert connection.execute(select(tables.scoring_rule_sets.c.revision)).scalar_one() == 1
    engine.dispose()
