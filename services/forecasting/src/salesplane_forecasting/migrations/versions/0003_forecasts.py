"""Forecasts: deal details and commit stages, base-currency rollups (one row of own and team totals
per user and period), settings, scheduled reorganisations, quotas, worksheet snapshots and manager
adjustments.

Deals tracked before this revision carried no base-currency amounts: they take their own amount
(right for base-currency deals) until their next event, and lost ones (tracked without an owner)
stay out. The rollups are rebuilt from them.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tracked_opportunities") as batch:
        batch.add_column(sa.Column("month_id", sa.String(16), nullable=True))
        batch.add_column(sa.Column("name", sa.String(255), nullable=False, server_default=""))
        batch.add_column(sa.Column("account_name", sa.String(255), nullable=False, server_default=""))
        batch.add_column(sa.Column("sales_stage", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("status", sa.String(8), nullable=False, server_default="open"))
        batch.add_column(sa.Column("close_date", sa.Date, nullable=True))
        batch.add_column(sa.Column("amount_base_minor", sa.BigInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("best_base_minor", sa.BigInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("worst_base_minor", sa.BigInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("commit_stage", sa.String(8), nullable=True))
    op.execute(
        "UPDATE tracked_opportunities SET amount_base_minor = amount_minor, best_base_minor = amount_minor, "
        "worst_base_minor = amount_minor WHERE owner_user_id IS NOT NULL"
    )
    op.execute("UPDATE tracked_opportunities SET status = 'lost' WHERE owner_user_id IS NULL")
    op.create_index(
        "ix_tracked_opportunities_owner_period", "tracked_opportunities", ["owner_user_id", "period_id"]
    )
    op.create_index(
        "ix_tracked_opportunities_owner_month", "tracked_opportunities", ["owner_user_id", "month_id"]
    )
    op.drop_table("rollups")
    measures = [
        "won_count",
        "won_minor",
        "open_count",
        "pipeline_minor",
        "weighted_percent_minor",
        "included_count",
        "included_likely_minor",
        "included_best_minor",
        "included_worst_minor",
        "upside_count",
        "upside_likely_minor",
        "upside_best_minor",
        "upside_worst_minor",
    ]
    op.create_table(
        "rollup_totals",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("period_id", sa.String(16), primary_key=True),
        # One row per user and period: the user's own totals, then their team's.
        *[
            sa.Column(f"{scope}_{name}", sa.BigInteger, nullable=False)
            for scope in ("own", "team")
            for name in measures
        ],
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "commit_stage_overrides",
        sa.Column("opportunity_id", sa.String(64), primary_key=True),
        sa.Column("commit_stage", sa.String(8), nullable=False),
        sa.Column("set_by", sa.String(64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "scheduled_reorganisations",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("manager_user_id", sa.String(64), nullable=True),
        sa.Column("effective_date", sa.Date, nullable=False),
        sa.Column("scheduled_by", sa.String(64), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_scheduled_reorganisations_effective_date", "scheduled_reorganisations", ["effective_date"]
    )
    op.create_table(
        "forecast_settings",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("fiscal_year_start_month", sa.Integer, nullable=False),
        sa.Column("range_scheme", sa.String(16), nullable=False),
        sa.Column("ranges", sa.Text, nullable=False),
        sa.Column("show_likely", sa.Boolean, nullable=False),
        sa.Column("show_best", sa.Boolean, nullable=False),
        sa.Column("show_worst", sa.Boolean, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "quotas",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("period_id", sa.String(16), primary_key=True),
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("committed_by", sa.String(64), nullable=False),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "quota_drafts",
        sa.Column("manager_user_id", sa.String(64), primary_key=True),
        sa.Column("period_id", sa.String(16), primary_key=True),
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "quota_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("period_id", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("from_minor", sa.BigInteger, nullable=True),
        sa.Column("to_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("changed_by", sa.String(64), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_quota_changes_user_period", "quota_changes", ["user_id", "period_id"])
    op.create_table(
        "forecast_snapshots",
        sa.Column("snapshot_id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("period_id", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("committed", sa.Boolean, nullable=False),
        sa.Column("likely_minor", sa.BigInteger, nullable=False),
        sa.Column("best_minor", sa.BigInteger, nullable=False),
        sa.Column("worst_minor", sa.BigInteger, nullable=False),
        sa.Column("closed_won_minor", sa.BigInteger, nullable=False),
        sa.Column("quota_minor", sa.BigInteger, nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("note", sa.String(2000), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows", sa.Text, nullable=False),
        sa.Column("changes", sa.Text, nullable=False),
    )
    op.create_index(
        "ux_forecast_snapshots_sequence",
        "forecast_snapshots",
        ["user_id", "period_id", "kind", "sequence"],
        unique=True,
    )
    op.create_table(
        "manager_adjustments",
        sa.Column("manager_user_id", sa.String(64), primary_key=True),
        sa.Column("period_id", sa.String(16), primary_key=True),
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("likely_minor", sa.BigInteger, nullable=True),
        sa.Column("best_minor", sa.BigInteger, nullable=True),
        sa.Column("worst_minor", sa.BigInteger, nullable=True),
        sa.Column("adjusted_by", sa.String(64), nullable=False),
        sa.Column("adjusted_at", sa.DateTime(timezone=True), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Rollup and tracked rows are updated in place all day long: room left in each page lets
        # PostgreSQL keep the new version beside the old one (a HOT update) without touching the
        # primary-key index.
        op.execute("ALTER TABLE rollup_totals SET (fillfactor = 70)")
        op.execute("ALTER TABLE tracked_opportunities SET (fillfactor = 70)")
    # The month of each tracked deal and the new rollups, from what is tracked.
    from sqlalchemy.orm import Session

    from salesplane_forecasting.adapters.rollup_store import rebuild_rollups

    with Session(bind=op.get_bind()) as session:
        rebuild_rollups(session, recompute_contributions=True)
        session.flush()
