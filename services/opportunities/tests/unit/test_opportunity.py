"""The Opportunity aggregate: values, probability, best / worst case, valuation, close / reopen /
reassign / delete, and the events each change raises."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from salesplane_opportunities.domain.exchange_rates import (
    AppliedRate,
    CurrencyConverter,
    ExchangeRate,
    rate_in_effect,
)
from salesplane_opportunities.domain.opportunity import (
    ChangeKind,
    Opportunity,
    OpportunityStatus,
    ProbabilitySource,
)
from salesplane_opportunities.domain.opportunity_inputs import (
    CaseChange,
    OpportunityChanges,
    OpportunityDraft,
)
from salesplane_opportunities.domain.sales_stages import (
    DEFAULT_SALES_STAGES,
    CloseOutcome,
    SalesStage,
    SalesStageCatalog,
)
from salesplane_platform.errors import FailedPrecondition, InvalidArgument
from salesplane_platform.money import MAX_AMOUNT_MINOR, Money

STAGES = SalesStageCatalog(DEFAULT_SALES_STAGES)
NOW = datetime(2026, 2, 1, 9, 30, tzinfo=UTC)
LATER = datetime(2026, 2, 3, 9, 30, tzinfo=UTC)


class RateBook:
    """Rates in memory; counts look-ups so a test can tell when a stored rate was reused."""

    def __init__(self, *rates: ExchangeRate) -> None:
        self.rates = list(rates)
        self.lookups = 0

    def rate_on(self, currency: str, base_currency: str, on: date) -> AppliedRate | None:
        self.lookups += 1
        mine = [r for r in self.rates if (r.currency, r.base_currency) == (currency, base_currency)]
        found = rate_in_effect(mine, on)
        return None if found is None else found.applied


def rate(currency: str, value: str, effective_from: date) -> ExchangeRate:
    return ExchangeRate(currency, "USD", value, effective_from, NOW)


EUR_H1 = rate("EUR", "1.0850", date(2026, 1, 1))
EUR_H2 = rate("EUR", "1.10", date(2026, 7, 1))
JPY = rate("JPY", "0.0067", date(2026, 1, 1))


def converter(*rates: ExchangeRate) -> CurrencyConverter:
    return CurrencyConverter("USD", RateBook(*(rates or (EUR_H1, EUR_H2, JPY))))


def draft(**overrides: object) -> OpportunityDraft:
    values: dict[str, object] = dict(
        name="Acme renewal",
        owner_user_id="alice",
        amount_minor=125_000,
        currency="EUR",
        expected_close_date=date(2026, 3, 15),
        sales_stage="Qualification",
    )
    values.update(overrides)
    return OpportunityDraft(**values)  # type: ignore[arg-type]


def opened(**overrides: object) -> Opportunity:
    opportunity = Opportunity.open(draft(**overrides), STAGES, converter(), now=NOW)
    opportunity.events.clear()
    return opportunity


def update(opportunity: Opportunity, **changes: object) -> bool:
    return opportunity.apply(OpportunityChanges(**changes), STAGES, converter(), now=LATER)  # type: ignore[arg-type]


# --- creating ---------------------------------------------------------------------------------


def test_a_new_opportunity_takes_its_probability_from_the_stage_and_raises_a_created_event():
    opportunity = Opportunity.open(draft(), STAGES, converter(), now=NOW)
    assert (opportunity.probability, opportunity.probability_source) == (20, ProbabilitySource.STAGE)
    assert opportunity.version == 1 and opportunity.status is OpportunityStatus.OPEN
    [event] = opportunity.events
    assert (event.kind, event.changed_fields, event.previous_sales_stage) == (ChangeKind.CREATED, (), None)
    assert event.opportunity.version == 1


def test_a_new_opportunity_is_valued_in_the_base_currency_at_the_rate_of_its_close_date():
    opportunity = opened(amount_minor=125_000, expected_close_date=date(2026, 3, 15))
    valuation = opportunity.valuation
    assert valuation is not None
    assert (valuation.base_currency, valuation.amount_base_minor) == ("USD", 135_625)
    assert valuation.rate == AppliedRate("1.0850", date(2026, 1, 1))
    assert opened(expected_close_date=date(2026, 8, 1)).valuation.rate == AppliedRate(
        "1.10", date(2026, 7, 1)
    )


def test_a_deal_in_the_base_currency_is_valued_at_rate_one_without_an_effective_date():
    valuation = opened(currency="USD", amount_minor=4_200).valuation
    assert valuation is not None
    assert (valuation.amount_base_minor, valuation.rate) == (4_200, AppliedRate("1", None))


def test_no_rate_in_effect_on_the_close_date_is_a_failed_precondition_naming_currency_and_date():
    with pytest.raises(FailedPrecondition) as raised:
        Opportunity.open(draft(currency="GBP"), STAGES, converter(), now=NOW)
    assert "GBP" in raised.value.message and "2026-03-15" in raised.value.message
    assert raised.value.reason == "EXCHANGE_RATE_MISSING"
    with pytest.raises(FailedPrecondition):
        Opportunity.open(draft(expected_close_date=date(2025, 12, 31)), STAGES, converter(), now=NOW)


def test_every_invalid_field_is_reported_at_once():
    with pytest.raises(InvalidArgument) as raised:
        Opportunity.open(
            draft(
                name=" ",
                owner_user_id="no spaces",
                amount_minor=-1,
                currency="EURO",
                expected_close_date=None,
                sales_stage=" ",
                probability=101,
                account_name="x" * 256,
                best_case_minor=-5,
                worst_case_minor=MAX_AMOUNT_MINOR + 1,
                next_step="y" * 501,
                lead_source_id="not-a-uuid",
                campaign_id="42",
                lead_id="3F2504E0-4F89-11D3-9A0C-0305E82C3301",
            ),
            STAGES,
            converter(),
        )
    assert [v.field for v in raised.value.violations] == [
        "name",
        "owner_user_id",
        "amount.amount_minor",
        "amount.currency_code",
        "expected_close_date",
        "sales_stage",
        "probability",
        "account_name",
        "best_case_minor",
        "worst_case_minor",
        "next_step",
        "lead_source_id",
        "campaign_id",
        "lead_id",
    ]


def test_a_deal_cannot_be_created_in_a_won_or_lost_stage():
    with pytest.raises(FailedPrecondition) as raised:
        Opportunity.open(draft(sales_stage="Closed Won"), STAGES, converter())
    assert raised.value.violations[0].field == "sales_stage"
    assert "CloseOpportunity" in raised.value.violations[0].description


def test_a_well_formed_stage_the_catalog_lacks_is_refused_by_the_data_naming_the_field():
    with pytest.raises(FailedPrecondition) as raised:
        Opportunity.open(draft(sales_stage="Dreaming"), STAGES, converter())
    assert raised.value.reason == "UNKNOWN_SALES_STAGE"
    assert [v.field for v in raised.value.violations] == ["sales_stage"]


def test_an_amount_too_large_once_converted_is_invalid():
    huge = rate("EUR", "3.25", date(2026, 1, 1))
    with pytest.raises(InvalidArgument) as raised:
        Opportunity.open(draft(amount_minor=MAX_AMOUNT_MINOR), STAGES, converter(huge))
    assert raised.value.violations[0].field == "amount.amount_minor"


def test_a_converted_lead_keeps_its_links():
    lead, source, campaign = (
        "8f14e45f-ceea-4e67-a7b4-1b2c3d4e5f60",
        "c9f0f895-fb98-4b91-9a5e-2f4b6c8d0e12",
        "45c48cce-2e2d-4fbd-8a8b-3c5d7e9f1a23",
    )
    opportunity = opened(lead_id=lead, lead_source_id=source, campaign_id=campaign)
    assert (opportunity.lead_id, opportunity.lead_source_id, opportunity.campaign_id) == (
        lead,
        source,
        campaign,
    )


# --- probability --------------------------------------------------------------------------------


def test_a_stage_following_probability_moves_with_the_stage():
    opportunity = opened()
    update(opportunity, sales_stage="Negotiation/Review")
    assert (opportunity.probability, opportunity.probability_source) == (80, ProbabilitySource.STAGE)


def test_a_hand_set_probability_survives_stage_changes_until_cleared():
    opportunity = opened(probability=55)
    assert opportunity.probability_source is ProbabilitySource.MANUAL
    update(opportunity, sales_stage="Negotiation/Review")
    assert opportunity.probability == 55
    update(opportunity, probability=60)
    assert (opportunity.probability, opportunity.probability_source) == (60, ProbabilitySource.MANUAL)
    update(opportunity, probability_follows_stage=True)
    assert (opportunity.probability, opportunity.probability_source) == (80, ProbabilitySource.STAGE)
    assert opportunity.version == 4


def test_setting_and_clearing_a_probability_at_once_is_invalid():
    with pytest.raises(InvalidArgument):
        update(opened(), probability=30, probability_follows_stage=True)


def test_a_hand_set_probability_also_survives_closing():
    opportunity = opened(probability=55)
    opportunity.close(CloseOutcome.WON, "", "", STAGES, now=LATER)
    assert (opportunity.status, opportunity.probability) == (OpportunityStatus.WON, 55)


# --- best and worst case ----------------------------------------------------------------------


def test_best_and_worst_case_follow_the_amount_until_set_by_hand():
    opportunity = opened(amount_minor=100_000)
    assert (opportunity.best_case_minor, opportunity.worst_case_minor) == (100_000, 100_000)
    assert not opportunity.best_case_manual and not opportunity.worst_case_manual
    update(opportunity, amount_minor=120_000)
    assert (opportunity.best_case_minor, opportunity.worst_case_minor) == (120_000, 120_000)
    update(opportunity, best_case=CaseChange(150_000, "EUR"), worst_case=CaseChange(90_000))
    assert (opportunity.best_case_minor, opportunity.best_case_manual) == (150_000, True)
    assert (opportunity.worst_case_minor, opportunity.worst_case_manual) == (90_000, True)
    update(opportunity, amount_minor=130_000)
    assert (opportunity.best_case_minor, opportunity.worst_case_minor) == (150_000, 90_000)


def test_clearing_a_hand_set_case_makes_it_follow_the_amount_again():
    opportunity = opened(amount_minor=100_000, best_case_minor=150_000, worst_case_minor=80_000)
    assert opportunity.best_case_manual and opportunity.worst_case_manual
    update(opportunity, best_case=CaseChange(follows_amount=True))
    assert (opportunity.best_case_minor, opportunity.best_case_manual) == (100_000, False)
    assert (opportunity.worst_case_minor, opportunity.worst_case_manual) == (80_000, True)


def test_best_and_worst_case_are_valued_in_the_base_currency_too():
    valuation = opened(amount_minor=100_000, best_case_minor=200_000, worst_case_minor=50_000).valuation
    assert valuation is not None
    assert (valuation.best_case_base_minor, valuation.worst_case_base_minor) == (217_000, 54_250)


def test_a_hand_set_case_must_be_restated_when_the_currency_changes():
    opportunity = opened(best_case_minor=150_000)
    with pytest.raises(InvalidArgument) as raised:
        update(opportunity, currency="JPY", amount_minor=20_000_000)
    assert [v.field for v in raised.value.violations] == ["best_case"]
    update(opportunity, currency="JPY", amount_minor=20_000_000, best_case=CaseChange(25_000_000))
    assert (opportunity.amount, opportunity.best_case_minor) == (Money("JPY", 20_000_000), 25_000_000)
    assert opportunity.worst_case_minor == 20_000_000


def test_a_hand_set_case_in_another_currency_than_the_amount_is_invalid():
    with pytest.raises(InvalidArgument) as raised:
        update(opened(), worst_case=CaseChange(10, "USD"))
    assert raised.value.violations[0].field == "worst_case.currency_code"


# --- valuation on update ------------------------------------------------------------------------


def test_changing_the_close_date_picks_the_rate_in_effect_on_the_new_date():
    opportunity = opened(amount_minor=100_000)
    update(opportunity, expected_close_date=date(2026, 9, 30))
    assert opportunity.valuation.rate == AppliedRate("1.10", date(2026, 7, 1))
    assert opportunity.valuation.amount_base_minor == 110_000


def test_an_update_keeping_currency_and_close_date_reuses_the_stored_rate():
    book = RateBook(EUR_H1)
    rates = CurrencyConverter("USD", book)
    opportunity = Opportunity.open(draft(), STAGES, rates)
    assert book.lookups == 1
    opportunity.apply(OpportunityChanges(amount_minor=1_000, name="Renamed"), STAGES, rates)
    assert book.lookups == 1 and opportunity.valuation.amount_base_minor == 1_085
    opportunity.apply(OpportunityChanges(expected_close_date=date(2026, 4, 1)), STAGES, rates)
    assert book.lookups == 2


def test_a_rejected_update_leaves_the_opportunity_untouched():
    opportunity = opened()
    before = opportunity.snapshot()
    with pytest.raises(InvalidArgument):
        update(opportunity, name="New name", amount_minor=-5)
    with pytest.raises(FailedPrecondition):
        update(opportunity, name="New name", currency="GBP")
    assert opportunity.snapshot() == before and opportunity.events == []


# --- events -------------------------------------------------------------------------------------


def test_an_update_event_names_the_changed_contract_fields_and_the_previous_stage():
    opportunity = opened()
    update(opportunity, sales_stage="Negotiation/Review", next_step="Send the quote")
    [event] = opportunity.events
    assert event.kind is ChangeKind.UPDATED
    assert event.changed_fields == ("sales_stage", "probability", "next_step")
    assert event.previous_sales_stage == "Qualification"
    assert (event.opportunity.version, event.opportunity.updated_at) == (2, LATER)


def test_an_amount_change_lists_the_derived_fields_that_moved_with_it():
    opportunity = opened()
    update(opportunity, amount_minor=1)
    [event] = opportunity.events
    assert event.changed_fields == (
        "amount",
        "amount_base",
        "best_case",
        "worst_case",
        "best_case_base",
        "worst_case_base",
    )
    assert event.previous_sales_stage is None


def test_an_update_that_changes_nothing_raises_no_event_and_keeps_the_version():
    opportunity = opened()
    assert not update(opportunity, name="Acme renewal", currency="EUR", sales_stage="Qualification")
    assert opportunity.version == 1 and opportunity.events == []


# --- moving between open and closed -------------------------------------------------------------


def test_update_may_not_move_into_a_won_or_lost_stage():
    with pytest.raises(FailedPrecondition) as raised:
        update(opened(), sales_stage="Closed Won")
    assert "CloseOpportunity" in raised.value.message


def test_update_may_not_move_a_closed_deal_back_to_an_open_stage():
    opportunity = opened()
    opportunity.close(CloseOutcome.LOST, "Budget cut", "", STAGES, now=LATER)
    with pytest.raises(FailedPrecondition) as raised:
        update(opportunity, sales_stage="Prospecting")
    assert "ReopenOpportunity" in raised.value.message
    assert update(opportunity, next_step="Try again next year")


def test_closing_as_won_takes_the_first_won_stage_and_its_probability():
    opportunity = opened()
    assert opportunity.close(CloseOutcome.WON, "", "", STAGES, now=LATER)
    assert (opportunity.sales_stage, opportunity.status, opportunity.probability) == (
        "Closed Won",
        OpportunityStatus.WON,
        100,
    )
    assert opportunity.close_time == LATER
    [event] = opportunity.events
    assert (event.kind, event.previous_sales_stage) == (ChangeKind.CLOSED, "Qualification")
    assert event.changed_fields == ("sales_stage", "probability", "status", "close_time")


def test_closing_as_lost_requires_a_reason():
    opportunity = opened()
    with pytest.raises(InvalidArgument) as raised:
        opportunity.close(CloseOutcome.LOST, "  ", "", STAGES)
    assert raised.value.violations[0].field == "reason"
    opportunity.close(CloseOutcome.LOST, " Went with a competitor ", "", STAGES, now=LATER)
    assert (opportunity.status, opportunity.close_reason, opportunity.probability) == (
        OpportunityStatus.LOST,
        "Went with a competitor",
        0,
    )


def test_the_close_stage_must_carry_the_outcome():
    stages = SalesStageCatalog(
        [*DEFAULT_SALES_STAGES, SalesStage("Won via partner", 100, is_won=True)], revision=2
    )
    opportunity = Opportunity.open(draft(), stages, converter())
    # Well-formed names the catalog refuses: the data's answer, naming the field.
    for stage in ("Closed Lost", "Prospecting", "Nowhere"):
        with pytest.raises(FailedPrecondition) as raised:
            opportunity.close(CloseOutcome.WON, "", stage, stages)
        assert [v.field for v in raised.value.violations] == ["sales_stage"]
    opportunity.close(CloseOutcome.WON, "", "Won via partner", stages)
    assert opportunity.sales_stage == "Won via partner"


def test_closing_again_the_same_way_changes_nothing_but_closing_differently_needs_a_reopen():
    opportunity = opened()
    opportunity.close(CloseOutcome.LOST, "No budget", "", STAGES, now=LATER)
    assert not opportunity.close(CloseOutcome.LOST, "No budget", "", STAGES)
    assert opportunity.version == 2
    with pytest.raises(FailedPrecondition):
        opportunity.close(CloseOutcome.WON, "", "", STAGES)


def test_reopening_moves_to_an_open_stage_and_forgets_the_close():
    opportunity = opened()
    opportunity.close(CloseOutcome.LOST, "No budget", "", STAGES, now=LATER)
    opportunity.events.clear()
    assert opportunity.reopen("Proposal/Price Quote", STAGES, now=LATER)
    assert (opportunity.status, opportunity.probability) == (OpportunityStatus.OPEN, 65)
    assert (opportunity.close_reason, opportunity.close_time) == ("", None)
    [event] = opportunity.events
    assert (event.kind, event.previous_sales_stage) == (ChangeKind.REOPENED, "Closed Lost")


def test_only_a_closed_deal_is_reopened_and_only_into_an_open_stage():
    opportunity = opened()
    with pytest.raises(FailedPrecondition):
        opportunity.reopen("Prospecting", STAGES)
    opportunity.close(CloseOutcome.WON, "", "", STAGES)
    with pytest.raises(InvalidArgument):
        opportunity.reopen("", STAGES)
    for stage in ("Closed Lost", "Nowhere"):
        with pytest.raises(FailedPrecondition) as raised:
            opportunity.reopen(stage, STAGES)
        assert raised.value.reason == "UNKNOWN_SALES_STAGE"


# --- reassign and delete ------------------------------------------------------------------------


def test_reassigning_changes_the_owner_with_a_reassigned_event():
    opportunity = opened()
    assert opportunity.reassign("bob", now=LATER)
    [event] = opportunity.events
    assert (event.kind, event.changed_fields) == (ChangeKind.REASSIGNED, ("owner_user_id",))
    assert not opportunity.reassign("bob")
    with pytest.raises(InvalidArgument) as raised:
        opportunity.reassign("not a user")
    assert raised.value.violations[0].field == "new_owner_user_id"


def test_deleting_raises_a_final_event_with_the_last_state_under_the_next_version():
    opportunity = opened()
    opportunity.delete(now=LATER)
    [event] = opportunity.events
    assert (event.kind, event.opportunity.version, event.opportunity.name) == (
        ChangeKind.DELETED,
        2,
        "Acme renewal",
    )


# --- revaluation by configuration changes ------------------------------------------------------


def test_a_new_stage_default_revalues_open_stage_following_deals_only():
    changed = SalesStageCatalog(
        [
            SalesStage(
                s.name, 33 if s.name == "Qualification" else s.default_probability, s.is_won, s.is_lost
            )
            for s in DEFAULT_SALES_STAGES
        ],
        revision=2,
    )
    following, manual = opened(), opened(probability=70)
    assert following.follow_stage_default(changed, now=LATER)
    assert following.probability == 33
    [event] = following.events
    assert (event.kind, event.changed_fields) == (ChangeKind.REVALUED, ("probability",))
    assert not manual.follow_stage_default(changed)
    assert manual.probability == 70


def test_revaluing_with_a_new_rate_raises_a_revalued_event():
    opportunity = opened(amount_minor=100_000)
    assert opportunity.revalue(AppliedRate("1.2", date(2026, 3, 1)), converter(), now=LATER)
    assert opportunity.valuation.amount_base_minor == 120_000
    [event] = opportunity.events
    assert event.kind is ChangeKind.REVALUED
    assert "amount_base" in event.changed_fields and "exchange_rate_effective_date" in event.changed_fields
    assert not opportunity.revalue(AppliedRate("1.2", date(2026, 3, 1)), converter())


def test_a_rate_that_would_overflow_a_deal_is_refused():
    opportunity = opened(currency="JPY", amount_minor=MAX_AMOUNT_MINOR)
    with pytest.raises(FailedPrecondition):
        opportunity.revalue(AppliedRate("999999999999", date(2026, 3, 1)), converter())
    assert opportunity.events == []


def test_control_characters_are_refused_but_next_steps_may_span_lines():
    with pytest.raises(InvalidArgument) as raised:
        Opportunity.open(draft(name="Ac\x00me", account_name="Tab\there"), STAGES, converter())
    assert [v.field for v in raised.value.violations] == ["name", "account_name"]
    assert opened(next_step="Call\nthen\tmail").next_step == "Call\nthen\tmail"
    opportunity = opened()
    with pytest.raises(InvalidArgument):
        opportunity.close(CloseOutcome.LOST, "bad\x00reason", "", STAGES)
    with pytest.raises(InvalidArgument):
        update(opportunity, next_step="nul\x00")
