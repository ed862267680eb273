"""Tracked opportunity contributions, per-user rollups and the platform tables.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from salesplane_platform.migration_ops import create_platform_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_platform_tables_v1()
    op.create_table(
        "tracked_opportunities",
        sa.Column("opportunity_id", sa.String(64), primary_key=True),
        sa.Column("owner_user_id", sa.String(64), nullable=True),
        sa.Column("period_id", sa.String(16), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("probability", sa.Integer, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "rollups",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("period_id", sa.String(16), primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("opportunity_count", sa.BigInteger, nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("weighted_percent_minor", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
