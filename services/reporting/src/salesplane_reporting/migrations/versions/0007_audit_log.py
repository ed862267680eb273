"""The audit log of every change this service makes (salesplane_platform.audit_log), append-only.

Revision ID: 0007
Revises: 0006
"""

from salesplane_platform.migration_ops import create_audit_log_v1, drop_audit_log_v1

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_log_v1()


def downgrade() -> None:
    drop_audit_log_v1()
