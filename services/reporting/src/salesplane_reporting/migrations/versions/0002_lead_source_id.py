"""Leads name their source by id now (lead sources became records of the leads service).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A read model: old values were free text and cannot become ids, so they are cleared; replaying
    # the leads topic fills the new column.
    with op.batch_alter_table("lead_view") as batch:
        batch.drop_column("lead_source")
        batch.add_column(sa.Column("lead_source_id", sa.String(64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("lead_view") as batch:
        batch.drop_column("lead_source_id")
        batch.add_column(sa.Column("lead_source", sa.String(100), nullable=False, server_default=""))
