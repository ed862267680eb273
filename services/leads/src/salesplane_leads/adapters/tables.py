"""The leads database schema (SQLAlchemy Core; the migrations create it)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from salesplane_platform.org_replica import define_reporting_lines_table
from salesplane_platform.platform_tables import define_platform_tables

metadata = MetaData()
platform = define_platform_tables(metadata)
# Who reports to whom, replicated from forecasting's UserChanged events (managers reach their subtree).
reporting_lines = define_reporting_lines_table(metadata)

lead_sources = Table(
    "lead_sources",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(100), nullable=False),
    # Case-folded name: names are unique case-insensitively. Folding can triple a name's length
    # ("ΐ" is three characters folded), hence the width.
    Column("name_key", String(400), nullable=False, unique=True),
    Column("channel", String(16), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("name_key", String(400), nullable=False, unique=True),
    Column("lead_source_id", String(36), ForeignKey("lead_sources.id"), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("budget_minor", BigInteger, nullable=False),
    Column("expected_cost_minor", BigInteger, nullable=True),
    Column("expected_revenue_minor", BigInteger, nullable=True),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

campaign_costs = Table(
    "campaign_costs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("campaign_id", String(36), ForeignKey("campaigns.id"), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("incurred_on", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("note", String(500), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    # Recording the same entry twice adds it once.
    UniqueConstraint("campaign_id", "request_id", name="uq_campaign_costs_request"),
)

leads = Table(
    "leads",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100), nullable=False),
    Column("company", String(255), nullable=False),
    Column("email", String(254), nullable=False),
    Column("phone", String(40), nullable=False),
    Column("title", String(128), nullable=False),
    Column("website", String(255), nullable=False),
    Column("street", String(255), nullable=False),
    Column("city", String(100), nullable=False),
    Column("region", String(100), nullable=False),
    Column("postal_code", String(20), nullable=False),
    Column("country_code", String(2), nullable=False),
    Column("description", Text, nullable=False),
    Column("lead_source_id", String(36), ForeignKey("lead_sources.id"), nullable=True),
    Column("campaign_id", String(36), ForeignKey("campaigns.id"), nullable=True),
    # Duplicate detection keys (see domain.matching_keys); folding may lengthen text, hence Text.
    Column("normalised_phone", String(24), nullable=False),
    Column("person_key", Text, nullable=False),
    Column("company_key", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_reason", String(500), nullable=False),
    Column("assigned_user_id", String(64), nullable=False),
    Column("qualified", Boolean, nullable=False),
    Column("budget_currency", String(3), nullable=True),
    Column("budget_minor", BigInteger, nullable=True),
    Column("authority", String(16), nullable=False),
    Column("need", String(16), nullable=False),
    Column("timeline", Date, nullable=True),
    Column("qualification_notes", Text, nullable=False),
    Column("qualified_at", DateTime(timezone=True), nullable=True),
    Column("score", Integer, nullable=False),
    # JSON list of {rule_id, description, points, matched}.
    Column("score_breakdown", Text, nullable=False),
    Column("converted_opportunity_id", String(36), nullable=True),
    Column("converted_at", DateTime(timezone=True), nullable=True),
    Column("merged_into_lead_id", String(36), nullable=True),
    # Token subjects (here and in the *_by columns below) have no length limit.
    Column("created_by", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_leads_assigned_user_id", "assigned_user_id"),
    Index("ix_leads_created_by", "created_by"),
    Index("ix_leads_email", "email"),
    Index("ix_leads_normalised_phone", "normalised_phone"),
    Index("ix_leads_person_at_company", "company_key", "person_key"),
    Index("ix_leads_created_at_id", "created_at", "id"),
    Index("ix_leads_lead_source_id", "lead_source_id"),
    Index("ix_leads_campaign_id", "campaign_id"),
)

# A lead's touches (contacts with a campaign); facts, never updated. The key makes recording one
# idempotent, even for two concurrent calls.
lead_touches = Table(
    "lead_touches",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("lead_id", String(36), ForeignKey("leads.id"), nullable=False),
    Column("campaign_id", String(36), ForeignKey("campaigns.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("touch_time", DateTime(timezone=True), nullable=False),
    Column("touch_key", String(128), nullable=False),
    Column("note", String(500), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("lead_id", "touch_key", name="uq_lead_touches_key"),
    Index("ix_lead_touches_lead_time", "lead_id", "touch_time"),
)

# The rule set in force: one row ("rules"), the rules as a JSON document.
scoring_rule_sets = Table(
    "scoring_rule_sets",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("revision", BigInteger, nullable=False),
    Column("rules", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# CreateLead idempotency keys, per caller.
lead_create_requests = Table(
    "lead_create_requests",
    metadata,
    Column("requested_by", Text, primary_key=True),
    Column("request_id", String(128), primary_key=True),
    Column("lead_id", String(36), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# One row per imported CSV row, written with its lead: a re-run of a file finds them and imports
# nothing twice.
import_rows = Table(
    "import_rows",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("lead_id", String(36), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("line_number", Integer, nullable=False),
    Column("imported_by", Text, nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
)

# Conversions under way (asked the opportunities service, not yet recorded) and done.
lead_conversions = Table(
    "lead_conversions",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("request_id", String(128), nullable=False),
    Column("requested_by", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("opportunity_id", String(36), nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=True),
)
