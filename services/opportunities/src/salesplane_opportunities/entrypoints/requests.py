"""Protobuf requests -> domain inputs. Only translation and the checks that need the wire form
(field masks, enum values, dates set but impossible); the domain checks the values."""

from __future__ import annotations

from datetime import date

from salesplane.common.v1.common_pb2 import Date
from salesplane.opportunities.v1 import opportunities_pb2 as pb
from salesplane_opportunities.adapters.opportunity_mapping import STATUSES
from salesplane_opportunities.domain.listing import OpportunityFilter, OrderField
from salesplane_opportunities.domain.opportunity_inputs import (
    CaseChange,
    OpportunityChanges,
    OpportunityDraft,
)
from salesplane_opportunities.domain.sales_stages import CloseOutcome, SalesStage
from salesplane_platform.errors import FieldViolation, InvalidArgument, Validator
from salesplane_platform.proto_values import date_from_proto

UPDATABLE_PATHS = frozenset(
    {
        "name",
        "account_name",
        "owner_user_id",
        "amount",
        "amount.amount_minor",
        "amount.currency_code",
        "expected_close_date",
        "sales_stage",
        "probability",
        "best_case",
        "worst_case",
        "next_step",
        "lead_source_id",
        "campaign_id",
    }
)
_STATUSES_FROM_PROTO = {wire: status for status, wire in STATUSES.items()}
_ORDER_FIELDS = {
    pb.OPPORTUNITY_ORDER_FIELD_UNSPECIFIED: OrderField.EXPECTED_CLOSE_DATE,
    pb.OPPORTUNITY_ORDER_FIELD_EXPECTED_CLOSE_DATE: OrderField.EXPECTED_CLOSE_DATE,
    pb.OPPORTUNITY_ORDER_FIELD_AMOUNT_BASE: OrderField.AMOUNT_BASE,
    pb.OPPORTUNITY_ORDER_FIELD_NAME: OrderField.NAME,
    pb.OPPORTUNITY_ORDER_FIELD_UPDATE_TIME: OrderField.UPDATE_TIME,
    pb.OPPORTUNITY_ORDER_FIELD_PROBABILITY: OrderField.PROBABILITY,
}
_OUTCOMES: dict[int, CloseOutcome] = {
    pb.CLOSE_OUTCOME_WON: CloseOutcome.WON,
    pb.CLOSE_OUTCOME_LOST: CloseOutcome.LOST,
}


def draft_from(request: pb.CreateOpportunityRequest) -> OpportunityDraft:
    return OpportunityDraft(
        name=request.name,
        owner_user_id=request.owner_user_id,
        amount_minor=request.amount.amount_minor,
        currency=request.amount.currency_code,
        expected_close_date=date_from_proto(request.expected_close_date),
        sales_stage=request.sales_stage,
        probability=request.probability if request.HasField("probability") else None,
        account_name=request.account_name,
        best_case_minor=request.best_case_minor if request.HasField("best_case_minor") else None,
        worst_case_minor=request.worst_case_minor if request.HasField("worst_case_minor") else None,
        next_step=request.next_step,
        lead_source_id=request.lead_source_id,
        campaign_id=request.campaign_id,
        lead_id=request.lead_id,
    )


def changes_from(request: pb.UpdateOpportunityRequest) -> OpportunityChanges:
    paths = set(request.update_mask.paths)
    if not paths:
        raise InvalidArgument(FieldViolation("update_mask", "must name at least one field to change"))
    if unknown := paths - UPDATABLE_PATHS:
        raise InvalidArgument(
            FieldViolation(
                "update_mask", f"unknown or read-only paths {sorted(unknown)}; use {sorted(UPDATABLE_PATHS)}"
            )
        )
    new = request.opportunity
    amount_minor = currency = None
    if paths & {"amount", "amount.amount_minor"}:
        amount_minor = new.amount.amount_minor
    if paths & {"amount", "amount.currency_code"}:
        currency = new.amount.currency_code
    expected_close_date = None
    if "expected_close_date" in paths:
        expected_close_date = date_from_proto(new.expected_close_date)
        if expected_close_date is None:
            raise InvalidArgument(FieldViolation("expected_close_date", "must be a valid calendar date"))
    follows_stage = "probability" in paths and new.probability_source == pb.PROBABILITY_SOURCE_STAGE

    def text(path: str) -> str | None:
        return getattr(new, path) if path in paths else None

    return OpportunityChanges(
        name=text("name"),
        account_name=text("account_name"),
        owner_user_id=text("owner_user_id"),
        amount_minor=amount_minor,
        currency=currency,
        expected_close_date=expected_close_date,
        sales_stage=text("sales_stage"),
        probability=new.probability if "probability" in paths and not follows_stage else None,
        probability_follows_stage=follows_stage,
        best_case=_case(new.best_case.amount_minor, new.best_case.currency_code, new.best_case_manual)
        if "best_case" in paths
        else None,
        worst_case=_case(new.worst_case.amount_minor, new.worst_case.currency_code, new.worst_case_manual)
        if "worst_case" in paths
        else None,
        next_step=text("next_step"),
        lead_source_id=text("lead_source_id"),
        campaign_id=text("campaign_id"),
    )


def _case(amount_minor: int, currency: str, manual: bool) -> CaseChange:
    """Named in the mask with *_manual false: follow the amount again."""
    if not manual:
        return CaseChange(follows_amount=True)
    return CaseChange(amount_minor=amount_minor, currency=currency)


def filter_from(request: pb.ListOpportunitiesRequest) -> OpportunityFilter:
    check = Validator()
    statuses = []
    for index, wire in enumerate(request.statuses):
        status = _STATUSES_FROM_PROTO.get(wire)
        if status is None:
            check.fail(f"statuses[{index}]", "must be OPEN, WON or LOST")
        else:
            statuses.append(status)
    order = _ORDER_FIELDS.get(request.order_by)
    if order is None:
        check.fail("order_by", "is not a known order field")
    close_from = _optional_date(check, request, "close_date_from")
    close_to = _optional_date(check, request, "close_date_to")
    check.raise_if_invalid()
    assert order is not None
    return OpportunityFilter(
        owner_user_ids=tuple(request.owner_user_ids),
        sales_stages=tuple(request.sales_stages),
        statuses=tuple(statuses),
        close_date_from=close_from,
        close_date_to=close_to,
        amount_base_min=request.amount_base_min if request.HasField("amount_base_min") else None,
        amount_base_max=request.amount_base_max if request.HasField("amount_base_max") else None,
        text=request.text,
        lead_id=request.lead_id,
        campaign_id=request.campaign_id,
        order_by=order,
        descending=request.descending,
    )


def outcome_from(wire: int) -> CloseOutcome | None:
    return _OUTCOMES.get(wire)


def stages_from(request: pb.ReplaceSalesStagesRequest) -> list[SalesStage]:
    """The list's order is the stages' order; the `order` field of each stage is not read."""
    return [
        SalesStage(s.name, s.default_probability, is_won=s.is_won, is_lost=s.is_lost)
        for s in request.sales_stages
    ]


def effective_date_from(request: pb.SetExchangeRateRequest) -> date | None:
    return date_from_proto(request.effective_from) if request.HasField("effective_from") else None


def _optional_date(check: Validator, request: pb.ListOpportunitiesRequest, field: str) -> date | None:
    wire: Date = getattr(request, field)
    if wire == Date():  # absent, or sent empty
        return None
    value = date_from_proto(wire)
    check.require(value is not None, field, "must be a valid calendar date")
    return value
