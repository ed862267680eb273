"""Translation of lead sources, campaigns and scoring rules to and from the protobuf contract."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Literal

from salesplane.leads.v1 import events_pb2, leads_pb2
from salesplane_leads.adapters.contract_mapping import (
    date_from_proto,
    date_to_proto,
    enum_from_proto,
    enum_mapping,
    inverted,
    money_input,
    money_to_proto,
)
from salesplane_leads.adapters.lead_mapping import (
    AUTHORITY_FROM_PROTO,
    AUTHORITY_TO_PROTO,
    NEED_FROM_PROTO,
    NEED_TO_PROTO,
)
from salesplane_leads.domain.marketing import PLAN_FIELDS, Campaign, CampaignPlan, Channel, LeadSource
from salesplane_leads.domain.qualification import Authority, Need
from salesplane_leads.domain.scoring import ScoringCriterion, ScoringRuleInput, ScoringRules
from salesplane_platform.errors import FieldViolation, InvalidArgument, Validator
from salesplane_platform.money import MoneyInput

CHANNEL_TO_PROTO = enum_mapping(Channel, leads_pb2.Channel, "CHANNEL_")
CHANNEL_FROM_PROTO = inverted(CHANNEL_TO_PROTO)
CRITERION_TO_PROTO = enum_mapping(ScoringCriterion, leads_pb2.ScoringCriterion, "SCORING_CRITERION_")
CRITERION_FROM_PROTO = inverted(CRITERION_TO_PROTO)

# The plannable fields that are sub-messages in the contract, so HasField shows whether they were sent.
_MoneyField = Literal["budget", "expected_cost", "expected_revenue"]
_DateField = Literal["start_date", "end_date"]


def channel_from_proto(check: Validator, field: str, number: leads_pb2.Channel.ValueType) -> Channel | None:
    """None for CHANNEL_UNSPECIFIED (callers decide whether that is allowed)."""
    if number == leads_pb2.CHANNEL_UNSPECIFIED:
        return None
    return enum_from_proto(check, field, CHANNEL_FROM_PROTO, number)


def lead_source_to_proto(source: LeadSource) -> leads_pb2.LeadSource:
    message = leads_pb2.LeadSource(
        id=source.id, name=source.name, channel=CHANNEL_TO_PROTO[source.channel], version=source.version
    )
    message.create_time.FromDatetime(source.created_at)
    return message


def campaign_to_proto(campaign: Campaign) -> leads_pb2.Campaign:
    message = leads_pb2.Campaign(
        id=campaign.id,
        name=campaign.name,
        lead_source_id=campaign.lead_source_id,
        channel=CHANNEL_TO_PROTO[campaign.channel],
        budget=money_to_proto(campaign.budget),
        actual_cost=money_to_proto(campaign.actual_cost),
        start_date=date_to_proto(campaign.start_date),
        end_date=date_to_proto(campaign.end_date),
        version=campaign.version,
    )
    if campaign.expected_cost is not None:
        message.expected_cost.CopyFrom(money_to_proto(campaign.expected_cost))
    if campaign.expected_revenue is not None:
        message.expected_revenue.CopyFrom(money_to_proto(campaign.expected_revenue))
    for entry in campaign.cost_entries:
        cost = message.cost_entries.add(
            id=entry.id,
            incurred_on=date_to_proto(entry.incurred_on),
            amount=money_to_proto(entry.amount),
            note=entry.note,
        )
        cost.record_time.FromDatetime(entry.recorded_at)
    message.create_time.FromDatetime(campaign.created_at)
    message.update_time.FromDatetime(campaign.updated_at)
    return message


def plan_from_create(request: leads_pb2.CreateCampaignRequest) -> CampaignPlan:
    given = {name for name in PLAN_FIELDS if name == "name" or request.HasField(name)}
    return _plan(request, frozenset(given))


def plan_from_update(request: leads_pb2.UpdateCampaignRequest) -> CampaignPlan:
    """Only the masked paths count; naming expected_cost or expected_revenue with the value unset
    clears it."""
    paths = set(request.update_mask.paths)
    if not paths:
        raise InvalidArgument(FieldViolation("update_mask", "must name at least one field to change"))
    if unknown := paths - set(PLAN_FIELDS):
        raise InvalidArgument(
            FieldViolation(
                "update_mask", f"unknown or read-only paths {sorted(unknown)}; use {', '.join(PLAN_FIELDS)}"
            )
        )
    return _plan(request.campaign, frozenset(paths))


def _plan(
    message: leads_pb2.CreateCampaignRequest | leads_pb2.Campaign, given: frozenset[str]
) -> CampaignPlan:
    """The plan in a CreateCampaignRequest or a Campaign, which name the plannable fields alike."""

    def money(name: _MoneyField) -> MoneyInput | None:
        return money_input(getattr(message, name)) if message.HasField(name) else None

    def day(name: _DateField) -> date | None:
        return date_from_proto(getattr(message, name)) if message.HasField(name) else None

    return CampaignPlan(
        given=given,
        name=message.name,
        budget=money("budget"),
        expected_cost=money("expected_cost"),
        expected_revenue=money("expected_revenue"),
        start_date=day("start_date"),
        end_date=day("end_date"),
    )


def scoring_rules_to_proto(rules: ScoringRules) -> leads_pb2.ScoringRules:
    message = leads_pb2.ScoringRules(revision=rules.revision)
    for rule in rules.rules:
        added = message.rules.add(
            id=rule.id,
            description=rule.description,
            criterion=CRITERION_TO_PROTO[rule.criterion],
            points=rule.points,
            authority=AUTHORITY_TO_PROTO[rule.authority],
            need=NEED_TO_PROTO[rule.need],
            within_days=rule.within_days,
            lead_source_id=rule.lead_source_id,
        )
        if rule.min_budget is not None:
            added.min_budget.CopyFrom(money_to_proto(rule.min_budget))
    return message


def rule_inputs_from_proto(rules: Iterable[leads_pb2.ScoringRule]) -> list[ScoringRuleInput]:
    check = Validator()
    inputs = []
    for index, rule in enumerate(rules):
        criterion = None
        if rule.criterion != leads_pb2.SCORING_CRITERION_UNSPECIFIED:
            criterion = enum_from_proto(
                check, f"rules[{index}].criterion", CRITERION_FROM_PROTO, rule.criterion
            )
        authority = enum_from_proto(check, f"rules[{index}].authority", AUTHORITY_FROM_PROTO, rule.authority)
        need = enum_from_proto(check, f"rules[{index}].need", NEED_FROM_PROTO, rule.need)
        inputs.append(
            ScoringRuleInput(
                id=rule.id,
                description=rule.description,
                criterion=criterion,
                points=rule.points,
                min_budget=money_input(rule.min_budget) if rule.HasField("min_budget") else None,
                authority=authority or Authority.UNKNOWN,
                need=need or Need.UNKNOWN,
                within_days=rule.within_days,
                lead_source_id=rule.lead_source_id,
            )
        )
    check.raise_if_invalid()
    return inputs


def lead_source_event(source: LeadSource) -> events_pb2.LeadSourceChanged:
    return events_pb2.LeadSourceChanged(lead_source=lead_source_to_proto(source))


def campaign_event(campaign: Campaign) -> events_pb2.CampaignChanged:
    return events_pb2.CampaignChanged(campaign=campaign_to_proto(campaign))


def scoring_rules_event(rules: ScoringRules) -> events_pb2.ScoringRulesChanged:
    return events_pb2.ScoringRulesChanged(rules=scoring_rules_to_proto(rules))
