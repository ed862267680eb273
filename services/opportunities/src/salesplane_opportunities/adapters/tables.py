"""The opportunities database schema (SQLAlchemy Core; the migrations create it)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Index, Integer, MetaData, String, Table

from salesplane_platform.platform_tables import define_platform_tables

metadata = MetaData()
platform = define_platform_tables(metadata)

opportunities = Table(
    "opportunities",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("owner_user_id", String(64), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("expected_close_date", Date, nullable=False),
    Column("sales_stage", String(64), nullable=False),
    Column("probability", Integer, nullable=False),
    Column("probability_manual", Boolean, nullable=False),
    Column("status", String(8), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_opportunities_owner_close", "owner_user_id", "expected_close_date"),
)

sales_stages = Table(
    "sales_stages",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", Integer, nullable=False, unique=True),
    Column("default_probability", Integer, nullable=False),
    Column("is_won", Boolean, nullable=False),
    Column("is_lost", Boolean, nullable=False),
)
