"""Use cases on lead sources, campaigns and scoring rules, on the embedded database."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from salesplane_leads.domain.duplicates import DuplicatePolicy
from salesplane_leads.domain.lead_fields import LeadFields
from salesplane_leads.domain.marketing import CampaignPlan, Channel
from salesplane_leads.domain.scoring import ScoringCriterion, ScoringRuleInput
from salesplane_leads.service_layer import leads, marketing, scoring
from salesplane_platform.errors import (
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from salesplane_platform.identity import Identity
from salesplane_platform.money import Money, MoneyInput

MISSING_ID = "0b7cc7e5-6a43-4bb4-a1c4-1e0d0f6f5b1a"


def plan(name: str = "Spring", **values: Any) -> CampaignPlan:
    merged = {
        "name": name,
        "budget": MoneyInput("EUR", 10_000_00),
        "start_date": date(2031, 3, 1),
        "end_date": date(2031, 3, 31),
        **values,
    }
    return CampaignPlan(given=frozenset(merged), **merged)


@pytest.fixture
def web(store: Any, marketer: Identity) -> Any:
    return marketing.create_lead_source(name="Web", channel=Channel.WEB, caller=marketer, uow=store.uow())


def test_a_lead_source_is_created_once_per_name_and_published(
    store: Any, marketer: Identity, web: Any
) -> None:
    with pytest.raises(FailedPrecondition) as taken:
        marketing.create_lead_source(name=" WEB ", channel=Channel.EMAIL, caller=marketer, uow=store.uow())

    assert taken.value.reason == "ALREADY_EXISTS"
    assert [s.name for s in marketing.list_lead_sources(uow=store.uow())] == ["Web"]
    [event] = store.events("lead_source")
    assert (event.aggregate_id, event.version, event.payload.lead_source.name) == (web.id, 1, "Web")


@pytest.mark.parametrize("roles", [("rep",), ("manager",)])
def test_only_marketing_and_admins_manage_sources_campaigns_costs_and_rules(
    store: Any, who: Any, web: Any, roles: tuple[str, ...]
) -> None:
    someone = who("x", *roles)
    with pytest.raises(PermissionDenied):
        marketing.create_lead_source(name="Radio", channel=Channel.OTHER, caller=someone, uow=store.uow())
    with pytest.raises(PermissionDenied):
        marketing.create_campaign(
            plan=plan(), lead_source_id=web.id, channel=None, caller=someone, uow=store.uow()
        )
    with pytest.raises(PermissionDenied):
        scoring.replace_scoring_rules(rules=[], expected_revision=0, caller=someone, uow=store.uow())


def test_a_campaign_needs_an_existing_lead_source_and_a_free_name(
    store: Any, marketer: Identity, web: Any
) -> None:
    with pytest.raises(FailedPrecondition, match="lead_source_id"):
        marketing.create_campaign(
            plan=plan(), lead_source_id=MISSING_ID, channel=None, caller=marketer, uow=store.uow()
        )
    marketing.create_campaign(
        plan=plan(), lead_source_id=web.id, channel=None, caller=marketer, uow=store.uow()
    )
    with pytest.raises(FailedPrecondition, match="exists already"):
        marketing.create_campaign(
            plan=plan("spring"), lead_source_id=web.id, channel=None, caller=marketer, uow=store.uow()
        )


def test_an_invalid_campaign_is_reported_before_permission_is_checked(store: Any, who: Any, web: Any) -> None:
    with pytest.raises(InvalidArgument) as error:
        marketing.create_campaign(
            plan=plan(end_date=date(2031, 1, 1)),
            lead_source_id=web.id,
            channel=None,
            caller=who("x", "rep"),
            uow=store.uow(),
        )
    assert [v.field for v in error.value.violations] == ["end_date"]


def test_campaigns_are_updated_with_optimistic_concurrency_and_listed_by_source(
    store: Any, marketer: Identity, web: Any
) -> None:
    spring = marketing.create_campaign(
        plan=plan(), lead_source_id=web.id, channel=None, caller=marketer, uow=store.uow()
    )
    rename = CampaignPlan(given=frozenset({"name"}), name="Spring 2031")

    renamed = marketing.update_campaign(
        campaign_id=spring.id, plan=rename, expected_version=1, caller=marketer, uow=store.uow()
    )

    assert (renamed.name, renamed.version) == ("Spring 2031", 2)
    with pytest.raises(Conflict):
        marketing.update_campaign(
            campaign_id=spring.id, plan=rename, expected_version=1, caller=marketer, uow=store.uow()
        )
    assert [c.name for c in marketing.list_campaigns(lead_source_id=web.id, uow=store.uow())] == [
        "Spring 2031"
    ]
    assert marketing.list_campaigns(lead_source_id=MISSING_ID, uow=store.uow()) == []
    with pytest.raises(NotFound):
        marketing.get_campaign(campaign_id=MISSING_ID, uow=store.uow())


def test_costs_are_recorded_once_per_request_and_published_with_the_actual_cost(
    store: Any, marketer: Identity, web: Any
) -> None:
    spring = marketing.create_campaign(
        plan=plan(), lead_source_id=web.id, channel=None, caller=marketer, uow=store.uow()
    )

    def record(request_id: str, minor: int) -> Any:
        return marketing.record_campaign_cost(
            campaign_id=spring.id,
            incurred_on=date(2031, 3, 5),
            amount=MoneyInput("EUR", minor),
            note="stand",
            request_id=request_id,
            caller=marketer,
            uow=store.uow(),
        )

    record("invoice-1", 1_200_00)
    record("invoice-1", 1_200_00)
    latest = record("invoice-2", 300_00)

    assert (latest.actual_cost, len(latest.cost_entries), latest.version) == (Money("EUR", 1_500_00), 2, 3)
    assert marketing.get_campaign(campaign_id=spring.id, uow=store.uow()) == latest
    events = store.events("campaign")
    assert [e.version for e in events] == [1, 2, 3]
    assert events[-1].payload.campaign.actual_cost.amount_minor == 1_500_00
    assert len(events[-1].payload.campaign.cost_entries) == 2


def test_the_seeded_scoring_rules_are_in_force_at_revision_one(store: Any) -> None:
    rules = scoring.get_scoring_rules(uow=store.uow())

    assert rules.revision == 1
    assert [r.id for r in rules.rules] == [
        "budget-10k-usd",
        "budget-10k-eur",
        "decision-maker",
        "influencer",
        "need-high",
        "need-medium",
        "timeline-90-days",
        "has-email",
        "has-phone",
    ]


def test_replacing_the_rules_scores_new_leads_with_them_but_leaves_existing_scores(
    store: Any, admin: Identity, marketer: Identity, web: Any
) -> None:
    def create(email: str) -> Any:
        return leads.create_lead(
            fields=LeadFields(last_name="L", email=email, lead_source_id=web.id),
            assigned_user_id="",
            policy=DuplicatePolicy.REJECT,
            request_id="",
            caller=admin,
            uow=store.uow(),
        ).lead

    before = create("a@example.com")
    rules = [
        ScoringRuleInput(
            id="web",
            description="From the web",
            criterion=ScoringCriterion.FROM_SOURCE,
            points=40,
            lead_source_id=web.id,
        )
    ]

    replaced = scoring.replace_scoring_rules(
        rules=rules, expected_revision=1, caller=marketer, uow=store.uow()
    )

    assert replaced.revision == 2
    assert create("b@example.com").score.value == 40
    assert leads.get_lead(lead_id=before.id, caller=admin, uow=store.uow()).score.value == 5
    [event] = store.events("scoring_rules")
    assert (event.aggregate_id, event.version, event.payload.rules.revision) == ("rules", 2, 2)
    with pytest.raises(Conflict):
        scoring.replace_scoring_rules(rules=rules, expected_revision=1, caller=marketer, uow=store.uow())


def test_a_rule_for_an_unknown_source_is_refused(store: Any, marketer: Identity) -> None:
    rules = [
        ScoringRuleInput(
            id="x",
            description="",
            criterion=ScoringCriterion.FROM_SOURCE,
            points=1,
            lead_source_id=MISSING_ID,
        )
    ]

    with pytest.raises(InvalidArgument) as error:
        scoring.replace_scoring_rules(rules=rules, expected_revision=0, caller=marketer, uow=store.uow())
    assert [v.field for v in error.value.violations] == ["rules[0].lead_source_id"]
