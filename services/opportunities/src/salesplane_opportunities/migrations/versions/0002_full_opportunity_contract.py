"""The full opportunity: account, best / worst case, base-currency valuation, lead links, close
reason; dated exchange rates; the stage-list revision; stage history; idempotency keys of creates;
the replica of the reporting lines; indexes for listing.

Deals stored before this revision are not valued in the base currency (base_currency NULL) until
their next change or an exchange-rate change revalues them; their best and worst case follow the
amount; their stage history starts with the stage they are in, entered at their last update.

Revision ID: 0002
Revises: 0001
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from salesplane_platform.org_replica import create_reporting_lines_table_v1

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    _add_status_if_missing()
    # SQLite adds NOT NULL columns only with a default; existing rows take it.
    new_columns: list[sa.Column[Any]] = [
        sa.Column("account_name", sa.String(255), nullable=False, server_default=""),
        sa.Column("best_case_minor", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("best_case_manual", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("worst_case_minor", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("worst_case_manual", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("base_currency", sa.String(3), nullable=True),
        sa.Column("amount_base_minor", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("best_case_base_minor", sa.BigInteger, nullable=True),
        sa.Column("worst_case_base_minor", sa.BigInteger, nullable=True),
        sa.Column("exchange_rate", sa.String(32), nullable=True),
        sa.Column("exchange_rate_effective_date", sa.Date, nullable=True),
        sa.Column("next_step", sa.String(500), nullable=False, server_default=""),
        sa.Column("lead_source_id", sa.String(36), nullable=True),
        sa.Column("campaign_id", sa.String(36), nullable=True),
        sa.Column("lead_id", sa.String(36), nullable=True),
        sa.Column("close_reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("close_time", sa.DateTime(timezone=True), nullable=True),
    ]
    for column in new_columns:
        op.add_column("opportunities", column)
    op.execute("UPDATE opportunities SET best_case_minor = amount_minor, worst_case_minor = amount_minor")
    op.create_index("ix_opportunities_close_id", "opportunities", ["expected_close_date", "id"])
    op.create_index("ix_opportunities_amount_base_id", "opportunities", ["amount_base_minor", "id"])
    op.create_index("ix_opportunities_updated_id", "opportunities", ["updated_at", "id"])
    op.create_index("ix_opportunities_stage", "opportunities", ["sales_stage"])
    op.create_index("ix_opportunities_lead", "opportunities", ["lead_id"])
    op.create_index("ix_opportunities_campaign", "opportunities", ["campaign_id"])
    op.create_index("ix_opportunities_currency_close", "opportunities", ["currency", "expected_close_date"])

    revisions = op.create_table(
        "sales_stage_revision",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("revision", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(revisions, [{"id": 1, "revision": 1}])

    op.create_table(
        "exchange_rates",
        sa.Column("base_currency", sa.String(3), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("effective_from", sa.Date, nullable=False),
        sa.Column("rate", sa.String(32), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("base_currency", "currency", "effective_from"),
    )

    op.create_table(
        "stage_history",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("opportunity_id", sa.String(36), nullable=False),
        sa.Column("sales_stage", sa.String(64), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actor", sa.String(255), nullable=False),
    )
    op.create_index("ix_stage_history_opportunity", "stage_history", ["opportunity_id", "entered_at"])
    op.execute(
        "INSERT INTO stage_history (opportunity_id, sales_stage, entered_at, actor) "
        "SELECT id, sales_stage, updated_at, '' FROM opportunities"
    )

    op.create_table(
        "create_requests",
        sa.Column("caller", sa.String(255), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("opportunity_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("caller", "request_id"),
    )

    create_reporting_lines_table_v1()


def _add_status_if_missing() -> None:
    """The status column was added to 0001 after it had shipped: databases created by the first
    0001 lack it. Their deals take the status of their stage."""
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("opportunities")}
    if "status" in columns:
        return
    op.add_column("opportunities", sa.Column("status", sa.String(8), nullable=False, server_default="open"))
    op.execute(
        "UPDATE opportunities SET status = COALESCE((SELECT CASE WHEN s.is_won THEN 'won' "
        "WHEN s.is_lost THEN 'lost' ELSE 'open' END FROM sales_stages s "
        "WHERE s.name = opportunities.sales_stage), 'open')"
    )
