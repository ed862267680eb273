"""Engines and sessions for PostgreSQL (production) and SQLite (embedded default)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.dml import Insert

from salesplane_platform import metrics


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


# The longest one statement may run before the server cancels it (SQLSTATE 57014, answered
# UNAVAILABLE like any database outage). Without a bound, a statement stuck behind a lock held by a
# runaway migration or an operator's session holds its worker thread until the lock goes: enough
# of them and the API stops answering anything, health checks included.
DEFAULT_STATEMENT_TIMEOUT_MS = 30000


def make_engine(
    url: str, *, pool_size: int = 10, statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS
) -> Engine:
    """Create an engine; callers own it and dispose of it on shutdown. `statement_timeout_ms` 0
    leaves statements unbounded (PostgreSQL only)."""
    if not is_sqlite(url):
        # No pre-ping: it costs a round trip on every checkout. A connection lost to a database
        # restart fails one call instead (answered UNAVAILABLE, so clients retry) and SQLAlchemy then
        # discards the whole pool.
        # A bounded connect: a database that is down or unreachable fails the call in seconds
        # instead of holding a worker loop or a readiness check.
        return create_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args={
                "connect_timeout": 10,
                "options": f"-c statement_timeout={max(0, statement_timeout_ms)}",
            },
        )
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    _serialise_sqlite_writers(engine)
    return engine


def _serialise_sqlite_writers(engine: Engine) -> None:
    # pysqlite's own transaction handling begins lazily and DEFERRED, so two writers can both read
    # and then deadlock on the upgrade to a write lock (SQLITE_BUSY without waiting). Taking the
    # write lock at BEGIN makes every transaction wait its turn under busy_timeout instead.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def upsert_statement(session: Session, table: Table, keys: Sequence[str], update: Sequence[str]) -> Insert:
    """INSERT ... ON CONFLICT (keys) DO UPDATE the `update` columns (or DO NOTHING when empty),
    in the dialect of the session's database; execute it with a list of row dicts."""
    dialect = session.get_bind().dialect.name
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    if not update:
        return statement.on_conflict_do_nothing(index_elements=list(keys))
    return statement.on_conflict_do_update(
        index_elements=list(keys), set_={c: statement.excluded[c] for c in update}
    )


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything Salesplane stores is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def observe_pool(engine: Engine) -> None:
    """Export the engine's pool use (db_pool_connections), read when scraped. A pool at its limit
    makes calls wait for a connection: the first sign that workers outnumber connections."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return
    metrics.DB_POOL_CONNECTIONS.labels("checked_out").set_function(pool.checkedout)
    metrics.DB_POOL_CONNECTIONS.labels("idle").set_function(pool.checkedin)
    # The pool's steady size; as many again may open as overflow under load (make_engine).
    metrics.DB_POOL_CONNECTIONS.labels("size").set_function(pool.size)
