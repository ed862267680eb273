"""The leads database schema (SQLAlchemy Core; the migrations create it)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, MetaData, String, Table

from salesplane_platform.platform_tables import define_platform_tables

metadata = MetaData()
platform = define_platform_tables(metadata)

leads = Table(
    "leads",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100), nullable=False),
    Column("company", String(255), nullable=False),
    Column("email", String(254), nullable=False),
    Column("phone", String(40), nullable=False),
    Column("status", String(16), nullable=False),
    Column("assigned_user_id", String(64), nullable=False),
    Column("lead_source", String(100), nullable=False),
    Column("created_by", String(255), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_leads_assigned_user_id", "assigned_user_id"),
    Index("ix_leads_created_by", "created_by"),
)
