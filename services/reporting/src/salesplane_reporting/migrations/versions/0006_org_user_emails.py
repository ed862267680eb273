"""The reporting organisation keeps each user's e-mail: callers may be known to the identity provider
by e-mail (SALESPLANE_OIDC_USER_CLAIM=email), and their roles come from here.

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
    op.add_column("org_users", sa.Column("email", sa.String(254), nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column("org_users", "email")
