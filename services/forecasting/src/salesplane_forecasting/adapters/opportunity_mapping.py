"""Opportunity events of the opportunities contract as the deals forecasting tracks."""

from __future__ import annotations

from datetime import date

from salesplane.common.v1.common_pb2 import Money
from salesplane.opportunities.v1 import events_pb2, opportunities_pb2
from salesplane_forecasting.domain.contributions import DealStatus
from salesplane_forecasting.domain.deals import Deal
from salesplane_platform.events import MalformedEvent

_STATUS = {
    opportunities_pb2.OPPORTUNITY_STATUS_OPEN: DealStatus.OPEN,
    opportunities_pb2.OPPORTUNITY_STATUS_WON: DealStatus.WON,
    opportunities_pb2.OPPORTUNITY_STATUS_LOST: DealStatus.LOST,
}


def deal_of(event: events_pb2.OpportunityChanged, version: int, base_currency: str) -> Deal:
    """The deal an event describes (not yet placed in periods and stages)."""
    opportunity = event.opportunity
    close = opportunity.expected_close_date
    try:
        close_date = date(close.year, close.month, close.day)
    except ValueError as error:
        raise MalformedEvent(f"opportunity {opportunity.id} has no valid close date") from error
    if not opportunity.owner_user_id:
        raise MalformedEvent(f"opportunity {opportunity.id} has no owner")
    deleted = event.kind == events_pb2.CHANGE_KIND_DELETED
    status = DealStatus.DELETED if deleted else _STATUS.get(opportunity.status)
    if status is None:
        raise MalformedEvent(f"opportunity {opportunity.id} has an unknown status {opportunity.status}")
    base = opportunity.amount_base
    if base.currency_code != base_currency:
        raise MalformedEvent(
            f"opportunity {opportunity.id} is valued in {base.currency_code or 'no currency'}, "
            f"but forecasts are kept in {base_currency}"
        )
    return Deal(
        opportunity_id=opportunity.id,
        version=version,
        owner_user_id=opportunity.owner_user_id,
        status=status,
        close_date=close_date,
        currency=opportunity.amount.currency_code,
        amount_minor=opportunity.amount.amount_minor,
        probability=opportunity.probability,
        name=opportunity.name,
        account_name=opportunity.account_name,
        sales_stage=opportunity.sales_stage,
        likely_minor=base.amount_minor,
        best_minor=_base_or(opportunity.best_case_base, base.amount_minor),
        worst_minor=_base_or(opportunity.worst_case_base, base.amount_minor),
    )


def _base_or(value: Money, fallback: int) -> int:
    return value.amount_minor if value.currency_code else fallback
