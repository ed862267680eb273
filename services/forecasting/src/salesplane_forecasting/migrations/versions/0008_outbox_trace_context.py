"""The trace context each outbox row was written in, so an event's trace goes on through the relay
and Kafka to its consumers (salesplane_platform.trace_context).

Revision ID: 0008
Revises: 0007
"""

from salesplane_platform.migration_ops import add_outbox_trace_context_v1, drop_outbox_trace_context_v1

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_trace_context_v1()


def downgrade() -> None:
    drop_outbox_trace_context_v1()
