"""Opportunities, sales stages (seeded with the defaults) and the platform tables.

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

SEED_STAGES = [
    ("Prospecting", 10, False, False),
    ("Qualification", 20, False, False),
    ("Needs Analysis", 25, False, False),
    ("Value Proposition", 30, False, False),
    ("Id. Decision Makers", 40, False, False),
    ("Perception Analysis", 50, False, False),
    ("Proposal/Price Quote", 65, False, False),
    ("Negotiation/Review", 80, False, False),
    ("Closed Won", 100, True, False),
    ("Closed Lost", 0, False, True),
]


def upgrade() -> None:
    create_platform_tables_v1()
    op.create_table(
        "opportunities",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("owner_user_id", sa.String(64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("expected_close_date", sa.Date, nullable=False),
        sa.Column("sales_stage", sa.String(64), nullable=False),
        sa.Column("probability", sa.Integer, nullable=False),
        sa.Column("probability_manual", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_opportunities_owner_close", "opportunities", ["owner_user_id", "expected_close_date"])
    stages = op.create_table(
        "sales_stages",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False, unique=True),
        sa.Column("default_probability", sa.Integer, nullable=False),
        sa.Column("is_won", sa.Boolean, nullable=False),
        sa.Column("is_lost", sa.Boolean, nullable=False),
    )
    op.bulk_insert(
        stages,
        [
            {"name": n, "position": i, "default_probability": p, "is_won": w, "is_lost": lost}
            for i, (n, p, w, lost) in enumerate(SEED_STAGES)
        ],
    )
