"""Lead sources and campaigns: names, channels, one currency per campaign, dates, and cost entries."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from salesplane_leads.domain.marketing import (
    PLAN_FIELDS,
    Campaign,
    CampaignPlan,
    Channel,
    LeadSource,
    name_key,
)
from salesplane_platform.errors import Conflict, FailedPrecondition, InvalidArgument
from salesplane_platform.money import Money, MoneyInput

NOW = datetime(2031, 5, 17, tzinfo=UTC)
WEB = LeadSource("0b7cc7e5-6a43-4bb4-a1c4-1e0d0f6f5b1a", "Web", Channel.WEB, 1, NOW)


def plan(**values: object) -> CampaignPlan:
    defaults: dict[str, object] = {
        "name": "Spring fair",
        "budget": MoneyInput("EUR", 10_000_00),
        "start_date": date(2031, 3, 1),
        "end_date": date(2031, 3, 31),
    }
    merged = {**defaults, **values}
    given = frozenset(name for name in PLAN_FIELDS if merged.get(name) is not None)
    return CampaignPlan(given=given, **merged)  # type: ignore[arg-type]


def campaign(**values: object) -> Campaign:
    created = Campaign.create(plan=plan(**values), source=WEB, channel=None, now=NOW)
    created.events.clear()
    return created


def violations(action: object) -> list[str]:
    with pytest.raises(InvalidArgument) as error:
        action()  # type: ignore[operator]
    return [v.field for v in error.value.violations]


def test_a_lead_source_has_a_name_and_a_channel_and_announces_itself() -> None:
    source = LeadSource.create(name="  Trade show ", channel=Channel.EVENT, now=NOW)

    assert (source.name, source.channel, source.version) == ("Trade show", Channel.EVENT, 1)
    assert [e.lead_source for e in source.events] == [source]


def test_a_lead_source_needs_a_name_and_a_channel() -> None:
    assert violations(lambda: LeadSource.create(name=" ", channel=None)) == ["name", "channel"]
    assert violations(lambda: LeadSource.create(name="x" * 101, channel=Channel.WEB)) == ["name"]


def test_names_are_unique_case_insensitively_by_their_key() -> None:
    assert name_key("  Spring   FAIR ") == name_key("spring fair")


def test_a_campaign_takes_its_sources_channel_unless_given_one() -> None:
    assert campaign().channel is Channel.WEB
    assert Campaign.create(plan=plan(), source=WEB, channel=Channel.SOCIAL).channel is Channel.SOCIAL


def test_a_new_campaign_has_no_cost_yet_and_announces_itself_at_version_one() -> None:
    created = Campaign.create(
        plan=plan(expected_revenue=MoneyInput("EUR", 50_000_00)), source=WEB, channel=None
    )

    assert created.actual_cost == Money("EUR", 0)
    assert created.expected_revenue == Money("EUR", 50_000_00)
    assert created.expected_cost is None
    assert [(e.campaign.version, e.campaign.name) for e in created.events] == [(1, "Spring fair")]


def test_a_campaign_needs_a_name_a_budget_and_both_dates() -> None:
    empty = CampaignPlan(given=frozenset({"name"}))
    assert violations(lambda: Campaign.create(plan=empty, source=WEB, channel=None)) == [
        "name",
        "budget",
        "start_date",
        "end_date",
    ]


def test_all_money_of_a_campaign_is_in_the_budgets_currency() -> None:
    assert violations(
        lambda: campaign(expected_cost=MoneyInput("USD", 1), expected_revenue=MoneyInput("GBP", 1))
    ) == ["expected_cost.currency_code", "expected_revenue.currency_code"]


def test_amounts_must_be_valid_money() -> None:
    assert violations(lambda: campaign(budget=MoneyInput("EUR", -1), expected_cost=MoneyInput("ZZZ", 1))) == [
        "budget.amount_minor",
        "expected_cost.currency_code",
    ]


def test_a_campaign_cannot_end_before_it_starts() -> None:
    assert violations(lambda: campaign(end_date=date(2031, 2, 28))) == ["end_date"]
    assert campaign(end_date=date(2031, 3, 1)).end_date == date(2031, 3, 1)


def test_revising_changes_only_the_given_values_and_bumps_the_version() -> None:
    spring = campaign(expected_cost=MoneyInput("EUR", 5_000_00))

    changed = spring.revise(
        CampaignPlan(
            given=frozenset({"name", "end_date"}), name="Spring fair 2031", end_date=date(2031, 4, 30)
        )
    )

    assert changed
    assert (spring.name, spring.end_date, spring.start_date, spring.version) == (
        "Spring fair 2031",
        date(2031, 4, 30),
        date(2031, 3, 1),
        2,
    )
    assert spring.expected_cost == Money("EUR", 5_000_00)
    assert len(spring.events) == 1


def test_a_revision_that_changes_nothing_raises_no_event() -> None:
    spring = campaign()

    assert not spring.revise(CampaignPlan(given=frozenset({"name"}), name="Spring fair"))
    assert (spring.version, spring.events) == (1, [])


def test_naming_an_expected_amount_without_a_value_clears_it() -> None:
    spring = campaign(expected_cost=MoneyInput("EUR", 5_000_00))

    spring.revise(CampaignPlan(given=frozenset({"expected_cost"})))

    assert spring.expected_cost is None


def test_a_revised_end_date_is_checked_against_the_stored_start() -> None:
    assert violations(
        lambda: campaign().revise(CampaignPlan(given=frozenset({"end_date"}), end_date=date(2031, 1, 1)))
    ) == ["end_date"]


def test_the_budget_currency_cannot_change_alone_when_other_amounts_are_set() -> None:
    spring = campaign(expected_cost=MoneyInput("EUR", 1))

    assert violations(
        lambda: spring.revise(CampaignPlan(given=frozenset({"budget"}), budget=MoneyInput("USD", 1)))
    ) == ["expected_cost.currency_code"]
    spring.revise(
        CampaignPlan(
            given=frozenset({"budget", "expected_cost"}),
            budget=MoneyInput("USD", 1),
            expected_cost=MoneyInput("USD", 2),
        )
    )
    assert (spring.currency, spring.expected_cost) == ("USD", Money("USD", 2))


def test_the_currency_is_fixed_once_costs_are_recorded() -> None:
    spring = campaign()
    spring.record_cost(incurred_on=date(2031, 3, 2), amount=MoneyInput("EUR", 100), note="", request_id="c1")

    with pytest.raises(FailedPrecondition):
        spring.revise(CampaignPlan(given=frozenset({"budget"}), budget=MoneyInput("USD", 1)))


def test_a_stale_expected_version_is_a_conflict() -> None:
    with pytest.raises(Conflict):
        campaign().ensure_version(2)


def test_recorded_costs_add_up_to_the_actual_cost() -> None:
    spring = campaign()

    spring.record_cost(
        incurred_on=date(2031, 3, 2), amount=MoneyInput("EUR", 1_500_00), note=" stand ", request_id="a"
    )
    spring.record_cost(
        incurred_on=date(2031, 3, 9), amount=MoneyInput("EUR", 250_50), note="", request_id="b"
    )

    assert spring.actual_cost == Money("EUR", 1_750_50)
    assert [(e.incurred_on, e.amount, e.note) for e in spring.cost_entries] == [
        (date(2031, 3, 2), Money("EUR", 1_500_00), "stand"),
        (date(2031, 3, 9), Money("EUR", 250_50), ""),
    ]
    assert [e.campaign.version for e in spring.events] == [2, 3]
    assert spring.events[-1].campaign.actual_cost == Money("EUR", 1_750_50)


def test_recording_the_same_request_twice_adds_the_cost_once() -> None:
    spring = campaign()

    assert spring.record_cost(
        incurred_on=date(2031, 3, 2), amount=MoneyInput("EUR", 100), note="", request_id="a"
    )
    assert not spring.record_cost(
        incurred_on=date(2031, 3, 2), amount=MoneyInput("EUR", 100), note="", request_id="a"
    )

    assert (spring.actual_cost, spring.version) == (Money("EUR", 100), 2)


def test_a_cost_needs_a_date_a_positive_amount_in_the_campaign_currency_and_a_request_id() -> None:
    spring = campaign()

    assert violations(
        lambda: spring.record_cost(
            incurred_on=None, amount=MoneyInput("EUR", 0), note="x" * 501, request_id=""
        )
    ) == ["incurred_on", "amount.amount_minor", "note", "request_id"]
    assert violations(
        lambda: spring.record_cost(
            incurred_on=date(2031, 3, 2), amount=MoneyInput("USD", 1), note="", request_id="a"
        )
    ) == ["amount.currency_code"]
    assert violations(
        lambda: spring.record_cost(incurred_on=date(2031, 3, 2), amount=None, note="", request_id="a")
    ) == ["amount"]
