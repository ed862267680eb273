"""Translation of the consumed events' payloads into what the read models store."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from salesplane.events.v1.envelope_pb2 import EventEnvelope
from salesplane.forecasting.v1 import org_pb2, quotas_pb2, settings_pb2, worksheets_pb2
from salesplane.leads.v1 import leads_pb2
from salesplane.opportunities.v1 import events_pb2 as opportunity_events_pb2
from salesplane.opportunities.v1 import opportunities_pb2
from salesplane_platform.events import MalformedEvent
from salesplane_platform.proto_values import date_from_proto
from salesplane_reporting.domain.opportunity_history import (
    UNKNOWN_STAGE_ORDER,
    OpportunityState,
    OpportunityVersion,
    weighted_minor,
)

_STATUS = {
    opportunities_pb2.OPPORTUNITY_STATUS_WON: "won",
    opportunities_pb2.OPPORTUNITY_STATUS_LOST: "lost",
}
_KIND_PREFIX = "CHANGE_KIND_"
_LEAD_STATUS_PREFIX = "LEAD_STATUS_"
_CHANNEL_PREFIX = "CHANNEL_"
_TOUCH_KIND_PREFIX = "TOUCH_KIND_"


def timestamp(value: Timestamp) -> datetime | None:
    if value.seconds == 0 and value.nanos == 0:
        return None
    return value.ToDatetime(tzinfo=UTC)


def _enum_name(enum: Any, value: int, prefix: str) -> str:
    """ "won", "rep", ...; "unknown" for a value newer than the contract reporting was built with."""
    if value not in enum.values():
        return "unknown"
    return str(enum.Name(value)).removeprefix(prefix).lower()


def opportunity_version(
    envelope: EventEnvelope,
    changed: opportunity_events_pb2.OpportunityChanged,
    stage_orders: Mapping[str, int],
) -> OpportunityVersion:
    message = changed.opportunity
    occurred = timestamp(envelope.occurred_at) or datetime.now(UTC)
    updated = timestamp(message.update_time) or occurred
    created = timestamp(message.create_time) or updated
    deleted = changed.kind == opportunity_events_pb2.CHANGE_KIND_DELETED
    base = message.amount_base if message.HasField("amount_base") else message.amount
    best = message.best_case_base if message.HasField("best_case_base") else base
    worst = message.worst_case_base if message.HasField("worst_case_base") else base
    state = OpportunityState(
        owner_user_id=message.owner_user_id,
        name=message.name[:255],
        account_name=message.account_name[:255],
        sales_stage=message.sales_stage,
        stage_order=stage_orders.get(message.sales_stage, UNKNOWN_STAGE_ORDER),
        probability=message.probability,
        status=_STATUS.get(message.status, "open"),
        amount_minor=message.amount.amount_minor,
        currency=message.amount.currency_code,
        amount_base_minor=base.amount_minor,
        weighted_base_minor=weighted_minor(base.amount_minor, message.probability),
        best_base_minor=best.amount_minor,
        worst_base_minor=worst.amount_minor,
        base_currency=base.currency_code,
        expected_close_date=date_from_proto(message.expected_close_date),
        lead_source_id=message.lead_source_id,
        campaign_id=message.campaign_id,
        lead_id=message.lead_id,
        close_reason=message.close_reason[:255],
        next_step=message.next_step[:255],
        create_time=created,
        update_time=updated,
        close_time=timestamp(message.close_time),
    )
    return OpportunityVersion(
        opportunity_id=envelope.aggregate_id,
        version=envelope.aggregate_version,
        # A deletion has no update time of its own: it holds from when it happened.
        valid_from=occurred if deleted else updated,
        deleted=deleted,
        change_kind=_enum_name(opportunity_events_pb2.ChangeKind, changed.kind, _KIND_PREFIX),
        state=state,
    )


def stage_rows(changed: opportunity_events_pb2.SalesStagesChanged) -> list[dict[str, object]]:
    return [
        {
            "name": stage.name,
            "position": stage.order,
            "probability": stage.default_probability,
            "won": stage.is_won,
            "lost": stage.is_lost,
            "revision": changed.revision,
        }
        for stage in changed.sales_stages
    ]


def user_row(user: org_pb2.User, version: int, occurred: datetime) -> dict[str, object]:
    return {
        "user_id": user.user_id,
        "display_name": user.display_name[:255] or user.user_id,
        "manager_user_id": user.manager_user_id or None,
        "roles": ",".join(sorted(user.roles))[:255],
        "email": user.email[:254],
        "active": user.active,
        "version": version,
        "update_time": timestamp(user.update_time) or occurred,
    }


def settings_row(settings: settings_pb2.ForecastSettings, version: int) -> dict[str, object]:
    return {
        "id": 1,
        "fiscal_year_start_month": settings.fiscal_year_start_month or 1,
        "currency_code": settings.currency_code,
        "ranges": ";".join(f"{r.name}:{r.min_probability}:{r.max_probability}" for r in settings.ranges),
        "version": version,
    }


def quota_row(quota: quotas_pb2.Quota, version: int, occurred: datetime) -> dict[str, object]:
    return {
        "user_id": quota.user_id,
        "period_id": quota.period_id,
        "kind": "direct" if quota.kind == quotas_pb2.QUOTA_KIND_DIRECT else "assigned",
        "amount_minor": quota.amount.amount_minor,
        "currency": quota.amount.currency_code,
        "commit_time": timestamp(quota.commit_time) or occurred,
        "version": version,
    }


def commit_row(commit: worksheets_pb2.ForecastSnapshot, occurred: datetime) -> dict[str, object]:
    return {
        "snapshot_id": commit.snapshot_id,
        "user_id": commit.user_id,
        "period_id": commit.period_id,
        "kind": "manager" if commit.kind == worksheets_pb2.SNAPSHOT_KIND_MANAGER else "rep",
        "sequence": commit.sequence,
        "likely_minor": commit.likely.amount_minor,
        "best_minor": commit.best.amount_minor,
        "worst_minor": commit.worst.amount_minor,
        "closed_won_minor": commit.closed_won.amount_minor,
        "quota_minor": commit.quota.amount_minor if commit.HasField("quota") else None,
        "currency": commit.likely.currency_code,
        "author_user_id": commit.author,
        "commit_time": timestamp(commit.create_time) or occurred,
    }


def lead_row(lead: leads_pb2.Lead, version: int) -> dict[str, object]:
    return {
        "id": lead.id,
        "status": _enum_name(leads_pb2.LeadStatus, lead.status, _LEAD_STATUS_PREFIX),
        "lead_source_id": lead.lead_source_id,
        "campaign_id": lead.campaign_id,
        "assigned_user_id": lead.assigned_user_id,
        "company": lead.company[:255],
        "score": lead.score,
        "qualified": lead.qualified,
        "converted_opportunity_id": lead.converted_opportunity_id,
        "create_time": timestamp(lead.create_time),
        "convert_time": timestamp(lead.convert_time),
        "version": version,
        "merged_into_lead_id": lead.merged_into_lead_id,
    }


def touch_row(envelope: EventEnvelope, touch: leads_pb2.LeadTouch) -> dict[str, object]:
    if touch.id != envelope.aggregate_id:
        raise MalformedEvent("touch id differs from the aggregate id")
    if not touch.lead_id:
        raise MalformedEvent("a touch names no lead")
    # The contract requires a touch time; should one be missing, when it was recorded is the best
    # stand-in for when it happened.
    touched = timestamp(touch.touch_time) or timestamp(touch.record_time) or timestamp(envelope.occurred_at)
    if touched is None:
        raise MalformedEvent("a touch has no time")
    return {
        "touch_id": touch.id,
        "lead_id": touch.lead_id,
        "campaign_id": touch.campaign_id,
        "kind": _enum_name(leads_pb2.TouchKind, touch.kind, _TOUCH_KIND_PREFIX),
        "touch_time": touched,
    }


def exchange_rate_row(rate: opportunities_pb2.ExchangeRate, version: int) -> dict[str, object]:
    effective_from = date_from_proto(rate.effective_from)
    if not rate.currency_code or effective_from is None or not rate.rate:
        raise MalformedEvent("an exchange rate needs a currency, a rate and the date it is in effect from")
    return {
        "currency": rate.currency_code,
        "effective_from": effective_from,
        "rate": rate.rate[:40],
        "base_currency": rate.base_currency_code,
        "version": version,
    }


def lead_source_row(source: leads_pb2.LeadSource, version: int) -> dict[str, object]:
    return {
        "id": source.id,
        "name": source.name[:255],
        "channel": _enum_name(leads_pb2.Channel, source.channel, _CHANNEL_PREFIX),
        "version": version,
    }


def campaign_rows(
    campaign: leads_pb2.Campaign, version: int
) -> tuple[dict[str, object], list[dict[str, object]]]:
    currency = campaign.budget.currency_code or campaign.actual_cost.currency_code
    row = {
        "id": campaign.id,
        "name": campaign.name[:255],
        "lead_source_id": campaign.lead_source_id,
        "channel": _enum_name(leads_pb2.Channel, campaign.channel, _CHANNEL_PREFIX),
        "currency": currency,
        "budget_minor": campaign.budget.amount_minor,
        "expected_cost_minor": campaign.expected_cost.amount_minor,
        "expected_revenue_minor": campaign.expected_revenue.amount_minor,
        "actual_cost_minor": campaign.actual_cost.amount_minor,
        "start_date": date_from_proto(campaign.start_date),
        "end_date": date_from_proto(campaign.end_date),
        "version": version,
    }
    costs: list[dict[str, object]] = [
        {
            "campaign_id": campaign.id,
            "cost_id": entry.id,
            "incurred_on": date_from_proto(entry.incurred_on),
            "amount_minor": entry.amount.amount_minor,
            "currency": entry.amount.currency_code or currency,
        }
        for entry in campaign.cost_entries
        if date_from_proto(entry.incurred_on) is not None
    ]
    return row, costs
