"""Translation from the domain to the protobuf contract (API responses and event payloads)."""

from __future__ import annotations

from datetime import datetime

from salesplane.common.v1.common_pb2 import Money
from salesplane.opportunities.v1 import events_pb2, opportunities_pb2
from salesplane_opportunities.domain.exchange_rates import ExchangeRate
from salesplane_opportunities.domain.opportunity import (
    ChangeKind,
    Opportunity,
    OpportunityChanged,
    OpportunityStatus,
    ProbabilitySource,
)
from salesplane_opportunities.domain.sales_stages import SalesStage, SalesStageCatalog
from salesplane_opportunities.domain.stage_history import StageVisit
from salesplane_platform.proto_values import date_to_proto, money_to_proto

_SOURCES = {
    ProbabilitySource.STAGE: opportunities_pb2.PROBABILITY_SOURCE_STAGE,
    ProbabilitySource.MANUAL: opportunities_pb2.PROBABILITY_SOURCE_MANUAL,
}
STATUSES = {
    OpportunityStatus.OPEN: opportunities_pb2.OPPORTUNITY_STATUS_OPEN,
    OpportunityStatus.WON: opportunities_pb2.OPPORTUNITY_STATUS_WON,
    OpportunityStatus.LOST: opportunities_pb2.OPPORTUNITY_STATUS_LOST,
}
_KINDS = {
    ChangeKind.CREATED: events_pb2.CHANGE_KIND_CREATED,
    ChangeKind.UPDATED: events_pb2.CHANGE_KIND_UPDATED,
    ChangeKind.DELETED: events_pb2.CHANGE_KIND_DELETED,
    ChangeKind.CLOSED: events_pb2.CHANGE_KIND_CLOSED,
    ChangeKind.REOPENED: events_pb2.CHANGE_KIND_REOPENED,
    ChangeKind.REASSIGNED: events_pb2.CHANGE_KIND_REASSIGNED,
    ChangeKind.REVALUED: events_pb2.CHANGE_KIND_REVALUED,
}


def opportunity_to_proto(opportunity: Opportunity) -> opportunities_pb2.Opportunity:
    currency = opportunity.amount.currency
    message = opportunities_pb2.Opportunity(
        id=opportunity.id,
        name=opportunity.name,
        owner_user_id=opportunity.owner_user_id,
        amount=money_to_proto(opportunity.amount),
        expected_close_date=date_to_proto(opportunity.expected_close_date),
        sales_stage=opportunity.sales_stage,
        probability=opportunity.probability,
        probability_source=_SOURCES[opportunity.probability_source],
        version=opportunity.version,
        status=STATUSES[opportunity.status],
        account_name=opportunity.account_name,
        best_case=Money(currency_code=currency, amount_minor=opportunity.best_case_minor),
        worst_case=Money(currency_code=currency, amount_minor=opportunity.worst_case_minor),
        best_case_manual=opportunity.best_case_manual,
        worst_case_manual=opportunity.worst_case_manual,
        next_step=opportunity.next_step,
        lead_source_id=opportunity.lead_source_id,
        campaign_id=opportunity.campaign_id,
        lead_id=opportunity.lead_id,
        close_reason=opportunity.close_reason,
    )
    message.create_time.FromDatetime(opportunity.created_at)
    message.update_time.FromDatetime(opportunity.updated_at)
    if opportunity.close_time is not None:
        message.close_time.FromDatetime(opportunity.close_time)
    valuation = opportunity.valuation
    if valuation is not None:
        base = valuation.base_currency
        message.amount_base.CopyFrom(Money(currency_code=base, amount_minor=valuation.amount_base_minor))
        message.best_case_base.CopyFrom(
            Money(currency_code=base, amount_minor=valuation.best_case_base_minor)
        )
        message.worst_case_base.CopyFrom(
            Money(currency_code=base, amount_minor=valuation.worst_case_base_minor)
        )
        message.exchange_rate = valuation.rate.rate
        if valuation.rate.effective_from is not None:
            message.exchange_rate_effective_date.CopyFrom(date_to_proto(valuation.rate.effective_from))
    return message


def changed_event(event: OpportunityChanged) -> events_pb2.OpportunityChanged:
    return events_pb2.OpportunityChanged(
        opportunity=opportunity_to_proto(event.opportunity),
        kind=_KINDS[event.kind],
        changed_fields=list(event.changed_fields),
        previous_sales_stage=event.previous_sales_stage or "",
    )


def stage_to_proto(stage: SalesStage, position: int) -> opportunities_pb2.SalesStage:
    return opportunities_pb2.SalesStage(
        name=stage.name,
        default_probability=stage.default_probability,
        is_won=stage.is_won,
        is_lost=stage.is_lost,
        order=position,
    )


def catalog_to_proto(catalog: SalesStageCatalog) -> opportunities_pb2.ListSalesStagesResponse:
    return opportunities_pb2.ListSalesStagesResponse(
        sales_stages=[stage_to_proto(s, i) for i, s in enumerate(catalog.stages)],
        revision=catalog.revision,
    )


def sales_stages_changed(catalog: SalesStageCatalog) -> events_pb2.SalesStagesChanged:
    return events_pb2.SalesStagesChanged(
        sales_stages=[stage_to_proto(s, i) for i, s in enumerate(catalog.stages)],
        revision=catalog.revision,
    )


def exchange_rate_to_proto(rate: ExchangeRate) -> opportunities_pb2.ExchangeRate:
    message = opportunities_pb2.ExchangeRate(
        currency_code=rate.currency,
        rate=rate.rate,
        effective_from=date_to_proto(rate.effective_from),
        base_currency_code=rate.base_currency,
    )
    message.create_time.FromDatetime(rate.set_at)
    return message


def exchange_rate_changed(rate: ExchangeRate) -> events_pb2.ExchangeRateChanged:
    return events_pb2.ExchangeRateChanged(rate=exchange_rate_to_proto(rate))


def stage_visit_to_proto(visit: StageVisit, now: datetime) -> opportunities_pb2.StageHistoryEntry:
    entry = opportunities_pb2.StageHistoryEntry(
        sales_stage=visit.sales_stage, duration_seconds=visit.duration_seconds(now), actor=visit.actor
    )
    entry.enter_time.FromDatetime(visit.entered_at)
    if visit.left_at is not None:
        entry.leave_time.FromDatetime(visit.left_at)
    return entry
