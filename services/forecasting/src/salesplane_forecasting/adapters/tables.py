"""The forecasting database schema."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Integer, MetaData, String, Table

from salesplane_platform.platform_tables import define_platform_tables

metadata = MetaData()
platform = define_platform_tables(metadata)

# The contribution each opportunity currently makes, so the next event can take it back out.
tracked_opportunities = Table(
    "tracked_opportunities",
    metadata,
    Column("opportunity_id", String(64), primary_key=True),
    Column("owner_user_id", String(64), nullable=True),
    Column("period_id", String(16), nullable=True),
    Column("currency", String(3), nullable=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("probability", Integer, nullable=False),
    Column("version", BigInteger, nullable=False),
)

rollups = Table(
    "rollups",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("period_id", String(16), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("opportunity_count", BigInteger, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("weighted_percent_minor", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# The sales organisation; the source of truth that other services replicate from UserChanged events.
users = Table(
    "users",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("email", String(254), nullable=False),
    # Comma-separated role names, sorted.
    Column("roles", String(200), nullable=False),
    Column("manager_user_id", String(64), nullable=True, index=True),
    Column("active", Boolean, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
