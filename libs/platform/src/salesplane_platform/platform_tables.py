"""Tables every service database has: the outbox it publishes from, the consumer bookkeeping
(last applied version per aggregate, dead letters) written in the same transaction as the effect,
and the audit log (audit_log.py)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from salesplane_platform.audit_log import define_audit_table

# SQLite only auto-increments INTEGER PRIMARY KEY, PostgreSQL wants BIGINT for a high-volume table.
BigIntegerId = BigInteger().with_variant(Integer(), "sqlite")


def define_platform_tables(metadata: MetaData) -> PlatformTables:
    return PlatformTables(metadata)


class PlatformTables:
    def __init__(self, metadata: MetaData) -> None:
        self.outbox = Table(
            "outbox",
            metadata,
            Column("id", BigIntegerId, primary_key=True, autoincrement=True),
            Column("event_id", String(36), nullable=False, unique=True),
            Column("topic", String(200), nullable=False),
            Column("aggregate_type", String(64), nullable=False),
            Column("aggregate_id", String(64), nullable=False),
            Column("aggregate_version", BigInteger, nullable=False),
            Column("event_type", String(200), nullable=False),
            Column("payload", LargeBinary, nullable=False),
            Column("created_at", DateTime(timezone=True), nullable=False),
            # The W3C trace context of the transaction that wrote the row (trace_context.py), so
            # the relay's publish span continues its trace; NULL outside any trace.
            Column("trace_context", Text),
        )
        self.consumed_versions = Table(
            "consumed_versions",
            metadata,
            Column("aggregate_type", String(64), primary_key=True),
            Column("aggregate_id", String(64), primary_key=True),
            Column("version", BigInteger, nullable=False),
        )
        self.dead_letters = Table(
            "dead_letters",
            metadata,
            Column("id", BigIntegerId, primary_key=True, autoincrement=True),
            Column("topic", String(200), nullable=False),
            Column("partition", Integer, nullable=False),
            Column("offset", BigInteger, nullable=False),
            Column("key", LargeBinary),
            Column("value", LargeBinary),
            Column("error", Text, nullable=False),
            Column("received_at", DateTime(timezone=True), nullable=False),
            Index("ix_dead_letters_position", "topic", "partition", "offset", unique=True),
        )
        self.audit_log = define_audit_table(metadata)
