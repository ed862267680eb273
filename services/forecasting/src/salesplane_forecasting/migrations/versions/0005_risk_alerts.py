"""Pipeline inspection alerts: the risk state of each rep and team per period, and the record of
every change of it (what the console lists; each also went to Kafka through the outbox).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "risk_states",
        sa.Column("subject_kind", sa.String(8), primary_key=True),
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("period_id", sa.String(16), primary_key=True),
        sa.Column("flags", sa.Text, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "risk_alerts",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("subject_kind", sa.String(8), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("period_id", sa.String(16), nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("entered", sa.Text, nullable=False),
        sa.Column("left", sa.Text, nullable=False),
        sa.Column("current", sa.Text, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "subject_kind", "user_id", "period_id", "sequence", name="uq_risk_alerts_subject"
        ),
    )
    op.create_index("ix_risk_alerts_user_period", "risk_alerts", ["user_id", "period_id"])


def downgrade() -> None:
    op.drop_index("ix_risk_alerts_user_period", table_name="risk_alerts")
    op.drop_table("risk_alerts")
    op.drop_table("risk_states")
