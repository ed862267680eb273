"""SQL repository and unit of work: the lead row and its outbox events commit together."""

from __future__ import annotations

from sqlalchemy import Row, insert, select
from sqlalchemy.orm import Session

from salesplane_leads.adapters import tables
from salesplane_leads.adapters.proto_mapping import changed_event
from salesplane_leads.domain.lead import Lead, LeadStatus
from salesplane_platform.db import as_utc
from salesplane_platform.unit_of_work import SqlUnitOfWork

AGGREGATE_TYPE = "lead"


def _row_values(lead: Lead) -> dict[str, object]:
    return {
        "id": lead.id,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "company": lead.company,
        "email": lead.email,
        "phone": lead.phone,
        "status": lead.status.value,
        "assigned_user_id": lead.assigned_user_id,
        "lead_source": lead.lead_source,
        "created_by": lead.created_by,
        "version": lead.version,
        "created_at": lead.created_at,
        "updated_at": lead.updated_at,
    }


def _from_row(row: Row) -> Lead:
    return Lead(
        id=row.id,
        first_name=row.first_name,
        last_name=row.last_name,
        company=row.company,
        email=row.email,
        phone=row.phone,
        status=LeadStatus(row.status),
        assigned_user_id=row.assigned_user_id,
        lead_source=row.lead_source,
        created_by=row.created_by,
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


class SqlLeadRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, lead: Lead) -> None:
        self._session.execute(insert(tables.leads).values(_row_values(lead)))

    def get(self, lead_id: str) -> Lead | None:
        row = self._session.execute(select(tables.leads).where(tables.leads.c.id == lead_id)).one_or_none()
        return None if row is None else _from_row(row)


class SqlLeadsUnitOfWork(SqlUnitOfWork):
    leads: SqlLeadRepository

    def __enter__(self) -> SqlLeadsUnitOfWork:
        super().__enter__()
        self.leads = SqlLeadRepository(self.session)
        return self

    def publish_events(self, lead: Lead, *, actor: str) -> None:
        for event in lead.events:
            self.record_event(
                payload=changed_event(event.lead),
                aggregate_type=AGGREGATE_TYPE,
                aggregate_id=lead.id,
                aggregate_version=event.lead.version,
                actor=actor,
            )
        lead.events.clear()
