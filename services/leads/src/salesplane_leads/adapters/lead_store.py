"""Leads in SQL: one row per lead, with the derived duplicate keys stored next to the data so the
duplicate search and the list filters are index lookups."""

from __future__ import annotations

import json
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Row,
    Select,
    and_,
    exists,
    false,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from salesplane_leads.adapters import tables
from salesplane_leads.adapters.seen_aggregates import SeenByUnitOfWork
from salesplane_leads.domain.access import LeadScope
from salesplane_leads.domain.duplicates import MatchingKeys
from salesplane_leads.domain.lead import Lead
from salesplane_leads.domain.lead_fields import Address, LeadFields
from salesplane_leads.domain.lead_status import OPEN_STATUSES, LeadStatus
from salesplane_leads.domain.qualification import Authority, Need, Qualification
from salesplane_leads.domain.scoring import Score, ScoreComponent
from salesplane_leads.service_layer.unit_of_work import LeadCursor, LeadFilter
from salesplane_platform.db import as_utc
from salesplane_platform.errors import Conflict
from salesplane_platform.money import Money
from salesplane_platform.org_replica import ReportingLines

# More candidates than this are never useful to a human, and the first ones are the best.
MAX_DUPLICATE_CANDIDATES = 50

_leads = tables.leads
_conversions = tables.lead_conversions
_conversion_pending = (
    exists()
    .where(_conversions.c.lead_id == _leads.c.id, _conversions.c.completed_at.is_(None))
    .label("conversion_pending")
)


def _row_values(lead: Lead) -> dict[str, object]:
    fields, address, qualification = lead.fields, lead.fields.address, lead.qualification
    budget = qualification.budget if qualification else None
    return {
        "id": lead.id,
        "first_name": fields.first_name,
        "last_name": fields.last_name,
        "company": fields.company,
        "email": fields.email,
        "phone": fields.phone,
        "title": fields.title,
        "website": fields.website,
        "street": address.street,
        "city": address.city,
        "region": address.region,
        "postal_code": address.postal_code,
        "country_code": address.country_code,
        "description": fields.description,
        "lead_source_id": fields.lead_source_id or None,
        "campaign_id": fields.campaign_id or None,
        "normalised_phone": lead.normalised_phone,
        "person_key": lead.person_key,
        "company_key": lead.company_key,
        "status": lead.status.value,
        "status_reason": lead.status_reason,
        "assigned_user_id": lead.assigned_user_id,
        "qualified": qualification is not None,
        "budget_currency": budget.currency if budget else None,
        "budget_minor": budget.amount_minor if budget else None,
        "authority": qualification.authority.name if qualification else Authority.UNKNOWN.name,
        "need": qualification.need.name if qualification else Need.UNKNOWN.name,
        "timeline": qualification.timeline if qualification else None,
        "qualification_notes": qualification.notes if qualification else "",
        "qualified_at": lead.qualified_at,
        "score": lead.score.value,
        "score_breakdown": json.dumps(
            [
                {"rule_id": c.rule_id, "description": c.description, "points": c.points, "matched": c.matched}
                for c in lead.score.breakdown
            ]
        ),
        "converted_opportunity_id": lead.converted_opportunity_id or None,
        "converted_at": lead.converted_at,
        "merged_into_lead_id": lead.merged_into_lead_id or None,
        "created_by": lead.created_by,
        "version": lead.version,
        "created_at": lead.created_at,
        "updated_at": lead.updated_at,
    }


def _from_row(row: Row[*tuple[Any, ...]]) -> Lead:
    qualification = None
    if row.qualified:
        qualification = Qualification(
            budget=Money(row.budget_currency, row.budget_minor) if row.budget_currency else None,
            authority=Authority[row.authority],
            need=Need[row.need],
            timeline=row.timeline,
            notes=row.qualification_notes,
        )
    return Lead(
        id=row.id,
        fields=LeadFields(
            first_name=row.first_name,
            last_name=row.last_name,
            company=row.company,
            email=row.email,
            phone=row.phone,
            title=row.title,
            website=row.website,
            address=Address(
                street=row.street,
                city=row.city,
                region=row.region,
                postal_code=row.postal_code,
                country_code=row.country_code,
            ),
            description=row.description,
            lead_source_id=row.lead_source_id or "",
            campaign_id=row.campaign_id or "",
        ),
        status=LeadStatus(row.status),
        status_reason=row.status_reason,
        assigned_user_id=row.assigned_user_id,
        qualification=qualification,
        qualified_at=as_utc(row.qualified_at) if row.qualified_at else None,
        score=Score(
            row.score,
            tuple(
                ScoreComponent(c["rule_id"], c["description"], c["points"], c["matched"])
                for c in json.loads(row.score_breakdown)
            ),
        ),
        converted_opportunity_id=row.converted_opportunity_id or "",
        converted_at=as_utc(row.converted_at) if row.converted_at else None,
        merged_into_lead_id=row.merged_into_lead_id or "",
        created_by=row.created_by,
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        conversion_pending=bool(row.conversion_pending),
    )


def _select() -> Select[*tuple[Any, ...]]:
    return select(_leads, _conversion_pending)


class SqlLeadRepository:
    """Notes every lead it hands out or is given in `seen`, for the unit of work to collect their
    events on commit."""

    def __init__(self, session: Session, reporting_lines: ReportingLines, seen: SeenByUnitOfWork) -> None:
        self._session = session
        self._lines = reporting_lines
        self._seen = seen

    def add(self, lead: Lead) -> None:
        self._session.execute(insert(_leads).values(_row_values(lead)))
        self._seen.add(lead)

    def get(self, lead_id: str) -> Lead | None:
        row = self._session.execute(_select().where(_leads.c.id == lead_id)).one_or_none()
        if row is None:
            return None
        lead = _from_row(row)
        self._seen.add(lead)
        return lead

    def save(self, lead: Lead, *, read_version: int, completing_conversion: bool = False) -> None:
        values = _row_values(lead)
        del values["id"], values["created_at"], values["created_by"]
        conditions = [_leads.c.id == lead.id, _leads.c.version == read_version]
        if not completing_conversion:
            conditions.append(~_conversion_pending.element)
        # Session.execute promises only a Result; a Core UPDATE gives a CursorResult, with the rowcount.
        result = cast(
            CursorResult[*tuple[Any, ...]],
            self._session.execute(update(_leads).where(*conditions).values(values)),
        )
        if result.rowcount != 1:
            raise Conflict(f"lead {lead.id} was changed concurrently; read it again and retry")
        self._seen.add(lead)

    def find_matching(self, keys: MatchingKeys) -> list[Lead]:
        conditions: list[ColumnElement[bool]] = []
        if keys.email:
            conditions.append(_leads.c.email == keys.email)
        if keys.normalised_phone:
            conditions.append(_leads.c.normalised_phone == keys.normalised_phone)
        if keys.person_key and keys.company_key:
            conditions.append(
                and_(_leads.c.company_key == keys.company_key, _leads.c.person_key == keys.person_key)
            )
        if not conditions:
            return []
        rows = self._session.execute(
            _select()
            .where(or_(*conditions), _leads.c.merged_into_lead_id.is_(None))
            .order_by(_leads.c.created_at, _leads.c.id)
            .limit(MAX_DUPLICATE_CANDIDATES)
        ).all()
        return self._handed_out([_from_row(row) for row in rows])

    def page(
        self, *, scope: LeadScope, lead_filter: LeadFilter, after: LeadCursor | None, limit: int
    ) -> list[Lead]:
        statement = _select().where(*self._scope_conditions(scope), *_filter_conditions(lead_filter))
        if after is not None:
            statement = statement.where(
                or_(
                    _leads.c.created_at < after.created_at,
                    and_(_leads.c.created_at == after.created_at, _leads.c.id < after.lead_id),
                )
            )
        statement = statement.order_by(_leads.c.created_at.desc(), _leads.c.id.desc()).limit(limit)
        return self._handed_out([_from_row(row) for row in self._session.execute(statement).all()])

    def count_open(self, user_id: str) -> int:
        found = self._session.execute(
            select(func.count()).select_from(_leads).where(*_open_of(user_id))
        ).scalar_one()
        return int(found)

    def open_assigned_to(self, user_id: str, *, limit: int) -> list[Lead]:
        rows = self._session.execute(_select().where(*_open_of(user_id)).order_by(_leads.c.id).limit(limit))
        return self._handed_out([_from_row(row) for row in rows])

    def open_pending_conversion(self, user_id: str, *, limit: int) -> list[str]:
        return list(
            self._session.execute(
                select(_leads.c.id)
                .where(*_open_of(user_id), _conversion_pending.element)
                .order_by(_leads.c.id)
                .limit(limit)
            ).scalars()
        )

    def _handed_out(self, leads: list[Lead]) -> list[Lead]:
        self._seen.add_all(leads)
        return leads

    def _scope_conditions(self, scope: LeadScope) -> list[ColumnElement[bool]]:
        if scope.everything:
            return []
        if not scope.user_id:
            return [false()]
        reached: ColumnElement[bool] = _leads.c.assigned_user_id == scope.user_id
        if scope.subtree:
            reached = _leads.c.assigned_user_id.in_(self._lines.subtree_select(scope.user_id))
        if scope.unassigned:
            reached = or_(reached, _leads.c.assigned_user_id == "")
        return [reached]


def _open_of(user_id: str) -> list[ColumnElement[bool]]:
    return [
        _leads.c.assigned_user_id == user_id,
        _leads.c.status.in_(sorted(status.value for status in OPEN_STATUSES)),
    ]


def _filter_conditions(lead_filter: LeadFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if lead_filter.statuses:
        conditions.append(_leads.c.status.in_(sorted(s.value for s in lead_filter.statuses)))
    if lead_filter.assigned_user_ids:
        conditions.append(_leads.c.assigned_user_id.in_(sorted(lead_filter.assigned_user_ids)))
    if lead_filter.lead_source_id:
        conditions.append(_leads.c.lead_source_id == lead_filter.lead_source_id)
    if lead_filter.campaign_id:
        conditions.append(_leads.c.campaign_id == lead_filter.campaign_id)
    if lead_filter.text:
        text = lead_filter.text.lower()
        conditions.append(
            or_(
                func.lower(_leads.c.first_name + " " + _leads.c.last_name).contains(text, autoescape=True),
                func.lower(_leads.c.company).contains(text, autoescape=True),
                _leads.c.email.contains(text, autoescape=True),
            )
        )
    if lead_filter.min_score is not None:
        conditions.append(_leads.c.score >= lead_filter.min_score)
    return conditions
