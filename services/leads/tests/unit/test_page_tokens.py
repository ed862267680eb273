"""ListLeads page tokens: opaque, bound to the filters they were made for."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from salesplane_leads.domain.lead_status import LeadStatus
from salesplane_leads.service_layer.lead_pages import decode_token, encode_token, filter_hash, page_request
from salesplane_leads.service_layer.unit_of_work import LeadCursor, LeadFilter
from salesplane_platform.errors import InvalidArgument

CURSOR = LeadCursor(
    datetime(2031, 5, 17, 9, 30, 0, 123456, tzinfo=UTC), "0b7cc7e5-6a43-4bb4-a1c4-1e0d0f6f5b1a"
)


def test_a_token_round_trips_its_position() -> None:
    digest = filter_hash(LeadFilter(text="acme"))
    assert decode_token(encode_token(CURSOR, digest), digest) == CURSOR


def test_the_filter_hash_ignores_order_but_not_content() -> None:
    one = LeadFilter(
        statuses=frozenset({LeadStatus.NEW, LeadStatus.DEAD}), assigned_user_ids=frozenset({"a", "b"})
    )
    same = LeadFilter(
        statuses=frozenset({LeadStatus.DEAD, LeadStatus.NEW}), assigned_user_ids=frozenset({"b", "a"})
    )
    assert filter_hash(one) == filter_hash(same)
    assert filter_hash(one) != filter_hash(LeadFilter(min_score=0))
    assert filter_hash(LeadFilter()) != filter_hash(LeadFilter(min_score=0))


def test_a_token_for_other_filters_is_refused() -> None:
    token = encode_token(CURSOR, filter_hash(LeadFilter(text="acme")))

    with pytest.raises(InvalidArgument, match="other filters"):
        page_request(LeadFilter(text="initech"), page_size=10, page_token=token)


@pytest.mark.parametrize(
    "token", ["garbage", "eyJ2IjoyfQ", "e30", "!!!", "eyJ2IjoxLCJmIjoiIiwidCI6IjIwMzEtMDUtMTciLCJpIjoxfQ"]
)
def test_a_token_that_is_not_ours_is_an_invalid_argument(token: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        page_request(LeadFilter(), page_size=10, page_token=token)
    assert [v.field for v in error.value.violations] == ["page_token"]


@pytest.mark.parametrize(("size", "effective"), [(0, 50), (1, 1), (500, 500)])
def test_page_sizes_default_to_50_and_go_up_to_500(size: int, effective: int) -> None:
    assert page_request(LeadFilter(), page_size=size, page_token="").size == effective


@pytest.mark.parametrize("size", [-1, 501])
def test_other_page_sizes_are_invalid(size: int) -> None:
    with pytest.raises(InvalidArgument):
        page_request(LeadFilter(), page_size=size, page_token="")
