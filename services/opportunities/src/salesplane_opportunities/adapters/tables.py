"""The opportunities database schema (SQLAlchemy Core; the migrations create it)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
)

from salesplane_platform.org_replica import define_reporting_lines_table
from salesplane_platform.platform_tables import BigIntegerId, define_platform_tables

metadata = MetaData()
platform = define_platform_tables(metadata)
reporting_lines = define_reporting_lines_table(metadata)

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
    Column("account_name", String(255), nullable=False),
    Column("best_case_minor", BigInteger, nullable=False),
    Column("best_case_manual", Boolean, nullable=False),
    Column("worst_case_minor", BigInteger, nullable=False),
    Column("worst_case_manual", Boolean, nullable=False),
    # NULL: not valued yet (a deal stored before valuation existed); amount_base_minor is then 0.
    Column("base_currency", String(3), nullable=True),
    Column("amount_base_minor", BigInteger, nullable=False),
    Column("best_case_base_minor", BigInteger, nullable=True),
    Column("worst_case_base_minor", BigInteger, nullable=True),
    # The exact decimal text of the rate, never a float.
    Column("exchange_rate", String(32), nullable=True),
    Column("exchange_rate_effective_date", Date, nullable=True),
    Column("next_step", String(500), nullable=False),
    Column("lead_source_id", String(36), nullable=True),
    Column("campaign_id", String(36), nullable=True),
    Column("lead_id", String(36), nullable=True),
    Column("close_reason", String(500), nullable=False),
    Column("close_time", DateTime(timezone=True), nullable=True),
    Index("ix_opportunities_owner_close", "owner_user_id", "expected_close_date"),
    # Keyset pagination in the default and the other common orders; the id breaks ties.
    Index("ix_opportunities_close_id", "expected_close_date", "id"),
    Index("ix_opportunities_amount_base_id", "amount_base_minor", "id"),
    Index("ix_opportunities_updated_id", "updated_at", "id"),
    Index("ix_opportunities_stage", "sales_stage"),
    Index("ix_opportunities_lead", "lead_id"),
    Index("ix_opportunities_campaign", "campaign_id"),
    # The deals an exchange-rate change revalues.
    Index("ix_opportunities_currency_close", "currency", "expected_close_date"),
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

# One row (id 1): the revision of the stage list, raised by every replacement.
sales_stage_revision = Table(
    "sales_stage_revision",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("revision", BigInteger, nullable=False),
)

exchange_rates = Table(
    "exchange_rates",
    metadata,
    Column("base_currency", String(3), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("effective_from", Date, nullable=False),
    Column("rate", String(32), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("base_currency", "currency", "effective_from"),
)

stage_history = Table(
    "stage_history",
    metadata,
    Column("id", BigIntegerId, primary_key=True, autoincrement=True),
    Column("opportunity_id", String(36), nullable=False),
    Column("sales_stage", String(64), nullable=False),
    Column("entered_at", DateTime(timezone=True), nullable=False),
    Column("left_at", DateTime(timezone=True), nullable=True),
    Column("actor", String(255), nullable=False),
    Index("ix_stage_history_opportunity", "opportunity_id", "entered_at"),
)

create_requests = Table(
    "create_requests",
    metadata,
    Column("caller", String(255), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("opportunity_id", String(36), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("caller", "request_id"),
)
