"""Listing: filter validation, page sizes and the page token (round trip and tampering)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime

import pytest

from salesplane_opportunities.domain.exchange_rates import AppliedRate, Valuation
from salesplane_opportunities.domain.listing import (
    OpportunityFilter,
    OrderField,
    PagePosition,
    build_query,
    page_token_after,
    position_of,
)
from salesplane_opportunities.domain.opportunity import Opportunity, OpportunityStatus, ProbabilitySource
from salesplane_platform.errors import InvalidArgument
from salesplane_platform.money import Money
from salesplane_platform.page_tokens import page_size_of

DEAL = Opportunity(
    id="0b7e6f3c-9d2a-4c1e-8f5b-6a4d3c2b1a09",
    name="Ünïcode & Co",
    owner_user_id="alice",
    amount=Money("EUR", 1_000),
    expected_close_date=date(2026, 5, 31),
    sales_stage="Prospecting",
    probability=10,
    probability_source=ProbabilitySource.STAGE,
    status=OpportunityStatus.OPEN,
    version=3,
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
    updated_at=datetime(2026, 2, 3, 4, 5, 6, 789012, tzinfo=UTC),
    valuation=Valuation("USD", AppliedRate("1.1", date(2026, 1, 1)), 1_100, 1_100, 1_100),
)


def field_of(error: pytest.ExceptionInfo[InvalidArgument]) -> list[str]:
    return [v.field for v in error.value.violations]


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (OrderField.EXPECTED_CLOSE_DATE, date(2026, 5, 31)),
        (OrderField.AMOUNT_BASE, 1_100),
        (OrderField.NAME, "Ünïcode & Co"),
        (OrderField.UPDATE_TIME, datetime(2026, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)),
        (OrderField.PROBABILITY, 10),
    ],
)
def test_a_page_token_carries_the_last_sort_key_and_id_exactly(order, expected):
    wanted = OpportunityFilter(order_by=order, descending=True, text="co")
    token = page_token_after(wanted, DEAL)
    assert position_of(token, wanted) == PagePosition(expected, DEAL.id)


def test_an_unvalued_deal_sorts_as_zero_in_the_base_amount_order():
    legacy = Opportunity(**{**DEAL.__dict__, "valuation": None, "events": []})
    wanted = OpportunityFilter(order_by=OrderField.AMOUNT_BASE)
    assert position_of(page_token_after(wanted, legacy), wanted).sort_value == 0


def test_a_token_from_a_request_with_other_filters_is_refused():
    token = page_token_after(OpportunityFilter(owner_user_ids=("alice",)), DEAL)
    for other in (
        OpportunityFilter(owner_user_ids=("bob",)),
        OpportunityFilter(owner_user_ids=("alice",), descending=True),
        OpportunityFilter(owner_user_ids=("alice",), order_by=OrderField.NAME),
        OpportunityFilter(owner_user_ids=("alice",), statuses=(OpportunityStatus.WON,)),
        OpportunityFilter(owner_user_ids=("alice",), amount_base_min=0),
    ):
        with pytest.raises(InvalidArgument) as raised:
            position_of(token, other)
        assert "other filters" in raised.value.violations[0].description


def test_the_filter_fingerprint_ignores_the_order_of_listed_values():
    one = OpportunityFilter(owner_user_ids=("alice", "bob"), sales_stages=("A", "B"))
    other = OpportunityFilter(owner_user_ids=("bob", "alice", "bob"), sales_stages=("B", "A"))
    assert one.fingerprint() == other.fingerprint()


def _forge(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode()


@pytest.mark.parametrize(
    "token",
    [
        "not base64 at all!",
        "e30",  # {}
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        _forge([1, 2, 3]),
        _forge({"v": 2}),
        "A" * 2000,
    ],
)
def test_a_garbled_page_token_is_invalid(token):
    with pytest.raises(InvalidArgument) as raised:
        position_of(token, OpportunityFilter())
    assert field_of(raised) == ["page_token"]


@pytest.mark.parametrize(
    ("order", "key", "last_id"),
    [
        (OrderField.EXPECTED_CLOSE_DATE, "2026-02-30", DEAL.id),
        (OrderField.EXPECTED_CLOSE_DATE, 20260101, DEAL.id),
        (OrderField.UPDATE_TIME, "2026-02-03T04:05:06", DEAL.id),  # no time zone
        (OrderField.AMOUNT_BASE, "1100", DEAL.id),
        (OrderField.AMOUNT_BASE, True, DEAL.id),
        (OrderField.AMOUNT_BASE, -5, DEAL.id),
        (OrderField.PROBABILITY, 1.5, DEAL.id),
        (OrderField.NAME, None, DEAL.id),
        (OrderField.NAME, "Acme", "'; DROP TABLE opportunities; --"),
        (OrderField.NAME, "Acme", DEAL.id.upper()),
    ],
)
def test_a_tampered_page_token_with_the_right_fingerprint_is_still_invalid(order, key, last_id):
    wanted = OpportunityFilter(order_by=order)
    token = _forge({"v": 1, "f": wanted.fingerprint(), "p": {"k": key, "id": last_id}})
    with pytest.raises(InvalidArgument) as raised:
        position_of(token, wanted)
    assert field_of(raised) == ["page_token"]


def test_page_size_zero_means_fifty_and_the_rest_is_bounded():
    assert (page_size_of(0), page_size_of(1), page_size_of(500)) == (50, 1, 500)
    for bad in (-1, 501, 10_000):
        with pytest.raises(InvalidArgument) as raised:
            page_size_of(bad)
        assert field_of(raised) == ["page_size"]


def test_every_bad_filter_is_reported_at_once():
    wanted = OpportunityFilter(
        owner_user_ids=("alice", "not a user"),
        sales_stages=("",),
        close_date_from=date(2026, 2, 1),
        close_date_to=date(2026, 1, 1),
        amount_base_min=10,
        amount_base_max=5,
        text="x" * 201,
        lead_id="lead-1",
        campaign_id="NOT-A-UUID",
    )
    with pytest.raises(InvalidArgument) as raised:
        build_query(wanted, 10, "")
    assert field_of(raised) == [
        "owner_user_ids[1]",
        "sales_stages[0]",
        "close_date_to",
        "amount_base_max",
        "text",
        "lead_id",
        "campaign_id",
    ]


def test_filters_name_a_bounded_number_of_values_and_non_negative_amounts():
    with pytest.raises(InvalidArgument) as raised:
        build_query(
            OpportunityFilter(owner_user_ids=tuple(f"u{i}" for i in range(101)), amount_base_min=-1), 10, ""
        )
    assert field_of(raised) == ["owner_user_ids", "amount_base_min"]
