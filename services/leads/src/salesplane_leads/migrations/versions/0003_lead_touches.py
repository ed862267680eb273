"""Lead touches: a lead's contacts with a campaign, unique per lead by touch key. No existing data
is touched.

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
    op.create_table(
        "lead_touches",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("lead_id", sa.String(36), sa.ForeignKey("leads.id"), nullable=False),
        sa.Column("campaign_id", sa.String(36), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("touch_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("touch_key", sa.String(128), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("lead_id", "touch_key", name="uq_lead_touches_key"),
    )
    op.create_index("ix_lead_touches_lead_time", "lead_touches", ["lead_id", "touch_time"])
