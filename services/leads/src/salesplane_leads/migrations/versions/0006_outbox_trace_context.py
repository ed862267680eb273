"""The trace context each outbox row was written in, so an event's trace goes on through the relay
and Kafka to its consumers (salesplane_platform.trace_context).

Revision ID: 0006
Revises: 0005
"""

from salesplane_platform.migration_ops import add_outbox_trace_context_v1, drop_outbox_trace_context_v1

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_trace_context_v1()


def downgrade() -> None:
    drop_outbox_trace_context_v1()
