"""Reports worth the name: every opportunity version (valid from / to), the organisation as it is
and was, stages, fiscal settings, committed quotas and forecasts, leads, lead sources, campaigns and
their costs; saved report definitions, schedules and runs.

The read models before this revision kept too little to be upgraded in place: they are dropped and
rebuilt from the topics (run `salesplane-reporting-admin rebuild` with the service stopped, then
start it: it replays every topic from the beginning).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = (
    "opportunity_current",
    "opportunity_versions",
    "sales_stage_view",
    "org_users",
    "org_closure",
    "fiscal_settings",
    "quota_view",
    "forecast_commits",
    "lead_view",
    "lead_source_view",
    "campaign_view",
    "campaign_costs",
    "saved_reports",
    "report_schedules",
    "report_runs",
)


def upgrade() -> None:
    op.drop_table("opportunity_view")
    op.drop_table("lead_view")
    op.create_table(
        "opportunity_current",
        sa.Column("opportunity_id", sa.String(length=64), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("owner_user_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("account_name", sa.String(length=255), nullable=False),
        sa.Column("sales_stage", sa.String(length=64), nullable=False),
        sa.Column("stage_order", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_base_minor", sa.BigInteger(), nullable=False),
        sa.Column("weighted_base_minor", sa.BigInteger(), nullable=False),
        sa.Column("best_base_minor", sa.BigInteger(), nullable=False),
        sa.Column("worst_base_minor", sa.BigInteger(), nullable=False),
        sa.Column("base_currency", sa.String(length=3), nullable=False),
        sa.Column("expected_close_date", sa.Date()),
        sa.Column("lead_source_id", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("lead_id", sa.String(length=64), nullable=False),
        sa.Column("close_reason", sa.String(length=255), nullable=False),
        sa.Column("next_step", sa.String(length=255), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("close_time", sa.DateTime(timezone=True)),
        sa.Column("cycle_seconds", sa.BigInteger()),
        sa.Column("stage_entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("push_count", sa.Integer(), nullable=False),
        sa.Column("max_stage_order", sa.Integer(), nullable=False),
    )
    op.create_index("ix_opportunity_current_owner", "opportunity_current", ["owner_user_id"])
    op.create_table(
        "opportunity_versions",
        sa.Column("opportunity_id", sa.String(length=64), primary_key=True),
        sa.Column("version", sa.BigInteger(), primary_key=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True)),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("change_kind", sa.String(length=16), nullable=False),
        sa.Column("stage_seconds", sa.BigInteger()),
        sa.Column("stage_entry", sa.Boolean(), nullable=False),
        sa.Column("owner_user_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("account_name", sa.String(length=255), nullable=False),
        sa.Column("sales_stage", sa.String(length=64), nullable=False),
        sa.Column("stage_order", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_base_minor", sa.BigInteger(), nullable=False),
        sa.Column("weighted_base_minor", sa.BigInteger(), nullable=False),
        sa.Column("best_base_minor", sa.BigInteger(), nullable=False),
        sa.Column("worst_base_minor", sa.BigInteger(), nullable=False),
        sa.Column("base_currency", sa.String(length=3), nullable=False),
        sa.Column("expected_close_date", sa.Date()),
        sa.Column("lead_source_id", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("lead_id", sa.String(length=64), nullable=False),
        sa.Column("close_reason", sa.String(length=255), nullable=False),
        sa.Column("next_step", sa.String(length=255), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("close_time", sa.DateTime(timezone=True)),
        sa.Column("cycle_seconds", sa.BigInteger()),
        sa.Column("stage_entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("push_count", sa.Integer(), nullable=False),
        sa.Column("max_stage_order", sa.Integer(), nullable=False),
    )
    op.create_index("ix_opportunity_versions_owner", "opportunity_versions", ["owner_user_id"])
    op.create_index("ix_opportunity_versions_valid", "opportunity_versions", ["valid_from", "valid_to"])
    op.create_table(
        "sales_stage_view",
        sa.Column("name", sa.String(length=64), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("won", sa.Boolean(), nullable=False),
        sa.Column("lost", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "org_users",
        sa.Column("user_id", sa.String(length=64), primary_key=True),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("manager_user_id", sa.String(length=64)),
        sa.Column("roles", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "org_closure",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ancestor_user_id", sa.String(length=64), nullable=False),
        sa.Column("descendant_user_id", sa.String(length=64), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_org_closure_ancestor", "org_closure", ["ancestor_user_id", "distance"])
    op.create_index("ix_org_closure_descendant", "org_closure", ["descendant_user_id"])
    op.create_table(
        "fiscal_settings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("fiscal_year_start_month", sa.Integer(), nullable=False),
        sa.Column("currency_code", sa.String(length=3), nullable=False),
        sa.Column("ranges", sa.String(length=500), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "quota_view",
        sa.Column("user_id", sa.String(length=64), primary_key=True),
        sa.Column("period_id", sa.String(length=16), primary_key=True),
        sa.Column("kind", sa.String(length=8), primary_key=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("commit_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "forecast_commits",
        sa.Column("snapshot_id", sa.String(length=64), primary_key=True),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("period_id", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("likely_minor", sa.BigInteger(), nullable=False),
        sa.Column("best_minor", sa.BigInteger(), nullable=False),
        sa.Column("worst_minor", sa.BigInteger(), nullable=False),
        sa.Column("closed_won_minor", sa.BigInteger(), nullable=False),
        sa.Column("quota_minor", sa.BigInteger()),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("author_user_id", sa.String(length=64), nullable=False),
        sa.Column("commit_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_forecast_commits_user_period", "forecast_commits", ["user_id", "period_id", "kind", "sequence"]
    )
    op.create_table(
        "lead_view",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("lead_source_id", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("assigned_user_id", sa.String(length=64), nullable=False),
        sa.Column("company", sa.String(length=255), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("qualified", sa.Boolean(), nullable=False),
        sa.Column("converted_opportunity_id", sa.String(length=64), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True)),
        sa.Column("convert_time", sa.DateTime(timezone=True)),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "lead_source_view",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "campaign_view",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("lead_source_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("budget_minor", sa.BigInteger(), nullable=False),
        sa.Column("expected_cost_minor", sa.BigInteger(), nullable=False),
        sa.Column("expected_revenue_minor", sa.BigInteger(), nullable=False),
        sa.Column("actual_cost_minor", sa.BigInteger(), nullable=False),
        sa.Column("start_date", sa.Date()),
        sa.Column("end_date", sa.Date()),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "campaign_costs",
        sa.Column("campaign_id", sa.String(length=64), primary_key=True),
        sa.Column("cost_id", sa.String(length=64), primary_key=True),
        sa.Column("incurred_on", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
    )
    op.create_table(
        "saved_reports",
        sa.Column("report_id", sa.String(length=64), primary_key=True),
        sa.Column("owner_user_id", sa.String(length=64), nullable=False),
        sa.Column("sharing", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_saved_reports_owner_user_id", "saved_reports", ["owner_user_id"])
    op.create_table(
        "report_schedules",
        sa.Column("schedule_id", sa.String(length=64), primary_key=True),
        sa.Column("report_id", sa.String(length=64), nullable=False),
        sa.Column("owner_user_id", sa.String(length=64), nullable=False),
        sa.Column("schedule", sa.Text(), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_report_schedules_next_run_at", "report_schedules", ["next_run_at"])
    op.create_index("ix_report_schedules_report_id", "report_schedules", ["report_id"])
    op.create_table(
        "report_runs",
        sa.Column("run_id", sa.String(length=64), primary_key=True),
        sa.Column("schedule_id", sa.String(length=64), nullable=False),
        sa.Column("report_id", sa.String(length=64), nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("result_csv", sa.LargeBinary(), nullable=False),
        sa.Column("chart_svg", sa.Text(), nullable=False),
    )
    op.create_index("ix_report_runs_schedule_id", "report_runs", ["schedule_id"])


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
    op.create_table(
        "opportunity_view",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("owner_user_id", sa.String(64), nullable=False),
        sa.Column("sales_stage", sa.String(64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("probability", sa.Integer, nullable=False),
        sa.Column("expected_close_date", sa.Date),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "lead_view",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("lead_source_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
