"""The reporting database schema (SQLAlchemy Core; the migrations create it)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, Integer, MetaData, String, Table

from salesplane_platform.platform_tables import define_platform_tables

metadata = MetaData()
platform = define_platform_tables(metadata)

# One row per opportunity: its latest state as published by the opportunities service.
opportunity_view = Table(
    "opportunity_view",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("owner_user_id", String(64), nullable=False),
    Column("sales_stage", String(64), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("probability", Integer, nullable=False),
    Column("expected_close_date", Date),
    Column("version", BigInteger, nullable=False),
)

# One row per lead: its latest state as published by the leads service.
lead_view = Table(
    "lead_view",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("status", String(32), nullable=False),
    Column("lead_source_id", String(64), nullable=False),
    Column("version", BigInteger, nullable=False),
)
