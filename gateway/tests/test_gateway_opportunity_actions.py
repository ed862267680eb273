"""Listing, deleting, closing, reopening, reassigning opportunities; stage history; exchange rates."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.opportunities.v1 import opportunities_pb2

PROBLEM = "application/problem+json"
OPPORTUNITY_ID = "6c1f2e4a-3b5d-4c7e-8f90-a1b2c3d4e5f6"
ITEM = f"/v1/opportunities/{OPPORTUNITY_ID}"
LEAD_ID = "0f5a3c1e-8d1b-4b8e-9a51-3f6f0a0c2d11"
CAMPAIGN_ID = "9c8b7a6d-5e4f-4321-8765-43210fedcba9"


def errors_of(response: Any) -> dict[str, str]:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    return {e["field"]: e["description"] for e in response.get_json()["errors"]}


def test_list_filters_come_from_query_parameters_repeated_ones_included(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    response = client.get(
        "/v1/opportunities?sales_stage=Prospecting&sales_stage=Negotiation%2FReview&status=open&status=won"
        "&owner_user_id=alice&close_date_from=2026-01-01&close_date_to=2026-12-31&amount_base_min=0"
        "&amount_base_max=9007199254740993&text=acme&order_by=amount_base&descending=true"
        f"&lead_id={LEAD_ID}&campaign_id={CAMPAIGN_ID}&page_size=25&page_token=tok-2",
        headers=bearer(),
    )

    assert response.status_code == 200, response.get_json()
    assert fake.last("ListOpportunities") == opportunities_pb2.ListOpportunitiesRequest(
        page_size=25,
        page_token="tok-2",
        owner_user_ids=["alice"],
        sales_stages=["Prospecting", "Negotiation/Review"],
        statuses=[opportunities_pb2.OPPORTUNITY_STATUS_OPEN, opportunities_pb2.OPPORTUNITY_STATUS_WON],
        close_date_from=Date(year=2026, month=1, day=1),
        close_date_to=Date(year=2026, month=12, day=31),
        amount_base_min=0,
        amount_base_max=9_007_199_254_740_993,
        text="acme",
        order_by=opportunities_pb2.OPPORTUNITY_ORDER_FIELD_AMOUNT_BASE,
        descending=True,
        lead_id=LEAD_ID,
        campaign_id=CAMPAIGN_ID,
    )


def test_a_list_page_carries_the_next_page_token(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.reply(
        "ListOpportunities",
        opportunities_pb2.ListOpportunitiesResponse(
            opportunities=[opportunities_pb2.Opportunity(id="o1", version=3)], next_page_token="tok-3"
        ),
    )

    body = client.get("/v1/opportunities", headers=bearer()).get_json()

    assert body["next_page_token"] == "tok-3"
    assert [(o["id"], o["version"]) for o in body["opportunities"]] == [("o1", 3)]
    assert fake.last("ListOpportunities") == opportunities_pb2.ListOpportunitiesRequest()


def test_bad_query_parameters_are_each_named_and_never_reach_the_service(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    response = client.get(
        "/v1/opportunities?status=pending&page_size=ten&close_date_from=2026-02-30&descending=yes"
        "&text=a&text=b&sales_stages=Prospecting",
        headers=bearer(),
    )

    errors = errors_of(response)
    assert set(errors) == {"status", "page_size", "close_date_from", "descending", "text", "sales_stages"}
    assert errors["status"] == "must be one of ['open', 'won', 'lost']"
    assert errors["text"] == "must be given once"
    assert errors["sales_stages"].startswith("is not a known query parameter; expected some of ['page_size'")
    assert fake.calls == []


def test_a_query_parameter_on_an_operation_without_any_is_a_400(client: FlaskClient, bearer: Any) -> None:
    response = client.get("/v1/sales-stages?verbose=1", headers=bearer())

    assert errors_of(response) == {"verbose": "is not a known query parameter; this operation takes none"}


def test_delete_answers_204_and_sends_if_match_as_the_expected_version(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    response = client.delete(ITEM, headers={**bearer(), "If-Match": '"4"'})

    assert response.status_code == 204
    assert response.get_data() == b""
    assert response.headers["Cache-Control"] == "no-store"
    assert fake.last("DeleteOpportunity") == opportunities_pb2.DeleteOpportunityRequest(
        opportunity_id=OPPORTUNITY_ID, expected_version=4
    )


def test_delete_takes_the_version_as_a_query_parameter_too(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    client.delete(f"{ITEM}?expected_version=5", headers=bearer())
    disagreeing = client.delete(f"{ITEM}?expected_version=5", headers={**bearer(), "If-Match": '"6"'})

    assert fake.last("DeleteOpportunity").expected_version == 5
    assert errors_of(disagreeing) == {"expected_version": "disagrees with the If-Match header"}


def test_closing_sends_the_outcome_and_answers_the_closed_opportunity_with_its_etag(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    closed = opportunities_pb2.Opportunity(
        id=OPPORTUNITY_ID, status=opportunities_pb2.OPPORTUNITY_STATUS_LOST, close_reason="price", version=6
    )
    closed.close_time.FromSeconds(1_790_000_000)
    fake.reply("CloseOpportunity", closed)

    response = client.post(
        f"{ITEM}:close", json={"outcome": "lost", "reason": "price"}, headers={**bearer(), "If-Match": '"5"'}
    )

    assert response.status_code == 200
    assert response.headers["ETag"] == '"6"'
    body = response.get_json()
    assert (body["status"], body["close_reason"], body["close_time"]) == (
        "lost",
        "price",
        "2026-09-21T14:13:20Z",
    )
    assert fake.last("CloseOpportunity") == opportunities_pb2.CloseOpportunityRequest(
        opportunity_id=OPPORTUNITY_ID,
        outcome=opportunities_pb2.CLOSE_OUTCOME_LOST,
        reason="price",
        expected_version=5,
    )


def test_reopen_and_reassign_take_their_members_from_the_body(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    reopened = client.post(f"{ITEM}:reopen", json={"sales_stage": "Qualification"}, headers=bearer())
    reassigned = client.post(
        f"{ITEM}:reassign", json={"new_owner_user_id": "bob", "expected_version": 8}, headers=bearer()
    )

    assert (reopened.status_code, reassigned.status_code) == (200, 200)
    assert fake.last("ReopenOpportunity") == opportunities_pb2.ReopenOpportunityRequest(
        opportunity_id=OPPORTUNITY_ID, sales_stage="Qualification"
    )
    assert fake.last("ReassignOpportunity") == opportunities_pb2.ReassignOpportunityRequest(
        opportunity_id=OPPORTUNITY_ID, new_owner_user_id="bob", expected_version=8
    )


def test_a_body_naming_another_resource_than_the_path_is_a_400(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    another = "00000000-0000-4000-8000-000000000000"
    same = client.post(
        f"{ITEM}:reopen",
        json={"opportunity_id": OPPORTUNITY_ID, "sales_stage": "Prospecting"},
        headers=bearer(),
    )
    other = client.post(
        f"{ITEM}:reopen", json={"opportunity_id": another, "sales_stage": "Prospecting"}, headers=bearer()
    )

    assert same.status_code == 200, same.get_json()
    assert errors_of(other) == {"opportunity_id": "disagrees with the URL path (opportunity_id)"}


def test_custom_methods_need_a_json_body(client: FlaskClient, bearer: Any) -> None:
    response = client.post(f"{ITEM}:close", headers=bearer())

    assert response.status_code == 415
    assert response.mimetype == PROBLEM


def test_an_unknown_custom_method_is_404_and_a_wrong_method_on_a_custom_one_405(
    client: FlaskClient, bearer: Any
) -> None:
    unknown = client.post(f"{ITEM}:win", json={}, headers=bearer())
    wrong_method = client.get(f"{ITEM}:close", headers=bearer())

    assert (unknown.status_code, unknown.mimetype) == (404, PROBLEM)
    assert (wrong_method.status_code, wrong_method.mimetype) == (405, PROBLEM)
    assert wrong_method.headers["Allow"].startswith("POST") or "POST" in wrong_method.headers["Allow"]


def test_the_stage_history_lists_entries_with_durations_as_integers(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    entry = opportunities_pb2.StageHistoryEntry(
        sales_stage="Prospecting", duration_seconds=2**40, actor="alice"
    )
    entry.enter_time.FromSeconds(1_790_000_000)
    fake.reply("GetStageHistory", opportunities_pb2.GetStageHistoryResponse(entries=[entry]))

    response = client.get(f"{ITEM}/stage-history", headers=bearer())

    assert response.get_json() == {
        "entries": [
            {
                "sales_stage": "Prospecting",
                "enter_time": "2026-09-21T14:13:20Z",
                "leave_time": None,
                "duration_seconds": 2**40,
                "actor": "alice",
            }
        ]
    }
    assert "ETag" not in response.headers
    assert fake.last("GetStageHistory").opportunity_id == OPPORTUNITY_ID


def test_exchange_rates_are_listed_and_set_by_currency_and_date(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply(
        "SetExchangeRate",
        opportunities_pb2.ExchangeRate(
            currency_code="USD",
            rate="0.9210",
            effective_from=Date(year=2026, month=7, day=1),
            base_currency_code="EUR",
        ),
    )

    listed = client.get("/v1/exchange-rates?currency_code=USD", headers=bearer())
    response = client.put(
        "/v1/exchange-rates/USD/2026-07-01", json={"rate": "0.9210"}, headers=bearer("root", "admin")
    )

    assert listed.status_code == 200
    assert fake.last("ListExchangeRates").currency_code == "USD"
    assert response.status_code == 200
    assert response.get_json()["effective_from"] == "2026-07-01"
    assert fake.last("SetExchangeRate") == opportunities_pb2.SetExchangeRateRequest(
        currency_code="USD", rate="0.9210", effective_from=Date(year=2026, month=7, day=1)
    )


def test_a_path_parameter_that_does_not_fit_its_field_is_a_400_naming_it(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    response = client.put("/v1/exchange-rates/USD/July", json={"rate": "1"}, headers=bearer())

    assert errors_of(response) == {"effective_from": "must be a date formatted YYYY-MM-DD"}
    assert fake.calls == []


def test_money_in_a_list_response_keeps_64_bit_amounts_exact(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply(
        "ListOpportunities",
        opportunities_pb2.ListOpportunitiesResponse(
            opportunities=[
                opportunities_pb2.Opportunity(amount_base=Money(currency_code="EUR", amount_minor=2**63 - 1))
            ]
        ),
    )

    raw = client.get("/v1/opportunities", headers=bearer()).get_data(as_text=True)

    assert '"amount_minor": 9223372036854775807' in raw or '"amount_minor":9223372036854775807' in raw
