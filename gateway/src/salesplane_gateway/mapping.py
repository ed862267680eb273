"""Explicit, small translations between the protobuf contracts and the HTTP JSON shapes.

JSON conventions: field names as in the protos (snake_case); money as
`{"currency_code": "EUR", "amount_minor": 100000}` with `amount_minor` a JSON integer (never a string,
never a float); dates as "YYYY-MM-DD"; timestamps RFC 3339 in UTC; enums as lower-case names without
their prefix ("stage", "in_process"); ids as strings.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from salesplane.common.v1 import common_pb2
from salesplane.forecasting.v1 import forecasting_pb2
from salesplane.leads.v1 import leads_pb2
from salesplane.opportunities.v1 import opportunities_pb2
from salesplane.reporting.v1 import reporting_pb2
from salesplane_gateway.json_input import INT32_MAX, INT32_MIN, Fields

# ---------------------------------------------------------------------------------------------
# Protobuf -> JSON
# ---------------------------------------------------------------------------------------------


def money_json(money: common_pb2.Money) -> dict[str, Any]:
    return {"currency_code": money.currency_code, "amount_minor": int(money.amount_minor)}


def date_json(value: common_pb2.Date) -> str | None:
    if value.year == 0 and value.month == 0 and value.day == 0:
        return None
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def timestamp_json(message: Message, field: str) -> str | None:
    """RFC 3339 (UTC, `Z`), or None when the field is unset."""
    if not message.HasField(field):
        return None
    value: Timestamp = getattr(message, field)
    return value.ToJsonString()


def enum_json(enum: EnumTypeWrapper, value: int, prefix: str) -> str | None:
    """`PROBABILITY_SOURCE_STAGE` -> "stage"; None for the unspecified (zero) or an unknown value."""
    if value == 0:
        return None
    try:
        name = enum.Name(value)
    except ValueError:
        return None
    return name.removeprefix(prefix).lower()


def opportunity_json(opportunity: opportunities_pb2.Opportunity) -> dict[str, Any]:
    return {
        "id": opportunity.id,
        "name": opportunity.name,
        "owner_user_id": opportunity.owner_user_id,
        "amount": money_json(opportunity.amount),
        "expected_close_date": date_json(opportunity.expected_close_date),
        "sales_stage": opportunity.sales_stage,
        "probability": opportunity.probability,
        "probability_source": enum_json(
            opportunities_pb2.ProbabilitySource, opportunity.probability_source, "PROBABILITY_SOURCE_"
        ),
        "status": enum_json(opportunities_pb2.OpportunityStatus, opportunity.status, "OPPORTUNITY_STATUS_"),
        "version": int(opportunity.version),
        "create_time": timestamp_json(opportunity, "create_time"),
        "update_time": timestamp_json(opportunity, "update_time"),
    }


def sales_stages_json(response: opportunities_pb2.ListSalesStagesResponse) -> dict[str, Any]:
    return {
        "sales_stages": [
            {
                "name": stage.name,
                "default_probability": stage.default_probability,
                "is_won": stage.is_won,
                "is_lost": stage.is_lost,
                "order": stage.order,
            }
            for stage in response.sales_stages
        ]
    }


def lead_json(lead: leads_pb2.Lead) -> dict[str, Any]:
    return {
        "id": lead.id,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "company": lead.company,
        "email": lead.email,
        "phone": lead.phone,
        "status": enum_json(leads_pb2.LeadStatus, lead.status, "LEAD_STATUS_"),
        "assigned_user_id": lead.assigned_user_id,
        "lead_source": lead.lead_source,
        "version": int(lead.version),
        "create_time": timestamp_json(lead, "create_time"),
        "update_time": timestamp_json(lead, "update_time"),
    }


def rollup_json(rollup: forecasting_pb2.Rollup) -> dict[str, Any]:
    return {
        "user_id": rollup.user_id,
        "period_id": rollup.period_id,
        "lines": [
            {
                "currency_code": line.currency_code,
                "opportunity_count": int(line.opportunity_count),
                "amount": money_json(line.amount),
                "weighted_amount": money_json(line.weighted_amount),
            }
            for line in rollup.lines
        ],
        "update_time": timestamp_json(rollup, "update_time"),
    }


def reports_json(response: reporting_pb2.ListReportsResponse) -> dict[str, Any]:
    return {
        "reports": [
            {"id": report.id, "title": report.title, "description": report.description}
            for report in response.reports
        ]
    }


# ---------------------------------------------------------------------------------------------
# JSON -> Protobuf
# ---------------------------------------------------------------------------------------------

OPPORTUNITY_CREATE_FIELDS = (
    "name",
    "owner_user_id",
    "amount",
    "expected_close_date",
    "sales_stage",
    "probability",
)
OPPORTUNITY_PATCH_FIELDS = (
    "name",
    "owner_user_id",
    "amount",
    "expected_close_date",
    "sales_stage",
    "probability",
    "expected_version",
)
MONEY_FIELDS = ("currency_code", "amount_minor")
LEAD_CREATE_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "email",
    "phone",
    "assigned_user_id",
    "lead_source",
)


def create_opportunity_request(
    body: dict[str, Any], caller: str
) -> opportunities_pb2.CreateOpportunityRequest:
    """A new opportunity; an absent or null `owner_user_id` defaults to the caller, an absent or null
    `probability` makes it follow the sales stage."""
    fields = Fields(body)
    fields.reject_unknown(OPPORTUNITY_CREATE_FIELDS)
    name = fields.string("name", required=True)
    owner = fields.string("owner_user_id", nullable=True)
    amount = fields.object("amount", required=True)
    currency = minor = None
    if amount is not None:
        amount.reject_unknown(MONEY_FIELDS)
        currency = amount.string("currency_code", required=True)
        minor = amount.integer("amount_minor", required=True)
    close_date = fields.date("expected_close_date", required=True)
    stage = fields.string("sales_stage", required=True)
    probability = fields.integer("probability", nullable=True, minimum=INT32_MIN, maximum=INT32_MAX)
    fields.raise_if_invalid()
    request = opportunities_pb2.CreateOpportunityRequest(
        name=name or "",
        owner_user_id=owner if owner is not None else caller,
        amount=common_pb2.Money(currency_code=currency or "", amount_minor=minor or 0),
        expected_close_date=close_date,
        sales_stage=stage or "",
    )
    if probability is not None:
        request.probability = probability
    return request


def update_opportunity_request(
    opportunity_id: str, body: dict[str, Any], if_match_version: int | None
) -> opportunities_pb2.UpdateOpportunityRequest:
    """JSON merge-patch style: the members present form the update mask. `"probability": null`
    clears a hand-set probability (it follows the stage again); `amount` may carry either or both
    of its members. The expected version comes from If-Match or `expected_version`."""
    fields = Fields(body)
    fields.reject_unknown(OPPORTUNITY_PATCH_FIELDS)
    request = opportunities_pb2.UpdateOpportunityRequest()
    new = request.opportunity
    new.id = opportunity_id
    paths: list[str] = []
    for key in ("name", "owner_user_id", "sales_stage"):
        if fields.has(key) and (value := fields.string(key)) is not None:
            setattr(new, key, value)
            paths.append(key)
    if fields.has("amount") and (amount := fields.object("amount")) is not None:
        amount.reject_unknown(MONEY_FIELDS)
        if not any(amount.has(key) for key in MONEY_FIELDS):
            fields.fail("amount", "must contain currency_code and/or amount_minor")
        if amount.has("currency_code") and (currency := amount.string("currency_code")) is not None:
            new.amount.currency_code = currency
            paths.append("amount.currency_code")
        if amount.has("amount_minor") and (minor := amount.integer("amount_minor")) is not None:
            new.amount.amount_minor = minor
            paths.append("amount.amount_minor")
    if fields.has("expected_close_date") and (close_date := fields.date("expected_close_date")) is not None:
        new.expected_close_date.CopyFrom(close_date)
        paths.append("expected_close_date")
    if fields.has("probability"):
        if body["probability"] is None:
            new.probability_source = opportunities_pb2.PROBABILITY_SOURCE_STAGE
            paths.append("probability")
        elif (probability := fields.integer("probability", minimum=INT32_MIN, maximum=INT32_MAX)) is not None:
            new.probability = probability
            new.probability_source = opportunities_pb2.PROBABILITY_SOURCE_MANUAL
            paths.append("probability")
    body_version = fields.integer("expected_version", minimum=1)
    if body_version is not None and if_match_version is not None and body_version != if_match_version:
        fields.fail("expected_version", "disagrees with the If-Match header")
    if not fields.errors and not paths:
        fields.fail(
            "body",
            f"must change at least one of {sorted(set(OPPORTUNITY_PATCH_FIELDS) - {'expected_version'})}",
        )
    fields.raise_if_invalid()
    request.update_mask.paths.extend(paths)
    expected = if_match_version if if_match_version is not None else body_version
    if expected is not None:
        request.expected_version = expected
    return request


def create_lead_request(body: dict[str, Any]) -> leads_pb2.CreateLeadRequest:
    fields = Fields(body)
    fields.reject_unknown(LEAD_CREATE_FIELDS)
    values = {key: fields.string(key, nullable=True) for key in LEAD_CREATE_FIELDS}
    fields.raise_if_invalid()
    return leads_pb2.CreateLeadRequest(**{key: value for key, value in values.items() if value is not None})
