from datetime import date

import pytest

from salesplane_opportunities.domain.opportunity import (
    ChangeKind,
    Opportunity,
    OpportunityChanges,
    OpportunityDraft,
    OpportunityStatus,
    ProbabilitySource,
)
from salesplane_opportunities.domain.sales_stages import DEFAULT_SALES_STAGES, SalesStageCatalog
from salesplane_platform.errors import InvalidArgument

STAGES = SalesStageCatalog(DEFAULT_SALES_STAGES)


def draft(**overrides) -> OpportunityDraft:
    values = dict(
        name="Acme renewal",
        owner_user_id="alice",
        amount_minor=125_000,
        currency="EUR",
        expected_close_date=date(2026, 12, 15),
        sales_stage="Qualification",
    )
    values.update(overrides)
    return OpportunityDraft(**values)


def test_a_new_opportunity_takes_its_probability_from_the_stage_and_raises_a_created_event():
    opportunity = Opportunity.open(draft(), STAGES)
    assert (opportunity.probability, opportunity.probability_source) == (20, ProbabilitySource.STAGE)
    assert opportunity.version == 1 and opportunity.status is OpportunityStatus.OPEN
    assert [e.kind for e in opportunity.events] == [ChangeKind.CREATED]


def test_every_invalid_field_is_reported_at_once():
    with pytest.raises(InvalidArgument) as raised:
        Opportunity.open(
            draft(
                name=" ",
                owner_user_id="no spaces",
                amount_minor=-1,
                currency="EURO",
                expected_close_date=None,
                sales_stage="Dreaming",
                probability=101,
            ),
            STAGES,
        )
    fields = [v.field for v in raised.value.violations]
    assert fields == [
        "name",
        "owner_user_id",
        "amount.amount_minor",
        "amount.currency_code",
        "expected_close_date",
        "sales_stage",
        "probability",
    ]


def test_a_hand_set_probability_survives_stage_changes_until_cleared():
    opportunity = Opportunity.open(draft(probability=55), STAGES)
    assert opportunity.probability_source is ProbabilitySource.MANUAL
    opportunity.apply(OpportunityChanges(sales_stage="Negotiation/Review"), STAGES)
    assert opportunity.probability == 55
    opportunity.apply(OpportunityChanges(probability_follows_stage=True), STAGES)
    assert (opportunity.probability, opportunity.probability_source) == (80, ProbabilitySource.STAGE)
    assert opportunity.version == 3


def test_closing_won_or_lost_sets_the_status_and_the_stage_probability():
    opportunity = Opportunity.open(draft(), STAGES)
    opportunity.apply(OpportunityChanges(sales_stage="Closed Won"), STAGES)
    assert (opportunity.status, opportunity.probability) == (OpportunityStatus.WON, 100)
    opportunity.apply(OpportunityChanges(sales_stage="Closed Lost"), STAGES)
    assert (opportunity.status, opportunity.probability) == (OpportunityStatus.LOST, 0)


def test_an_update_that_changes_nothing_raises_no_event_and_keeps_the_version():
    opportunity = Opportunity.open(draft(), STAGES)
    opportunity.events.clear()
    assert not opportunity.apply(OpportunityChanges(name="Acme renewal", currency="EUR"), STAGES)
    assert opportunity.version == 1 and opportunity.events == []


def test_a_rejected_update_leaves_the_opportunity_untouched():
    opportunity = Opportunity.open(draft(), STAGES)
    before = opportunity.snapshot()
    with pytest.raises(InvalidArgument):
        opportunity.apply(OpportunityChanges(name="New name", amount_minor=-5), STAGES)
    assert opportunity.snapshot() == before
