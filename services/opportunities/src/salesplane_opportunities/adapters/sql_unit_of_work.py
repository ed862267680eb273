"""SQL repository and unit of work: the opportunity row and its outbox events commit together."""

from __future__ import annotations

from sqlalchemy import Row, insert, select, update
from sqlalchemy.orm import Session

from salesplane_opportunities.adapters import tables
from salesplane_opportunities.adapters.proto_mapping import changed_event
from salesplane_opportunities.domain.opportunity import Opportunity, OpportunityStatus, ProbabilitySource
from salesplane_opportunities.domain.sales_stages import SalesStage, SalesStageCatalog
from salesplane_platform.db import as_utc
from salesplane_platform.errors import Conflict
from salesplane_platform.money import Money
from salesplane_platform.unit_of_work import SqlUnitOfWork

AGGREGATE_TYPE = "opportunity"


def _row_values(opportunity: Opportunity) -> dict[str, object]:
    return {
        "id": opportunity.id,
        "name": opportunity.name,
        "owner_user_id": opportunity.owner_user_id,
        "amount_minor": opportunity.amount.amount_minor,
        "currency": opportunity.amount.currency,
        "expected_close_date": opportunity.expected_close_date,
        "sales_stage": opportunity.sales_stage,
        "probability": opportunity.probability,
        "probability_manual": opportunity.probability_source is ProbabilitySource.MANUAL,
        "status": opportunity.status.value,
        "version": opportunity.version,
        "created_at": opportunity.created_at,
        "updated_at": opportunity.updated_at,
    }


def _from_row(row: Row) -> Opportunity:
    return Opportunity(
        id=row.id,
        name=row.name,
        owner_user_id=row.owner_user_id,
        amount=Money(row.currency, row.amount_minor),
        expected_close_date=row.expected_close_date,
        sales_stage=row.sales_stage,
        probability=row.probability,
        probability_source=ProbabilitySource.MANUAL if row.probability_manual else ProbabilitySource.STAGE,
        status=OpportunityStatus(row.status),
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


class SqlOpportunityRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, opportunity: Opportunity) -> None:
        self._session.execute(insert(tables.opportunities).values(_row_values(opportunity)))

    def get(self, opportunity_id: str) -> Opportunity | None:
        row = self._session.execute(
            select(tables.opportunities).where(tables.opportunities.c.id == opportunity_id)
        ).one_or_none()
        return None if row is None else _from_row(row)

    def save(self, opportunity: Opportunity, *, read_version: int) -> None:
        values = _row_values(opportunity)
        del values["id"], values["created_at"]
        columns = tables.opportunities.c
        result = self._session.execute(
            update(tables.opportunities)
            .where(columns.id == opportunity.id, columns.version == read_version)
            .values(values)
        )
        if result.rowcount != 1:
            raise Conflict(f"opportunity {opportunity.id} was changed concurrently; read it again")


class SqlOpportunitiesUnitOfWork(SqlUnitOfWork):
    opportunities: SqlOpportunityRepository

    def __enter__(self) -> SqlOpportunitiesUnitOfWork:
        super().__enter__()
        self.opportunities = SqlOpportunityRepository(self.session)
        return self

    def sales_stages(self) -> SalesStageCatalog:
        rows = self.session.execute(
            select(tables.sales_stages).order_by(tables.sales_stages.c.position)
        ).all()
        return SalesStageCatalog(
            tuple(SalesStage(r.name, r.default_probability, is_won=r.is_won, is_lost=r.is_lost) for r in rows)
        )

    def publish_events(self, opportunity: Opportunity, *, actor: str) -> None:
        for event in opportunity.events:
            self.record_event(
                payload=changed_event(event.opportunity, event.kind),
                aggregate_type=AGGREGATE_TYPE,
                aggregate_id=opportunity.id,
                aggregate_version=event.opportunity.version,
                actor=actor,
            )
        opportunity.events.clear()
