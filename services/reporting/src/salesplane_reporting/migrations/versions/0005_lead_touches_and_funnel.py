"""Lead touches, exchange rates and the milestones of the lead funnel (merged into, first
qualified, first recycled, last made dead).

New projections created empty: the leads and opportunities topics fill them on a replay
(`salesplane-reporting-admin rebuild`, then start the service); until then the new lead_view
columns of existing leads stay empty.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lead_view") as batch:
        batch.add_column(sa.Column("merged_into_lead_id", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("qualified_time", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("recycled_time", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("dead_time", sa.DateTime(timezone=True)))
    op.create_table(
        "lead_touch_view",
        sa.Column("touch_id", sa.String(64), primary_key=True),
        sa.Column("lead_id", sa.String(64), nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("touch_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_lead_touch_view_lead_time", "lead_touch_view", ["lead_id", "touch_time"])
    op.create_table(
        "exchange_rate_view",
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("effective_from", sa.Date, primary_key=True),
        sa.Column("rate", sa.String(40), nullable=False),
        sa.Column("base_currency", sa.String(3), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False, server_default="1"),
    )


def downgrade() -> None:
    op.drop_table("exchange_rate_view")
    op.drop_index("ix_lead_touch_view_lead_time", "lead_touch_view")
    op.drop_table("lead_touch_view")
    with op.batch_alter_table("lead_view") as batch:
        batch.drop_column("dead_time")
        batch.drop_column("recycled_time")
        batch.drop_column("qualified_time")
        batch.drop_column("merged_into_lead_id")
