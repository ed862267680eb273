"""Converting a lead: the opportunity to ask the opportunities service for, with defaults from the
lead, and the record of a conversion under way.

A conversion spans two services, so it is made idempotent rather than atomic: the request id sent
to the opportunities service is derived from the lead id, so asking again (after a timeout, a
crash, or by another user) yields the same opportunity, never a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from salesplane_leads.domain.lead import Lead
from salesplane_leads.domain.money_and_dates import check_date, check_money
from salesplane_platform.errors import Validator
from salesplane_platform.identifiers import check_user_id
from salesplane_platform.money import Money, MoneyInput
from salesplane_platform.text_rules import check_text

MAX_OPPORTUNITY_NAME_LENGTH = 255
MAX_SALES_STAGE_LENGTH = 64
MAX_NEXT_STEP_LENGTH = 255


def conversion_request_id(lead_id: str) -> str:
    return f"lead-conversion:{lead_id}"


@dataclass(frozen=True)
class ConversionRequest:
    """What the caller asked for; empty values take defaults from the lead."""

    opportunity_name: str = ""
    owner_user_id: str = ""
    amount: MoneyInput | None = None
    expected_close_date: date | None = None
    # An impossible date (30 February) maps to None too; this tells it from an absent one.
    expected_close_date_given: bool = False
    sales_stage: str = ""
    next_step: str = ""


@dataclass(frozen=True)
class OpportunityOrder:
    """The CreateOpportunity call a conversion makes."""

    request_id: str
    lead_id: str
    name: str
    account_name: str
    owner_user_id: str
    amount: Money
    expected_close_date: date
    # Empty: the first open stage, which the opportunities service knows.
    sales_stage: str
    next_step: str
    lead_source_id: str
    campaign_id: str


def plan_opportunity(lead: Lead, request: ConversionRequest) -> OpportunityOrder:
    """The opportunity for this lead: named after its company (or the person), owned by its
    assignee, worth its qualified budget and closing at its qualified timeline, unless the caller
    says otherwise. Violations name ConvertLeadRequest fields."""
    qualification = lead.qualification
    account_name = lead.fields.company or lead.display_name
    check = Validator()

    name = request.opportunity_name.strip() or account_name
    check_text(check, "opportunity_name", name, MAX_OPPORTUNITY_NAME_LENGTH, required=True)

    owner = request.owner_user_id.strip() or lead.assigned_user_id
    if not owner:
        check.fail("owner_user_id", "must be set: the lead is not assigned to anyone")
    else:
        check_user_id(check, "owner_user_id", owner)

    amount = None
    if request.amount is not None:
        amount = check_money(check, "amount", request.amount)
    elif qualification is not None and qualification.budget is not None:
        amount = qualification.budget
    else:
        check.fail("amount", "must be set: the lead's qualification has no budget to take it from")

    close_date = None
    if request.expected_close_date_given:
        if check_date(check, "expected_close_date", request.expected_close_date):
            close_date = request.expected_close_date
    elif qualification is not None and qualification.timeline is not None:
        close_date = qualification.timeline
    else:
        check.fail(
            "expected_close_date", "must be set: the lead's qualification has no timeline to take it from"
        )

    sales_stage = request.sales_stage.strip()
    check_text(check, "sales_stage", sales_stage, MAX_SALES_STAGE_LENGTH)
    next_step = request.next_step.strip()
    check_text(check, "next_step", next_step, MAX_NEXT_STEP_LENGTH)
    check.raise_if_invalid()
    assert amount is not None and close_date is not None
    return OpportunityOrder(
        request_id=conversion_request_id(lead.id),
        lead_id=lead.id,
        name=name,
        account_name=account_name,
        owner_user_id=owner,
        amount=amount,
        expected_close_date=close_date,
        sales_stage=sales_stage,
        next_step=next_step,
        lead_source_id=lead.fields.lead_source_id,
        campaign_id=lead.fields.campaign_id,
    )


@dataclass(frozen=True)
class PendingConversion:
    """A conversion that has asked (or is about to ask) for its opportunity. `attempts` counts the
    calls started: while only one was ever started and it was refused, nothing can exist on the
    other side, and the lead may be released."""

    lead_id: str
    request_id: str
    requested_by: str
    attempts: int
    started_at: datetime
