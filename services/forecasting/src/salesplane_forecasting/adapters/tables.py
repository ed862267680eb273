"""The forecasting database schema."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from salesplane_forecasting.domain.contributions import ROLLUP_MEASURES
from salesplane_platform.platform_tables import BigIntegerId, define_platform_tables

metadata = MetaData()
platform = define_platform_tables(metadata)

# Each opportunity as last consumed, with what it contributed to the rollups then (its periods
# and commit stage), so the next event can take exactly that back out.
tracked_opportunities = Table(
    "tracked_opportunities",
    metadata,
    Column("opportunity_id", String(64), primary_key=True),
    Column("owner_user_id", String(64), nullable=True),
    # The fiscal quarter and the calendar month of the close date (under the calendar in force).
    Column("period_id", String(16), nullable=True),
    Column("month_id", String(16), nullable=True),
    # The deal's own currency and amount.
    Column("currency", String(3), nullable=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("probability", Integer, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("name", String(255), nullable=False, server_default=""),
    Column("account_name", String(255), nullable=False, server_default=""),
    Column("sales_stage", String(64), nullable=False, server_default=""),
    # open, won, lost or deleted.
    Column("status", String(8), nullable=False, server_default="open"),
    Column("close_date", Date, nullable=True),
    # Likely, best and worst case in the base currency.
    Column("amount_base_minor", BigInteger, nullable=False, server_default="0"),
    Column("best_base_minor", BigInteger, nullable=False, server_default="0"),
    Column("worst_base_minor", BigInteger, nullable=False, server_default="0"),
    # The commit stage the deal was counted in (include, upside, exclude); None unless open.
    Column("commit_stage", String(8), nullable=True),
    Index("ix_tracked_opportunities_owner_period", "owner_user_id", "period_id"),
    Index("ix_tracked_opportunities_owner_month", "owner_user_id", "month_id"),
)

# A rep's hand-set commit stage for a deal; survives every later change of the opportunity.
commit_stage_overrides = Table(
    "commit_stage_overrides",
    metadata,
    Column("opportunity_id", String(64), primary_key=True),
    Column("commit_stage", String(8), nullable=False),
    Column("set_by", String(64), nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
)

# Live forecast totals per user and period, in the base currency: one row with both the user's
# own totals (own_*: the user's deals) and their team's (team_*: the user and everyone under them),
# so a rep's deal change writes one row per period. Weighted amounts are kept exact as amount x
# percent.
rollup_totals = Table(
    "rollup_totals",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("period_id", String(16), primary_key=True),
    *[Column(name, BigInteger, nullable=False) for name in ROLLUP_MEASURES],
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

# A change of manager that takes effect on a later date (one pending per user).
scheduled_reorganisations = Table(
    "scheduled_reorganisations",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("manager_user_id", String(64), nullable=True),
    Column("effective_date", Date, nullable=False, index=True),
    Column("scheduled_by", String(64), nullable=False),
    Column("scheduled_at", DateTime(timezone=True), nullable=False),
)

# The one row of forecast configuration (id "settings"); absent means the defaults.
forecast_settings = Table(
    "forecast_settings",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("fiscal_year_start_month", Integer, nullable=False),
    Column("range_scheme", String(16), nullable=False),
    # JSON list of {name, min_probability, max_probability, commit_stage}.
    Column("ranges", Text, nullable=False),
    Column("show_likely", Boolean, nullable=False),
    Column("show_best", Boolean, nullable=False),
    Column("show_worst", Boolean, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Committed quotas: kind "assigned" (from the manager or an admin) or "direct" (a manager's own part).
quotas = Table(
    "quotas",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("period_id", String(16), primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("committed_by", String(64), nullable=False),
    Column("committed_at", DateTime(timezone=True), nullable=False),
    Column("version", BigInteger, nullable=False),
)

# A manager's unsaved split, seen only by its author until committed.
quota_drafts = Table(
    "quota_drafts",
    metadata,
    Column("manager_user_id", String(64), primary_key=True),
    Column("period_id", String(16), primary_key=True),
    Column("user_id", String(64), primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Every committed quota change: who, when, from, to.
quota_changes = Table(
    "quota_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(64), nullable=False),
    Column("period_id", String(16), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("from_minor", BigInteger, nullable=True),
    Column("to_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("changed_by", String(64), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Index("ix_quota_changes_user_period", "user_id", "period_id"),
)

# Worksheet drafts (sequence 0, replaced on every save) and commits (sequence 1, 2, ...; immutable).
forecast_snapshots = Table(
    "forecast_snapshots",
    metadata,
    Column("snapshot_id", String(36), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("period_id", String(16), nullable=False),
    # rep or manager.
    Column("kind", String(8), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("committed", Boolean, nullable=False),
    Column("likely_minor", BigInteger, nullable=False),
    Column("best_minor", BigInteger, nullable=False),
    Column("worst_minor", BigInteger, nullable=False),
    Column("closed_won_minor", BigInteger, nullable=False),
    Column("quota_minor", BigInteger, nullable=True),
    Column("currency", String(3), nullable=False),
    Column("note", String(2000), nullable=False),
    Column("author", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # JSON: the rows and the changes since the previous commit.
    Column("rows", Text, nullable=False),
    Column("changes", Text, nullable=False),
    Index("ux_forecast_snapshots_sequence", "user_id", "period_id", "kind", "sequence", unique=True),
)

# A manager's adjusted likely / best / worst of a row of their worksheet (None: not adjusted).
manager_adjustments = Table(
    "manager_adjustments",
    metadata,
    Column("manager_user_id", String(64), primary_key=True),
    Column("period_id", String(16), primary_key=True),
    Column("user_id", String(64), primary_key=True),
    Column("likely_minor", BigInteger, nullable=True),
    Column("best_minor", BigInteger, nullable=True),
    Column("worst_minor", BigInteger, nullable=True),
    Column("adjusted_by", String(64), nullable=False),
    Column("adjusted_at", DateTime(timezone=True), nullable=False),
)

# Pipeline inspection: what each opportunity's history says (domain/inspection/deal_history.py
# DealFacts), folded from every consumed version. The scalar facts the inspection filters on are
# columns; the rest, including the bounded lists of changes, is one JSON document.
deal_facts = Table(
    "deal_facts",
    metadata,
    Column("opportunity_id", String(64), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("owner_user_id", String(64), nullable=False),
    Column("close_date", Date, nullable=False),
    # open, won, lost or deleted.
    Column("status", String(8), nullable=False),
    # Base currency.
    Column("amount_minor", BigInteger, nullable=False),
    # JSON: stage, probability, clocks, push count, close-date changes, setbacks and stays.
    Column("facts", Text, nullable=False),
    Index("ix_deal_facts_owner_close_date", "owner_user_id", "close_date"),
    Index("ix_deal_facts_status", "status"),
)

# The finished stage stays of won deals: the samples of the stalled rule's percentiles. A deal's
# rows are replaced when it is won (again) and removed when it leaves won, so each won deal counts
# once, with the stays of its latest win.
won_stage_stays = Table(
    "won_stage_stays",
    metadata,
    Column("opportunity_id", String(64), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("sales_stage", String(64), nullable=False),
    Column("seconds", BigInteger, nullable=False),
    Index("ix_won_stage_stays_stage", "sales_stage"),
)

# The order of each sales stage in the opportunities service's catalogue (SalesStagesChanged),
# which the opportunity events do not carry; every row holds the catalogue revision it came from.
sales_stage_orders = Table(
    "sales_stage_orders",
    metadata,
    Column("sales_stage", String(64), primary_key=True),
    Column("stage_order", Integer, nullable=False),
    Column("revision", BigInteger, nullable=False),
)

# The one row of inspection thresholds (id "inspection"); absent means the defaults.
inspection_settings = Table(
    "inspection_settings",
    metadata,
    Column("id", String(16), primary_key=True),
    # JSON object: InspectionThresholds field -> value.
    Column("thresholds", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Pipeline inspection alerts: the risk state of each rep or team in a period (the flag kinds in
# force, domain/inspection/risk_state.py), versioned so concurrent evaluators alert once.
risk_states = Table(
    "risk_states",
    metadata,
    Column("subject_kind", String(8), primary_key=True),
    Column("user_id", String(64), primary_key=True),
    Column("period_id", String(16), primary_key=True),
    # JSON list of {kind, reason, money_at_risk_minor}.
    Column("flags", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# A subject's inspection figures once a UTC day (the first evaluation of the day), for "a week ago".
inspection_figures = Table(
    "inspection_figures",
    metadata,
    Column("period_id", String(16), primary_key=True),
    Column("user_id", String(64), primary_key=True),
    Column("team", Boolean, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("quota_minor", BigInteger, nullable=True),
    Column("closed_won_minor", BigInteger, nullable=False),
    Column("committed_minor", BigInteger, nullable=True),
    Column("live_forecast_minor", BigInteger, nullable=False),
    Column("pipeline_minor", BigInteger, nullable=False),
    Column("expected_minor", BigInteger, nullable=False),
    # P(reaching quota): the distribution's float as computed (a double keeps it exactly).
    Column("p_quota", Float, nullable=True),
    Index("ix_inspection_figures_day", "day"),
)

# One row per change of a risk state, what the console lists; id orders them across subjects.
risk_alerts = Table(
    "risk_alerts",
    metadata,
    Column("id", BigIntegerId, primary_key=True, autoincrement=True),
    Column("subject_kind", String(8), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("period_id", String(16), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    # JSON lists of {kind, reason, money_at_risk_minor}.
    Column("entered", Text, nullable=False),
    Column("left", Text, nullable=False),
    Column("current", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("subject_kind", "user_id", "period_id", "sequence", name="uq_risk_alerts_subject"),
    Index("ix_risk_alerts_user_period", "user_id", "period_id"),
)
