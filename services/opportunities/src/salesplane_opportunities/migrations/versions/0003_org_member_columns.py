"""The organisation replica keeps each user's roles and e-mail: what they may do comes from the
organisation, not from their token (salesplane_platform.org_identity).

Revision ID: 0003
Revises: 0002
"""

from salesplane_platform.org_replica import REPLICA_TABLE, add_member_columns_v2

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_member_columns_v2()


def downgrade() -> None:
    from alembic import op

    op.drop_column(REPLICA_TABLE, "email")
    op.drop_column(REPLICA_TABLE, "roles")
