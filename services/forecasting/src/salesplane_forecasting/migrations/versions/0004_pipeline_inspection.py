"""Pipeline inspection: each opportunity's folded history (deal_facts), the stage stays of won
deals, the sales-stage order from the opportunities catalogue, and the inspection thresholds.

Deals tracked before this revision get their facts from their next event (their earlier history
was never kept here); the stage order arrives with the next SalesStagesChanged.

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
        "deal_facts",
        sa.Column("opportunity_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("owner_user_id", sa.String(64), nullable=False),
        sa.Column("close_date", sa.Date, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("facts", sa.Text, nullable=False),
    )
    op.create_index("ix_deal_facts_owner_close_date", "deal_facts", ["owner_user_id", "close_date"])
    op.create_index("ix_deal_facts_status", "deal_facts", ["status"])
    op.create_table(
        "won_stage_stays",
        sa.Column("opportunity_id", sa.String(64), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("sales_stage", sa.String(64), nullable=False),
        sa.Column("seconds", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_won_stage_stays_stage", "won_stage_stays", ["sales_stage"])
    op.create_table(
        "sales_stage_orders",
        sa.Column("sales_stage", sa.String(64), primary_key=True),
        sa.Column("stage_order", sa.Integer, nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "inspection_settings",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("thresholds", sa.Text, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Rewritten on every event of the deal, like tracked_opportunities.
        op.execute("ALTER TABLE deal_facts SET (fillfactor = 70)")


def downgrade() -> None:
    op.drop_table("inspection_settings")
    op.drop_table("sales_stage_orders")
    op.drop_index("ix_won_stage_stays_stage", table_name="won_stage_stays")
    op.drop_table("won_stage_stays")
    op.drop_index("ix_deal_facts_status", table_name="deal_facts")
    op.drop_index("ix_deal_facts_owner_close_date", table_name="deal_facts")
    op.drop_table("deal_facts")
