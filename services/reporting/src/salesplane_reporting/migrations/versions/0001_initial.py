"""Read models of opportunities and leads, and the platform tables.

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
        sa.Column("lead_source", sa.String(100), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
