"""The reporting database schema (SQLAlchemy Core; the migrations create it).

Everything but the report definitions, schedules and runs is a read model: built only from other
services' events, and rebuilt from the topics by `salesplane-reporting-admin rebuild`."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from salesplane_platform.platform_tables import define_platform_tables

metadata = MetaData()
platform = define_platform_tables(metadata)

UTC_TIMESTAMP = DateTime(timezone=True)


def _opportunity_state_columns() -> list[Column[object]]:
    """The state of an opportunity at one version: shared by the current table and the versions."""
    return [
        Column("owner_user_id", String(64), nullable=False),
        Column("name", String(255), nullable=False),
        Column("account_name", String(255), nullable=False),
        Column("sales_stage", String(64), nullable=False),
        # The stage's position in the catalogue when the version was applied (99 if unknown).
        Column("stage_order", Integer, nullable=False),
        Column("probability", Integer, nullable=False),
        # open, won or lost.
        Column("status", String(8), nullable=False),
        Column("amount_minor", BigInteger, nullable=False),
        Column("currency", String(3), nullable=False),
        Column("amount_base_minor", BigInteger, nullable=False),
        # amount_base x probability / 100, rounded half-even once per deal version.
        Column("weighted_base_minor", BigInteger, nullable=False),
        Column("best_base_minor", BigInteger, nullable=False),
        Column("worst_base_minor", BigInteger, nullable=False),
        Column("base_currency", String(3), nullable=False),
        Column("expected_close_date", Date),
        Column("lead_source_id", String(64), nullable=False),
        Column("campaign_id", String(64), nullable=False),
        Column("lead_id", String(64), nullable=False),
        Column("close_reason", String(255), nullable=False),
        Column("next_step", String(255), nullable=False),
        Column("create_time", UTC_TIMESTAMP, nullable=False),
        Column("update_time", UTC_TIMESTAMP, nullable=False),
        Column("close_time", UTC_TIMESTAMP),
        # close_time - create_time of a closed deal, in seconds.
        Column("cycle_seconds", BigInteger),
        # When the deal entered its current stage, and how often its close date moved later so far.
        Column("stage_entered_at", UTC_TIMESTAMP, nullable=False),
        Column("push_count", Integer, nullable=False),
        # The furthest stage (by catalogue order) the deal reached so far, and that order.
        Column("max_stage_order", Integer, nullable=False),
    ]


# One row per opportunity: its newest state (deleted opportunities are removed).
opportunity_current = Table(
    "opportunity_current",
    metadata,
    Column("opportunity_id", String(64), primary_key=True),
    Column("version", BigInteger, nullable=False),
    *_opportunity_state_columns(),
    Index("ix_opportunity_current_owner", "owner_user_id"),
)

# One row per opportunity version (SCD type 2): the state held from valid_from until valid_to
# (None: still held). A deletion is a version with deleted true, so as-of queries drop the deal.
opportunity_versions = Table(
    "opportunity_versions",
    metadata,
    Column("opportunity_id", String(64), primary_key=True),
    Column("version", BigInteger, primary_key=True),
    Column("valid_from", UTC_TIMESTAMP, nullable=False),
    Column("valid_to", UTC_TIMESTAMP),
    Column("deleted", Boolean, nullable=False),
    Column("change_kind", String(16), nullable=False),
    # On the first version of a stay in a stage: how long the stay lasted (None while it lasts).
    Column("stage_seconds", BigInteger),
    Column("stage_entry", Boolean, nullable=False),
    *_opportunity_state_columns(),
    Index("ix_opportunity_versions_valid", "valid_from", "valid_to"),
    Index("ix_opportunity_versions_owner", "owner_user_id"),
    # The open versions of a close-date window, answered from the index alone (pipeline movement).
    Index(
        "ix_opportunity_versions_open_close",
        "expected_close_date",
        postgresql_include=["opportunity_id", "owner_user_id", "valid_from", "valid_to"],
        postgresql_where=text("status = 'open' AND NOT deleted"),
        sqlite_where=text("status = 'open' AND NOT deleted"),
    ),
)

# The sales stage catalogue, as the opportunities service last published it.
sales_stage_view = Table(
    "sales_stage_view",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("probability", Integer, nullable=False),
    Column("won", Boolean, nullable=False),
    Column("lost", Boolean, nullable=False),
    Column("revision", BigInteger, nullable=False),
)

# Users as forecasting last published them.
org_users = Table(
    "org_users",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("display_name", String(255), nullable=False),
    Column("manager_user_id", String(64)),
    Column("roles", String(255), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("update_time", UTC_TIMESTAMP, nullable=False),
    Column("email", String(254), nullable=False, server_default=""),
)

# Who is under whom, effective-dated: one row per (ancestor, descendant) pair for as long as it
# held; distance 0 pairs a user with themselves. valid_to None: holds now. "As the team is now" reads
# valid_to IS NULL; "as it was on D" reads valid_from <= D < valid_to.
org_closure = Table(
    "org_closure",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ancestor_user_id", String(64), nullable=False),
    Column("descendant_user_id", String(64), nullable=False),
    Column("distance", Integer, nullable=False),
    Column("valid_from", UTC_TIMESTAMP, nullable=False),
    Column("valid_to", UTC_TIMESTAMP),
    Index("ix_org_closure_ancestor", "ancestor_user_id", "distance"),
    Index("ix_org_closure_descendant", "descendant_user_id"),
)

# The fiscal calendar and base currency (forecast settings), one row.
fiscal_settings = Table(
    "fiscal_settings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("fiscal_year_start_month", Integer, nullable=False),
    Column("currency_code", String(3), nullable=False),
    # The forecast ranges as "name:min:max" joined by ";".
    Column("ranges", String(500), nullable=False),
    Column("version", BigInteger, nullable=False),
)

# Committed quotas only (drafts are never published), newest per user, period and kind.
quota_view = Table(
    "quota_view",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("period_id", String(16), primary_key=True),
    # assigned or direct.
    Column("kind", String(8), primary_key=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("commit_time", UTC_TIMESTAMP, nullable=False),
    Column("version", BigInteger, nullable=False),
)

# Every committed forecast (drafts are never published).
forecast_commits = Table(
    "forecast_commits",
    metadata,
    Column("snapshot_id", String(64), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("period_id", String(16), nullable=False),
    # rep or manager.
    Column("kind", String(8), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("likely_minor", BigInteger, nullable=False),
    Column("best_minor", BigInteger, nullable=False),
    Column("worst_minor", BigInteger, nullable=False),
    Column("closed_won_minor", BigInteger, nullable=False),
    Column("quota_minor", BigInteger),
    Column("currency", String(3), nullable=False),
    Column("author_user_id", String(64), nullable=False),
    Column("commit_time", UTC_TIMESTAMP, nullable=False),
    Index("ix_forecast_commits_user_period", "user_id", "period_id", "kind", "sequence"),
)

# One row per lead: its latest state as published by the leads service.
lead_view = Table(
    "lead_view",
    metadata,
    Column("id", String(64), primary_key=True),
    # Lower-case name of the lead status, e.g. "new", "assigned".
    Column("status", String(32), nullable=False),
    Column("lead_source_id", String(64), nullable=False),
    Column("campaign_id", String(64), nullable=False),
    Column("assigned_user_id", String(64), nullable=False),
    Column("company", String(255), nullable=False),
    Column("score", Integer, nullable=False),
    Column("qualified", Boolean, nullable=False),
    Column("converted_opportunity_id", String(64), nullable=False),
    Column("create_time", UTC_TIMESTAMP),
    Column("convert_time", UTC_TIMESTAMP),
    Column("version", BigInteger, nullable=False),
    # The lead this one was merged into ("" if none): its touches count for that lead's deals.
    Column("merged_into_lead_id", String(64), nullable=False, server_default=""),
    # Milestones of the funnel, from the events' times: when the lead was first qualified, first
    # recycled, and last made Dead (null while it never was).
    Column("qualified_time", UTC_TIMESTAMP),
    Column("recycled_time", UTC_TIMESTAMP),
    Column("dead_time", UTC_TIMESTAMP),
)

# Every touch of a lead (a contact with a campaign). Touches never change, so one row each.
lead_touch_view = Table(
    "lead_touch_view",
    metadata,
    Column("touch_id", String(64), primary_key=True),
    Column("lead_id", String(64), nullable=False),
    Column("campaign_id", String(64), nullable=False),
    # Lower-case name of the touch kind, e.g. "form", "email_click".
    Column("kind", String(32), nullable=False),
    Column("touch_time", UTC_TIMESTAMP, nullable=False),
    Index("ix_lead_touch_view_lead_time", "lead_id", "touch_time"),
)

# Exchange rates to the base currency, each in effect from its date on, as the opportunities service
# set them. Campaign costs in another currency are converted with the rate in effect on their date.
exchange_rate_view = Table(
    "exchange_rate_view",
    metadata,
    Column("currency", String(3), primary_key=True),
    Column("effective_from", Date, primary_key=True),
    # Base-currency units per unit of `currency`, as exact decimal text.
    Column("rate", String(40), nullable=False),
    Column("base_currency", String(3), nullable=False),
    # The rate's version (it grows when the same currency and date is set again): a redelivered
    # older version must not overwrite a newer rate.
    Column("version", BigInteger, nullable=False, server_default="1"),
)

lead_source_view = Table(
    "lead_source_view",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("version", BigInteger, nullable=False),
)

campaign_view = Table(
    "campaign_view",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("lead_source_id", String(64), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("budget_minor", BigInteger, nullable=False),
    Column("expected_cost_minor", BigInteger, nullable=False),
    Column("expected_revenue_minor", BigInteger, nullable=False),
    Column("actual_cost_minor", BigInteger, nullable=False),
    Column("start_date", Date),
    Column("end_date", Date),
    Column("version", BigInteger, nullable=False),
)

# A campaign's cost entries (replaced with every campaign version), so cost can be cut by date.
campaign_costs = Table(
    "campaign_costs",
    metadata,
    Column("campaign_id", String(64), primary_key=True),
    Column("cost_id", String(64), primary_key=True),
    Column("incurred_on", Date, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
)

# User-defined report definitions (not a read model: reporting owns them).
saved_reports = Table(
    "saved_reports",
    metadata,
    Column("report_id", String(64), primary_key=True),
    Column("owner_user_id", String(64), nullable=False, index=True),
    # private, team or everyone.
    Column("sharing", String(16), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    # The definition as canonical JSON (the same document the API takes).
    Column("definition", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("create_time", UTC_TIMESTAMP, nullable=False),
    Column("update_time", UTC_TIMESTAMP, nullable=False),
)

report_schedules = Table(
    "report_schedules",
    metadata,
    Column("schedule_id", String(64), primary_key=True),
    Column("report_id", String(64), nullable=False, index=True),
    Column("owner_user_id", String(64), nullable=False),
    # The schedule as JSON (frequency, time, zone, recipients...).
    Column("schedule", Text, nullable=False),
    Column("next_run_at", UTC_TIMESTAMP, nullable=False, index=True),
    Column("active", Boolean, nullable=False),
    Column("version", BigInteger, nullable=False),
)

# Every scheduled run: what the report said that day, and whether it was delivered.
report_runs = Table(
    "report_runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("schedule_id", String(64), nullable=False, index=True),
    Column("report_id", String(64), nullable=False),
    Column("run_at", UTC_TIMESTAMP, nullable=False),
    Column("status", String(16), nullable=False),
    Column("detail", Text, nullable=False),
    Column("row_count", Integer, nullable=False),
    Column("result_csv", LargeBinary, nullable=False),
    Column("chart_svg", Text, nullable=False),
)

# Open and closed pipeline pre-aggregated per user: with own true, the user's own deals; with own
# false, their whole subtree's (their own included). Kept by the projector with each deal's change
# of contribution and rebuilt when the organisation changes, so a manager's pipeline by stage and
# month is a read of a few hundred rows whatever the size of their team. close_month is the first of
# the expected close month (NO_CLOSE_MONTH for deals without a close date).
pipeline_rollup = Table(
    "pipeline_rollup",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("own", Boolean, primary_key=True),
    Column("sales_stage", String(64), primary_key=True),
    Column("status", String(8), primary_key=True),
    Column("close_month", Date, primary_key=True),
    Column("base_currency", String(3), primary_key=True),
    Column("deals", BigInteger, nullable=False),
    Column("amount_base_minor", BigInteger, nullable=False),
    Column("weighted_base_minor", BigInteger, nullable=False),
    Column("best_base_minor", BigInteger, nullable=False),
    Column("worst_base_minor", BigInteger, nullable=False),
)
