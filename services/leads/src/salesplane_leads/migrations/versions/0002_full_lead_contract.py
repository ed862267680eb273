"""The whole lead contract: contact, company and qualification fields, duplicate keys, lead sources,
campaigns and their costs, scoring rules (seeded), idempotency keys, import fingerprints,
conversions, and the replica of the reporting lines.

Existing leads keep their data: their free-text lead source becomes a lead source of channel OTHER
(one per distinct name, case-insensitively), and their duplicate keys are computed. They get score
0 with an empty breakdown until their next change scores them. No events are published for what
this migration writes; the next change of each record publishes its full state.

Revision ID: 0002
Revises: 0001
"""

import json
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from salesplane_leads.domain.contact import normalise_phone
from salesplane_leads.domain.matching_keys import company_key, person_key
from salesplane_platform.org_replica import create_reporting_lines_table_v1

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen here on purpose: later releases change rules through ReplaceScoringRules, not by editing
# this seed. The maximum (105) is capped to 100.
DEFAULT_SCORING_RULES = [
    {
        "id": "budget-10k-usd",
        "description": "Budget of at least USD 10,000",
        "criterion": "budget_at_least",
        "points": 20,
        "min_budget": {"currency": "USD", "amount_minor": 1_000_000},
    },
    {
        "id": "budget-10k-eur",
        "description": "Budget of at least EUR 10,000",
        "criterion": "budget_at_least",
        "points": 20,
        "min_budget": {"currency": "EUR", "amount_minor": 1_000_000},
    },
    {
        "id": "decision-maker",
        "description": "Talking to the decision maker",
        "criterion": "authority_at_least",
        "points": 25,
        "authority": "DECISION_MAKER",
    },
    {
        "id": "influencer",
        "description": "Talking to at least an influencer",
        "criterion": "authority_at_least",
        "points": 10,
        "authority": "INFLUENCER",
    },
    {
        "id": "need-high",
        "description": "High need",
        "criterion": "need_at_least",
        "points": 15,
        "need": "HIGH",
    },
    {
        "id": "need-medium",
        "description": "At least a medium need",
        "criterion": "need_at_least",
        "points": 10,
        "need": "MEDIUM",
    },
    {
        "id": "timeline-90-days",
        "description": "Buying within 90 days",
        "criterion": "timeline_within_days",
        "points": 15,
        "within_days": 90,
    },
    {"id": "has-email", "description": "Has an e-mail address", "criterion": "has_email", "points": 5},
    {"id": "has-phone", "description": "Has a phone number", "criterion": "has_phone", "points": 5},
]


def upgrade() -> None:
    now = datetime.now(UTC)
    create_reporting_lines_table_v1()
    op.create_table(
        "lead_sources",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("name_key", sa.String(400), nullable=False, unique=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("name_key", sa.String(400), nullable=False, unique=True),
        sa.Column("lead_source_id", sa.String(36), sa.ForeignKey("lead_sources.id"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("budget_minor", sa.BigInteger, nullable=False),
        sa.Column("expected_cost_minor", sa.BigInteger, nullable=True),
        sa.Column("expected_revenue_minor", sa.BigInteger, nullable=True),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_campaigns_lead_source_id", "campaigns", ["lead_source_id"])
    op.create_table(
        "campaign_costs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("campaign_id", sa.String(36), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("incurred_on", sa.Date, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("campaign_id", "request_id", name="uq_campaign_costs_request"),
    )
    scoring = op.create_table(
        "scoring_rule_sets",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("rules", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.bulk_insert(
        scoring,
        [{"id": "rules", "revision": 1, "rules": json.dumps(DEFAULT_SCORING_RULES), "updated_at": now}],
    )
    op.create_table(
        "lead_create_requests",
        sa.Column("requested_by", sa.Text, primary_key=True),
        sa.Column("request_id", sa.String(128), primary_key=True),
        sa.Column("lead_id", sa.String(36), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "import_rows",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("lead_id", sa.String(36), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("line_number", sa.Integer, nullable=False),
        sa.Column("imported_by", sa.Text, nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "lead_conversions",
        sa.Column("lead_id", sa.String(36), primary_key=True),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("opportunity_id", sa.String(36), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
    )

    with op.batch_alter_table("leads") as batch:
        for name, length in [
            ("title", 128),
            ("website", 255),
            ("street", 255),
            ("city", 100),
            ("region", 100),
            ("postal_code", 20),
            ("country_code", 2),
            ("normalised_phone", 24),
            ("status_reason", 500),
            ("authority", 16),
            ("need", 16),
        ]:
            batch.add_column(sa.Column(name, sa.String(length), nullable=False, server_default=""))
        for name in ("description", "person_key", "company_key", "qualification_notes"):
            batch.add_column(sa.Column(name, sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("score_breakdown", sa.Text, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("score", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("qualified", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("lead_source_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("campaign_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("budget_currency", sa.String(3), nullable=True))
        batch.add_column(sa.Column("budget_minor", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("timeline", sa.Date, nullable=True))
        batch.add_column(sa.Column("qualified_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("converted_opportunity_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("converted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("merged_into_lead_id", sa.String(36), nullable=True))

    _carry_over_existing_leads(now)

    with op.batch_alter_table("leads") as batch:
        batch.drop_column("lead_source")
        # A token subject has no length limit; 255 would fail the insert of a long one.
        batch.alter_column("created_by", type_=sa.Text, existing_type=sa.String(255), existing_nullable=False)
        batch.create_foreign_key("fk_leads_lead_source_id", "lead_sources", ["lead_source_id"], ["id"])
        batch.create_foreign_key("fk_leads_campaign_id", "campaigns", ["campaign_id"], ["id"])
        batch.create_index("ix_leads_email", ["email"])
        batch.create_index("ix_leads_normalised_phone", ["normalised_phone"])
        batch.create_index("ix_leads_person_at_company", ["company_key", "person_key"])
        batch.create_index("ix_leads_created_at_id", ["created_at", "id"])
        batch.create_index("ix_leads_lead_source_id", ["lead_source_id"])
        batch.create_index("ix_leads_campaign_id", ["campaign_id"])


def _carry_over_existing_leads(now: datetime) -> None:
    connection = op.get_bind()
    leads = sa.table(
        "leads",
        sa.column("id"),
        sa.column("first_name"),
        sa.column("last_name"),
        sa.column("company"),
        sa.column("phone"),
        sa.column("lead_source"),
        sa.column("lead_source_id"),
        sa.column("normalised_phone"),
        sa.column("person_key"),
        sa.column("company_key"),
    )
    sources = sa.table(
        "lead_sources",
        sa.column("id"),
        sa.column("name"),
        sa.column("name_key"),
        sa.column("channel"),
        sa.column("version"),
        sa.column("created_at"),
    )
    source_ids: dict[str, str] = {}
    for row in connection.execute(sa.select(leads)).all():
        source_id = None
        name = (row.lead_source or "").strip()
        if name:
            key = " ".join(name.casefold().split())
            if key not in source_ids:
                source_ids[key] = str(uuid.uuid4())
                connection.execute(
                    sa.insert(sources).values(
                        id=source_ids[key],
                        name=name,
                        name_key=key,
                        channel="other",
                        version=1,
                        created_at=now,
                    )
                )
            source_id = source_ids[key]
        connection.execute(
            sa.update(leads)
            .where(leads.c.id == row.id)
            .values(
                lead_source_id=source_id,
                normalised_phone=normalise_phone(row.phone),
                person_key=person_key(row.first_name, row.last_name),
                company_key=company_key(row.company),
            )
        )
