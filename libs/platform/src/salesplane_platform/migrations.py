"""Alembic migrations per service, applied on start.

Each service keeps its own migration scripts; their env.py calls `run_alembic_env()`. Replicas that
start at once on PostgreSQL take an advisory lock so only one migrates.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Engine, text


def upgrade_to_head(engine: Engine, script_location: Path, *, lock_name: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # A schema change on a large table may rightly outlast the statement timeout that bounds
            # the service's own statements (db.make_engine); it runs once, while nothing serves.
            connection.execute(text("SET LOCAL statement_timeout = 0"))
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(lock_name)})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def run_alembic_env() -> None:
    """Body of every service's migrations/env.py: run online on the connection we were handed."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("migrations run only through salesplane_platform.migrations.upgrade_to_head")
    context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def _lock_key(name: str) -> int:
    return zlib.crc32(f"salesplane-migrations:{name}".encode())
