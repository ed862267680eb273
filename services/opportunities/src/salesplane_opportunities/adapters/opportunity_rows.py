"""Opportunity aggregate <-> row of the opportunities table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from salesplane_opportunities.domain.exchange_rates import AppliedRate, Valuation
from salesplane_opportunities.domain.opportunity import Opportunity, OpportunityStatus, ProbabilitySource
from salesplane_platform.db import as_utc
from salesplane_platform.money import Money


def row_values(opportunity: Opportunity) -> dict[str, object]:
    valuation = opportunity.valuation
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
        "account_name": opportunity.account_name,
        "best_case_minor": opportunity.best_case_minor,
        "best_case_manual": opportunity.best_case_manual,
        "worst_case_minor": opportunity.worst_case_minor,
        "worst_case_manual": opportunity.worst_case_manual,
        "base_currency": valuation and valuation.base_currency,
        "amount_base_minor": valuation.amount_base_minor if valuation else 0,
        "best_case_base_minor": valuation and valuation.best_case_base_minor,
        "worst_case_base_minor": valuation and valuation.worst_case_base_minor,
        "exchange_rate": valuation and valuation.rate.rate,
        "exchange_rate_effective_date": valuation and valuation.rate.effective_from,
        "next_step": opportunity.next_step,
        "lead_source_id": opportunity.lead_source_id or None,
        "campaign_id": opportunity.campaign_id or None,
        "lead_id": opportunity.lead_id or None,
        "close_reason": opportunity.close_reason,
        "close_time": opportunity.close_time,
    }


def from_row(row: Row[Any]) -> Opportunity:
    valuation = None
    if row.base_currency is not None:
        valuation = Valuation(
            base_currency=row.base_currency,
            rate=AppliedRate(row.exchange_rate, row.exchange_rate_effective_date),
            amount_base_minor=row.amount_base_minor,
            best_case_base_minor=row.best_case_base_minor,
            worst_case_base_minor=row.worst_case_base_minor,
        )
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
        account_name=row.account_name,
        best_case_minor=row.best_case_minor,
        best_case_manual=row.best_case_manual,
        worst_case_minor=row.worst_case_minor,
        worst_case_manual=row.worst_case_manual,
        next_step=row.next_step,
        lead_source_id=row.lead_source_id or "",
        campaign_id=row.campaign_id or "",
        lead_id=row.lead_id or "",
        close_reason=row.close_reason,
        close_time=as_utc(row.close_time) if row.close_time is not None else None,
        valuation=valuation,
    )
