"""Pipeline inspection: each subject's figures once a day, what "a week ago" compares with.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inspection_figures",
        sa.Column("period_id", sa.String(16), primary_key=True),
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("team", sa.Boolean, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("quota_minor", sa.BigInteger, nullable=True),
        sa.Column("closed_won_minor", sa.BigInteger, nullable=False),
        sa.Column("committed_minor", sa.BigInteger, nullable=True),
        sa.Column("live_forecast_minor", sa.BigInteger, nullable=False),
        sa.Column("pipeline_minor", sa.BigInteger, nullable=False),
        sa.Column("expected_minor", sa.BigInteger, nullable=False),
        sa.Column("p_quota", sa.Float, nullable=True),
    )
    op.create_index("ix_inspection_figures_day", "inspection_figures", ["day"])


def downgrade() -> None:
    op.drop_index("ix_inspection_figures_day", table_name="inspection_figures")
    op.drop_table("inspection_figures")
