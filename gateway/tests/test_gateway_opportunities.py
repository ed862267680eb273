"""Opportunities through HTTP: what the gateway sends OpportunityService and how it shows the answer."""

from __future__ import annotations

import uuid
from typing import Any

from flask.testing import FlaskClient
from google.rpc import code_pb2, error_details_pb2

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.opportunities.v1 import opportunities_pb2

PROBLEM = "application/problem+json"
OPPORTUNITY_ID = "6c1f2e4a-3b5d-4c7e-8f90-a1b2c3d4e5f6"  # the one the fake knows
SOURCE_ID = "5b1e7c2a-3d4f-4a6b-8c9d-0e1f2a3b4c5d"
CAMPAIGN_ID = "9c8b7a6d-5e4f-4321-8765-43210fedcba9"
LEAD_ID = "0f5a3c1e-8d1b-4b8e-9a51-3f6f0a0c2d11"


def errors_of(response: Any) -> dict[str, str]:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    return {e["field"]: e["description"] for e in response.get_json()["errors"]}


def new_deal(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Acme renewal",
        "amount": {"currency_code": "EUR", "amount_minor": 100000},
        "expected_close_date": "2026-12-31",
        "sales_stage": "Prospecting",
    }
    body.update(overrides)
    return body


def patch(client: FlaskClient, bearer: Any, body: Any, **headers: str) -> Any:
    return client.patch(f"/v1/opportunities/{OPPORTUNITY_ID}", json=body, headers={**bearer(), **headers})


def test_creating_an_opportunity_answers_201_with_its_location_and_version(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    response = client.post("/v1/opportunities", json=new_deal(), headers=bearer("alice"))

    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"/v1/opportunities/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert uuid.UUID(body["id"])
    assert body["amount"] == {"currency_code": "EUR", "amount_minor": 100000}
    assert isinstance(body["amount"]["amount_minor"], int)
    assert body["expected_close_date"] == "2026-12-31"
    assert (body["probability"], body["probability_source"], body["status"]) == (10, "stage", "open")
    assert body["version"] == 1
    assert body["create_time"] == "2026-09-21T14:13:20Z"
    assert fake.last("CreateOpportunity") == opportunities_pb2.CreateOpportunityRequest(
        name="Acme renewal",
        owner_user_id="alice",  # defaults to the caller
        amount=Money(currency_code="EUR", amount_minor=100000),
        expected_close_date=Date(year=2026, month=12, day=31),
        sales_stage="Prospecting",
    )


def test_every_create_member_reaches_the_service(client: FlaskClient, bearer: Any, fake: Any) -> None:
    response = client.post(
        "/v1/opportunities",
        json=new_deal(
            owner_user_id="bob",
            probability=42,
            account_name="Acme",
            best_case_minor=150000,
            worst_case_minor=10**16,
            next_step="Call",
            lead_source_id=SOURCE_ID,
            campaign_id=CAMPAIGN_ID,
            lead_id=LEAD_ID,
            request_id="retry-key-1",
        ),
        headers=bearer("alice", "manager"),
    )

    assert response.status_code == 201, response.get_json()
    sent = fake.last("CreateOpportunity")
    assert sent.owner_user_id == "bob"
    assert sent.HasField("probability") and sent.probability == 42
    assert (sent.best_case_minor, sent.worst_case_minor) == (150000, 10**16)
    assert (sent.account_name, sent.next_step, sent.request_id) == ("Acme", "Call", "retry-key-1")
    assert (sent.lead_source_id, sent.campaign_id, sent.lead_id) == (SOURCE_ID, CAMPAIGN_ID, LEAD_ID)


def test_an_absent_or_null_probability_is_left_unset_so_it_follows_the_stage(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    client.post("/v1/opportunities", json=new_deal(probability=None), headers=bearer())

    assert not fake.last("CreateOpportunity").HasField("probability")


def test_an_opportunity_reads_with_every_field_and_its_etag(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    response = client.get(f"/v1/opportunities/{OPPORTUNITY_ID}", headers=bearer("alice"))

    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == {f.name for f in opportunities_pb2.Opportunity.DESCRIPTOR.fields}
    assert body["amount_base"] is None  # unset message -> null
    assert body["close_time"] is None
    assert body["exchange_rate_effective_date"] is None
    assert body["best_case_manual"] is False
    assert body["next_step"] == ""
    assert fake.last("GetOpportunity").opportunity_id == OPPORTUNITY_ID


def test_patch_sends_the_members_present_as_the_update_mask(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    response = patch(client, bearer, {"name": "Acme renewal (3y)", "amount": {"amount_minor": 250000}})

    assert response.status_code == 200, response.get_json()
    assert response.headers["ETag"] == '"2"'
    sent = fake.last("UpdateOpportunity")
    assert list(sent.update_mask.paths) == ["name", "amount.amount_minor"]
    assert sent.opportunity.id == OPPORTUNITY_ID
    assert sent.opportunity.name == "Acme renewal (3y)"
    assert sent.opportunity.amount == Money(amount_minor=250000)
    assert sent.expected_version == 0


def test_patch_with_merge_patch_media_type_is_accepted(client: FlaskClient, bearer: Any, fake: Any) -> None:
    response = client.patch(
        f"/v1/opportunities/{OPPORTUNITY_ID}",
        data='{"sales_stage": "Qualification", "expected_close_date": "2027-01-15"}',
        content_type="application/merge-patch+json",
        headers=bearer(),
    )

    assert response.status_code == 200
    sent = fake.last("UpdateOpportunity")
    assert list(sent.update_mask.paths) == ["sales_stage", "expected_close_date"]
    assert sent.opportunity.expected_close_date == Date(year=2027, month=1, day=15)


def test_null_probability_makes_a_hand_set_probability_follow_the_stage_again(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    patch(client, bearer, {"probability": None})
    cleared = fake.last("UpdateOpportunity")
    patch(client, bearer, {"probability": 55})
    set_by_hand = fake.last("UpdateOpportunity")

    assert list(cleared.update_mask.paths) == ["probability"]
    assert cleared.opportunity.probability_source == opportunities_pb2.PROBABILITY_SOURCE_STAGE
    assert set_by_hand.opportunity.probability == 55
    assert set_by_hand.opportunity.probability_source == opportunities_pb2.PROBABILITY_SOURCE_MANUAL


def test_best_case_set_by_hand_or_following_the_amount_again(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    patch(client, bearer, {"best_case": {"currency_code": "EUR", "amount_minor": 90000}})
    set_by_hand = fake.last("UpdateOpportunity")
    patch(client, bearer, {"worst_case": None})
    cleared = fake.last("UpdateOpportunity")

    assert list(set_by_hand.update_mask.paths) == ["best_case"]
    assert set_by_hand.opportunity.best_case == Money(currency_code="EUR", amount_minor=90000)
    assert set_by_hand.opportunity.best_case_manual is True
    assert list(cleared.update_mask.paths) == ["worst_case"]
    assert not cleared.opportunity.HasField("worst_case")
    assert cleared.opportunity.worst_case_manual is False


def test_a_null_member_is_sent_as_cleared_and_the_service_judges_it(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.invalid(
        "UpdateOpportunity",
        ("name", "must not be empty"),
    )

    response = patch(client, bearer, {"name": None})

    assert errors_of(response) == {"name": "must not be empty"}
    sent = fake.last("UpdateOpportunity")
    assert (list(sent.update_mask.paths), sent.opportunity.name) == (["name"], "")


def test_a_current_if_match_is_sent_as_the_expected_version(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    response = patch(client, bearer, {"probability": 55}, **{"If-Match": '"1"'})

    assert response.status_code == 200
    assert fake.last("UpdateOpportunity").expected_version == 1


def test_a_stale_version_is_a_409_version_mismatch(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.fail(
        "UpdateOpportunity",
        code_pb2.ABORTED,
        "the opportunity changed since version 1",
        error_details_pb2.ErrorInfo(reason="VERSION_MISMATCH", domain="salesplane.dev"),
    )

    response = patch(client, bearer, {"name": "Lost update"}, **{"If-Match": '"1"'})

    assert response.status_code == 409
    assert response.mimetype == PROBLEM
    problem = response.get_json()
    assert problem["type"].endswith("/version-mismatch")
    assert problem["reason"] == "VERSION_MISMATCH"


def test_the_expected_version_may_ride_in_the_body(client: FlaskClient, bearer: Any, fake: Any) -> None:
    patch(client, bearer, {"name": "x", "expected_version": 7})

    sent = fake.last("UpdateOpportunity")
    assert sent.expected_version == 7
    assert list(sent.update_mask.paths) == ["name"]


def test_an_if_match_that_is_not_a_version_is_a_400(client: FlaskClient, bearer: Any, fake: Any) -> None:
    response = patch(client, bearer, {"name": "x"}, **{"If-Match": 'W/"abc"'})

    assert "If-Match" in errors_of(response)
    assert fake.calls == []


def test_if_match_and_expected_version_that_disagree_are_a_400(client: FlaskClient, bearer: Any) -> None:
    response = patch(client, bearer, {"name": "x", "expected_version": 2}, **{"If-Match": '"1"'})

    assert errors_of(response) == {"expected_version": "disagrees with the If-Match header"}


def test_values_the_service_rejects_come_back_as_400_with_its_field_violations(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    # Checks only the service can make (the best case against the amount, say) arrive as it words them.
    fake.invalid(
        "CreateOpportunity",
        ("best_case_minor", "must not be below the worst case"),
        ("worst_case_minor", "must not be above the best case"),
    )

    response = client.post(
        "/v1/opportunities", json=new_deal(best_case_minor=1, worst_case_minor=2), headers=bearer()
    )

    assert errors_of(response) == {
        "best_case_minor": "must not be below the worst case",
        "worst_case_minor": "must not be above the best case",
    }
    assert response.get_json()["type"].endswith("/invalid-request")


def test_every_documented_rule_a_body_breaks_is_named_at_once_before_the_call(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    response = client.post(
        "/v1/opportunities",
        json=new_deal(
            name="  ", amount={"currency_code": "XXY", "amount_minor": 1}, probability=101, lead_id="lead"
        ),
        headers=bearer(),
    )

    assert errors_of(response) == {
        "name": "must not be empty or contain control characters",
        "amount.currency_code": "must be one of the list in the API document",
        "probability": "must be at most 100",
        "lead_id": "must be empty or a UUID (lower-case, canonical form)",
    }
    assert fake.calls == []


def test_violations_of_a_patch_are_named_as_in_the_patch_document(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.invalid(
        "UpdateOpportunity",
        ("opportunity.amount.amount_minor", "is implausibly large once converted"),
        ("update_mask", "bad path"),
    )

    response = patch(client, bearer, {"amount": {"amount_minor": 5}})

    assert errors_of(response) == {
        "amount.amount_minor": "is implausibly large once converted",
        "body": "bad path",
    }


def test_wrong_json_types_are_400_with_every_field_named_and_never_reach_the_service(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    response = client.post(
        "/v1/opportunities",
        json={
            "name": 7,
            "amount": {"currency_code": "EUR", "amount_minor": "100000"},
            "expected_close_date": "31/12/2026",
            "sales_stage": ["Prospecting"],
            "probability": True,
        },
        headers=bearer(),
    )

    errors = errors_of(response)
    assert set(errors) == {"name", "amount.amount_minor", "expected_close_date", "sales_stage", "probability"}
    assert errors["amount.amount_minor"] == "must be an integer, not string"
    assert errors["probability"] == "must be an integer, not boolean"
    assert fake.calls == []


def test_an_amount_with_a_fraction_is_rejected_and_a_whole_float_is_an_integer(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    def post(amount: str) -> Any:
        return client.post(
            "/v1/opportunities",
            data='{"name": "x", "amount": {"currency_code": "EUR", "amount_minor": ' + amount + "},"
            ' "expected_close_date": "2026-12-31", "sales_stage": "Prospecting"}',
            content_type="application/json",
            headers=bearer(),
        )

    assert errors_of(post("1000.5"))["amount.amount_minor"] == "must be an integer, not number"
    # JSON Schema, which the document speaks, counts 1000.0 as the integer 1000.
    assert post("1000.0").status_code == 201
    assert fake.last("CreateOpportunity").amount.amount_minor == 1000


def test_an_amount_beyond_int64_is_a_400_not_a_crash(client: FlaskClient, bearer: Any) -> None:
    response = client.post(
        "/v1/opportunities",
        json=new_deal(amount={"currency_code": "EUR", "amount_minor": 2**63}),
        headers=bearer(),
    )

    assert errors_of(response) == {
        "amount.amount_minor": "must be between -9223372036854775808 and 9223372036854775807"
    }


def test_a_probability_beyond_int32_is_a_400(client: FlaskClient, bearer: Any) -> None:
    response = client.post("/v1/opportunities", json=new_deal(probability=2**31), headers=bearer())

    assert "probability" in errors_of(response)


def test_an_impossible_date_is_a_400(client: FlaskClient, bearer: Any) -> None:
    response = client.post(
        "/v1/opportunities", json=new_deal(expected_close_date="2026-02-30"), headers=bearer()
    )

    assert errors_of(response)["expected_close_date"] == "is not a valid calendar date"


def test_unknown_members_are_rejected_rather_than_ignored(client: FlaskClient, bearer: Any) -> None:
    created = client.post("/v1/opportunities", json=new_deal(ammount=5), headers=bearer())
    patched = patch(client, bearer, {"ammount": 5})

    assert "is not a known field" in errors_of(created)["ammount"]
    assert "is not a field that can be changed" in errors_of(patched)["ammount"]


def test_read_only_fields_cannot_be_patched(client: FlaskClient, bearer: Any, fake: Any) -> None:
    response = patch(client, bearer, {"status": "won", "version": 3, "amount": {"bogus": 1}})

    assert set(errors_of(response)) == {"status", "version", "amount.bogus"}
    assert fake.calls == []


def test_an_amount_patch_must_name_a_member(client: FlaskClient, bearer: Any) -> None:
    assert "amount" in errors_of(patch(client, bearer, {"amount": {}}))
    assert "amount" in errors_of(patch(client, bearer, {"amount": None}))
    assert "amount" in errors_of(patch(client, bearer, {"amount": 5}))


def test_malformed_json_is_a_400_problem(client: FlaskClient, bearer: Any) -> None:
    response = client.post(
        "/v1/opportunities", data='{"name": "x",', content_type="application/json", headers=bearer()
    )

    assert "body" in errors_of(response)


def test_nan_invalid_utf8_empty_and_non_object_bodies_are_400(client: FlaskClient, bearer: Any) -> None:
    for raw in (b'{"name": NaN}', b'{"name": Infinity}', b"[1, 2]", b'"text"', b"\xff\xfe{}", b""):
        response = client.post(
            "/v1/opportunities", data=raw, content_type="application/json", headers=bearer()
        )
        assert list(errors_of(response)) == ["body"], raw


def test_deeply_nested_json_is_a_400_not_a_crash(client: FlaskClient, bearer: Any) -> None:
    response = client.post(
        "/v1/opportunities",
        data="[" * 100_000 + "]" * 100_000,
        content_type="application/json",
        headers=bearer(),
    )

    assert "body" in errors_of(response)


def test_a_body_that_is_not_json_is_415(client: FlaskClient, bearer: Any) -> None:
    response = client.post("/v1/opportunities", data="name=x", headers=bearer())

    assert response.status_code == 415
    assert response.mimetype == PROBLEM


def test_an_empty_patch_is_a_400(client: FlaskClient, bearer: Any, fake: Any) -> None:
    response = patch(client, bearer, {})

    assert "body" in errors_of(response)
    assert fake.calls == []


def test_an_unknown_opportunity_is_404(client: FlaskClient, bearer: Any) -> None:
    response = client.get(f"/v1/opportunities/{uuid.uuid4()}", headers=bearer())

    assert response.status_code == 404
    assert response.mimetype == PROBLEM
    assert response.get_json()["type"].endswith("/not-found")


def test_a_violation_of_a_path_bound_field_is_named_as_the_path_parameter(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.invalid(
        "UpdateOpportunity",
        ("opportunity.id", "must be a UUID"),
    )

    response = patch(client, bearer, {"name": "x"})

    assert errors_of(response) == {"opportunity_id": "must be a UUID"}


def test_a_permission_denied_is_403(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.fail("GetOpportunity", code_pb2.PERMISSION_DENIED, "not your deal")

    response = client.get(f"/v1/opportunities/{OPPORTUNITY_ID}", headers=bearer("bob", "rep"))

    assert response.status_code == 403
    assert response.mimetype == PROBLEM
    assert response.get_json()["type"].endswith("/permission-denied")
    assert response.get_json()["detail"] == "not your deal"


def test_sales_stages_are_listed_in_order_with_the_revision_as_etag(client: FlaskClient, bearer: Any) -> None:
    response = client.get("/v1/sales-stages", headers=bearer())

    assert response.status_code == 200
    assert response.headers["ETag"] == '"3"'
    body = response.get_json()
    assert body["sales_stages"][0] == {
        "name": "Prospecting",
        "default_probability": 10,
        "is_won": False,
        "is_lost": False,
        "order": 0,
    }
    assert [s["order"] for s in body["sales_stages"]] == [0, 1, 2, 3]
    assert body["revision"] == 3


def test_replacing_the_sales_stages_sends_the_list_and_if_match_revision(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply("ReplaceSalesStages", opportunities_pb2.ListSalesStagesResponse(revision=4))
    stages = [
        {"name": "New", "default_probability": 5},
        {"name": "Won", "default_probability": 100, "is_won": True},
        {"name": "Lost", "is_lost": True},
    ]

    response = client.put(
        "/v1/sales-stages",
        json={"sales_stages": stages},
        headers={**bearer("root", "admin"), "If-Match": '"3"'},
    )

    assert response.status_code == 200
    assert response.headers["ETag"] == '"4"'
    sent = fake.last("ReplaceSalesStages")
    assert sent.expected_revision == 3
    assert [s.name for s in sent.sales_stages] == ["New", "Won", "Lost"]
    assert sent.sales_stages[1].is_won and sent.sales_stages[2].is_lost


def test_a_wrong_member_inside_a_list_is_named_with_its_index(client: FlaskClient, bearer: Any) -> None:
    response = client.put(
        "/v1/sales-stages",
        json={"sales_stages": [{"name": "A"}, {"name": "B", "default_probability": "high"}, None]},
        headers=bearer(),
    )

    assert errors_of(response) == {
        "sales_stages[1].default_probability": "must be an integer, not string",
        "sales_stages[2]": "must not be null",
    }
