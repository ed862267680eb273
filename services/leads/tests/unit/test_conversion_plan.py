"""The opportunity a conversion asks for: defaults from the lead, and what must be given."""

from __future__ import annotations

from datetime import date

import pytest

from salesplane_leads.domain.conversion import ConversionRequest, conversion_request_id, plan_opportunity
from salesplane_leads.domain.lead import Lead
from salesplane_leads.domain.lead_fields import LeadFields
from salesplane_leads.domain.qualification import Qualification
from salesplane_platform.errors import InvalidArgument
from salesplane_platform.money import Money, MoneyInput

SOURCE = "0b7cc7e5-6a43-4bb4-a1c4-1e0d0f6f5b1a"
CAMPAIGN = "1b7cc7e5-6a43-4bb4-a1c4-1e0d0f6f5b1a"


def lead(assignee: str = "bob", qualification: Qualification | None = None, **values: str) -> Lead:
    fields = LeadFields(**{"first_name": "Ada", "last_name": "Lovelace", **values})
    created = Lead.create(fields, assigned_user_id=assignee, created_by="alice", rules=())
    created.qualification = qualification
    return created


def violations(subject: Lead, request: ConversionRequest) -> list[str]:
    with pytest.raises(InvalidArgument) as error:
        plan_opportunity(subject, request)
    return [v.field for v in error.value.violations]


def test_the_request_id_is_derived_from_the_lead_so_retries_find_the_same_opportunity() -> None:
    assert conversion_request_id("abc") == "lead-conversion:abc"


def test_defaults_come_from_the_lead_and_its_qualification() -> None:
    qualified = lead(
        qualification=Qualification(budget=Money("EUR", 25_000_00), timeline=date(2031, 9, 30)),
        company="Analytical Engines",
        lead_source_id=SOURCE,
        campaign_id=CAMPAIGN,
    )

    order = plan_opportunity(qualified, ConversionRequest())

    assert (order.name, order.account_name, order.owner_user_id) == (
        "Analytical Engines",
        "Analytical Engines",
        "bob",
    )
    assert (order.amount, order.expected_close_date, order.sales_stage) == (
        Money("EUR", 25_000_00),
        date(2031, 9, 30),
        "",
    )
    assert (order.lead_id, order.request_id) == (qualified.id, f"lead-conversion:{qualified.id}")
    assert (order.lead_source_id, order.campaign_id) == (SOURCE, CAMPAIGN)


def test_a_lead_without_a_company_names_the_opportunity_after_the_person() -> None:
    order = plan_opportunity(
        lead(),
        ConversionRequest(
            amount=MoneyInput("EUR", 1), expected_close_date=date(2031, 1, 1), expected_close_date_given=True
        ),
    )
    assert (order.name, order.account_name) == ("Ada Lovelace", "Ada Lovelace")


def test_the_caller_overrides_every_default() -> None:
    order = plan_opportunity(
        lead(
            qualification=Qualification(budget=Money("EUR", 1), timeline=date(2031, 1, 1)), company="Engines"
        ),
        ConversionRequest(
            opportunity_name=" Engines renewal ",
            owner_user_id="carol",
            amount=MoneyInput("USD", 99),
            expected_close_date=date(2032, 2, 29),
            expected_close_date_given=True,
            sales_stage=" Qualification ",
            next_step=" call ",
        ),
    )

    assert (order.name, order.owner_user_id, order.amount, order.expected_close_date) == (
        "Engines renewal",
        "carol",
        Money("USD", 99),
        date(2032, 2, 29),
    )
    assert (order.sales_stage, order.next_step, order.account_name) == ("Qualification", "call", "Engines")


def test_without_a_qualified_budget_or_timeline_they_must_be_given() -> None:
    assert violations(lead(), ConversionRequest()) == ["amount", "expected_close_date"]


def test_an_unassigned_lead_needs_an_owner() -> None:
    request = ConversionRequest(
        amount=MoneyInput("EUR", 1), expected_close_date=date(2031, 1, 1), expected_close_date_given=True
    )
    assert violations(lead(assignee=""), request) == ["owner_user_id"]


def test_given_values_must_be_valid() -> None:
    request = ConversionRequest(
        owner_user_id="not a user",
        amount=MoneyInput("XXX", -1),
        expected_close_date=None,
        expected_close_date_given=True,
        opportunity_name="x" * 256,
        next_step="y" * 256,
    )
    assert violations(lead(), request) == [
        "opportunity_name",
        "owner_user_id",
        "amount.currency_code",
        "amount.amount_minor",
        "expected_close_date",
        "next_step",
    ]
