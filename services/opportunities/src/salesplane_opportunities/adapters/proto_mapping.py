"""Translation between the domain and the protobuf contract."""

from __future__ import annotations

from datetime import date

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.opportunities.v1 import events_pb2, opportunities_pb2
from salesplane_opportunities.domain.opportunity import (
    ChangeKind,
    Opportunity,
    OpportunityStatus,
    ProbabilitySource,
)
from salesplane_opportunities.domain.sales_stages import SalesStage

_SOURCES = {
    ProbabilitySource.STAGE: opportunities_pb2.PROBABILITY_SOURCE_STAGE,
    ProbabilitySource.MANUAL: opportunities_pb2.PROBABILITY_SOURCE_MANUAL,
}
_STATUSES = {
    OpportunityStatus.OPEN: opportunities_pb2.OPPORTUNITY_STATUS_OPEN,
    OpportunityStatus.WON: opportunities_pb2.OPPORTUNITY_STATUS_WON,
    OpportunityStatus.LOST: opportunities_pb2.OPPORTUNITY_STATUS_LOST,
}
_KINDS = {
    ChangeKind.CREATED: events_pb2.CHANGE_KIND_CREATED,
    ChangeKind.UPDATED: events_pb2.CHANGE_KIND_UPDATED,
}


def date_to_proto(value: date) -> Date:
    return Date(year=value.year, month=value.month, day=value.day)


def date_from_proto(value: Date) -> date | None:
    """None for an unset or impossible date; the domain reports it as a field violation."""
    try:
        return date(value.year, value.month, value.day)
    except ValueError:
        return None


def opportunity_to_proto(opportunity: Opportunity) -> opportunities_pb2.Opportunity:
    message = opportunities_pb2.Opportunity(
        id=opportunity.id,
        name=opportunity.name,
        owner_user_id=opportunity.owner_user_id,
        amount=Money(currency_code=opportunity.amount.currency, amount_minor=opportunity.amount.amount_minor),
        expected_close_date=date_to_proto(opportunity.expected_close_date),
        sales_stage=opportunity.sales_stage,
        probability=opportunity.probability,
        probability_source=_SOURCES[opportunity.probability_source],
        version=opportunity.version,
        status=_STATUSES[opportunity.status],
    )
    message.create_time.FromDatetime(opportunity.created_at)
    message.update_time.FromDatetime(opportunity.updated_at)
    return message


def changed_event(opportunity: Opportunity, kind: ChangeKind) -> events_pb2.OpportunityChanged:
    return events_pb2.OpportunityChanged(opportunity=opportunity_to_proto(opportunity), kind=_KINDS[kind])


def stage_to_proto(stage: SalesStage, position: int) -> opportunities_pb2.SalesStage:
    return opportunities_pb2.SalesStage(
        name=stage.name,
        default_probability=stage.default_probability,
        is_won=stage.is_won,
        is_lost=stage.is_lost,
        order=position,
    )
