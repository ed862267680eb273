"""Translation of requests from the wire, and the base-currency setting."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.opportunities.v1 import opportunities_pb2 as pb
from salesplane_opportunities.adapters.opportunity_mapping import opportunity_to_proto
from salesplane_opportunities.domain.listing import OrderField
from salesplane_opportunities.domain.opportunity import Opportunity, OpportunityStatus, ProbabilitySource
from salesplane_opportunities.domain.opportunity_inputs import CaseChange
from salesplane_opportunities.domain.sales_stages import CloseOutcome
from salesplane_opportunities.entrypoints.requests import (
    changes_from,
    draft_from,
    filter_from,
    outcome_from,
    stages_from,
)
from salesplane_platform.errors import ConfigurationError, InvalidArgument
from salesplane_platform.money import Money as DomainMoney
from salesplane_platform.settings import base_currency_from


def update(paths: list[str], **fields) -> pb.UpdateOpportunityRequest:
    return pb.UpdateOpportunityRequest(
        opportunity=pb.Opportunity(**fields), update_mask=FieldMask(paths=paths)
    )


def test_only_the_masked_fields_change():
    changes = changes_from(
        update(["name", "amount.amount_minor"], name="New", next_step="ignored", amount=Money(amount_minor=5))
    )
    assert (changes.name, changes.amount_minor, changes.currency, changes.next_step) == ("New", 5, None, None)
    whole_amount = changes_from(update(["amount"], amount=Money(currency_code="JPY", amount_minor=7)))
    assert (whole_amount.currency, whole_amount.amount_minor) == ("JPY", 7)


def test_an_empty_or_unknown_mask_is_invalid():
    for paths in ([], ["version"], ["lead_id"], ["status"], ["amount_base"]):
        with pytest.raises(InvalidArgument) as raised:
            changes_from(update(paths))
        assert raised.value.violations[0].field == "update_mask"


def test_probability_with_source_stage_clears_a_hand_set_value():
    cleared = changes_from(
        update(["probability"], probability=40, probability_source=pb.PROBABILITY_SOURCE_STAGE)
    )
    assert (cleared.probability, cleared.probability_follows_stage) == (None, True)
    for source in (pb.PROBABILITY_SOURCE_MANUAL, pb.PROBABILITY_SOURCE_UNSPECIFIED):
        set_ = changes_from(update(["probability"], probability=40, probability_source=source))
        assert (set_.probability, set_.probability_follows_stage) == (40, False)


def test_a_case_named_with_manual_false_follows_the_amount_again():
    cleared = changes_from(update(["best_case"], best_case=Money(amount_minor=99), best_case_manual=False))
    assert cleared.best_case == CaseChange(follows_amount=True)
    set_ = changes_from(
        update(["worst_case"], worst_case=Money(currency_code="EUR", amount_minor=50), worst_case_manual=True)
    )
    assert set_.worst_case == CaseChange(50, "EUR") and set_.best_case is None


def test_an_impossible_close_date_in_an_update_is_invalid():
    with pytest.raises(InvalidArgument):
        changes_from(update(["expected_close_date"], expected_close_date=Date(year=2026, month=2, day=29)))


def test_a_create_without_optional_values_follows_stage_and_amount():
    draft = draft_from(
        pb.CreateOpportunityRequest(name="x", amount=Money(currency_code="EUR", amount_minor=1))
    )
    assert (draft.probability, draft.best_case_minor, draft.worst_case_minor) == (None, None, None)
    given = draft_from(pb.CreateOpportunityRequest(probability=0, best_case_minor=0, worst_case_minor=0))
    assert (given.probability, given.best_case_minor, given.worst_case_minor) == (0, 0, 0)


def test_list_filters_read_enums_and_dates_and_refuse_unknown_values():
    wanted = filter_from(
        pb.ListOpportunitiesRequest(
            statuses=[pb.OPPORTUNITY_STATUS_WON],
            order_by=pb.OPPORTUNITY_ORDER_FIELD_NAME,
            close_date_from=Date(year=2026, month=1, day=1),
            close_date_to=Date(),
            amount_base_min=0,
        )
    )
    assert (wanted.statuses, wanted.order_by, wanted.close_date_from, wanted.close_date_to) == (
        (OpportunityStatus.WON,),
        OrderField.NAME,
        date(2026, 1, 1),
        None,
    )
    assert (wanted.amount_base_min, wanted.amount_base_max) == (0, None)
    assert filter_from(pb.ListOpportunitiesRequest()).order_by is OrderField.EXPECTED_CLOSE_DATE
    with pytest.raises(InvalidArgument) as raised:
        filter_from(
            pb.ListOpportunitiesRequest(
                statuses=[pb.OPPORTUNITY_STATUS_UNSPECIFIED],
                order_by=99,
                close_date_to=Date(year=2026, month=4, day=31),
            )
        )
    assert [v.field for v in raised.value.violations] == ["statuses[0]", "order_by", "close_date_to"]


def test_close_outcomes_and_stage_lists_come_over_as_they_are():
    assert outcome_from(pb.CLOSE_OUTCOME_WON) is CloseOutcome.WON
    assert outcome_from(pb.CLOSE_OUTCOME_UNSPECIFIED) is None and outcome_from(12) is None
    stages = stages_from(
        pb.ReplaceSalesStagesRequest(
            sales_stages=[pb.SalesStage(name="B", order=9), pb.SalesStage(name="A", is_won=True, order=1)]
        )
    )
    assert [s.name for s in stages] == ["B", "A"]  # list order, not the order field


def test_an_unvalued_deal_shows_no_base_amount_and_a_closed_one_its_close_time():
    deal = Opportunity(
        id="0b7e6f3c-9d2a-4c1e-8f5b-6a4d3c2b1a09",
        name="Legacy",
        owner_user_id="alice",
        amount=DomainMoney("EUR", 100),
        expected_close_date=date(2026, 1, 1),
        sales_stage="Closed Won",
        probability=100,
        probability_source=ProbabilitySource.STAGE,
        status=OpportunityStatus.WON,
        version=4,
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
        updated_at=datetime(2025, 2, 1, tzinfo=UTC),
        close_time=datetime(2025, 2, 1, tzinfo=UTC),
    )
    message = opportunity_to_proto(deal)
    assert not message.HasField("amount_base") and message.exchange_rate == ""
    assert message.close_time.ToDatetime(tzinfo=UTC) == datetime(2025, 2, 1, tzinfo=UTC)
    assert (message.best_case.currency_code, message.status) == ("EUR", pb.OPPORTUNITY_STATUS_WON)


def test_the_base_currency_defaults_to_usd_and_must_be_a_currency():
    assert base_currency_from({}) == "USD"
    assert base_currency_from({"SALESPLANE_BASE_CURRENCY": "EUR"}) == "EUR"
    with pytest.raises(ConfigurationError):
        base_currency_from({"SALESPLANE_BASE_CURRENCY": "euro"})
