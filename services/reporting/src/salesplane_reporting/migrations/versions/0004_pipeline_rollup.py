"""The pipeline rollup per user (own deals and whole subtree) behind the pipeline reports, and an
index of opportunity versions by close date for the pipeline movement.

A projection created empty, like every read model revision 0003 recreated: the replay that fills
those (`salesplane-reporting-admin rebuild`, then start the service) fills it with them.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_rollup",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("own", sa.Boolean, primary_key=True),
        sa.Column("sales_stage", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(8), primary_key=True),
        sa.Column("close_month", sa.Date, primary_key=True),
        sa.Column("base_currency", sa.String(3), primary_key=True),
        sa.Column("deals", sa.BigInteger, nullable=False),
        sa.Column("amount_base_minor", sa.BigInteger, nullable=False),
        sa.Column("weighted_base_minor", sa.BigInteger, nullable=False),
        sa.Column("best_base_minor", sa.BigInteger, nullable=False),
        sa.Column("worst_base_minor", sa.BigInteger, nullable=False),
    )

    # Pipeline movement finds the deals of a close-date window through it.
    op.create_index(
        "ix_opportunity_versions_open_close",
        "opportunity_versions",
        ["expected_close_date"],
        postgresql_include=["opportunity_id", "owner_user_id", "valid_from", "valid_to"],
        postgresql_where=sa.text("status = 'open' AND NOT deleted"),
        sqlite_where=sa.text("status = 'open' AND NOT deleted"),
    )


def downgrade() -> None:
    op.drop_index("ix_opportunity_versions_open_close", "opportunity_versions")
    op.drop_table("pipeline_rollup")
