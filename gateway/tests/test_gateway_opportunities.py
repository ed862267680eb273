"""Opportunities through HTTP, against the real opportunities service on SQLite."""

from __future__ import annotations

import uuid
from typing import Any

from flask.testing import FlaskClient

PROBLEM = "application/problem+json"


def new_deal(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Acme renewal",
        "amount": {"currency_code": "EUR", "amount_minor": 100000},
        "expected_close_date": "2026-12-31",
        "sales_stage": "Prospecting",
    }
    body.update(overrides)
    return body


def create(client: FlaskClient, bearer: Any, subject: str = "alice", **overrides: Any) -> dict[str, Any]:
    response = client.post("/v1/opportunities", json=new_deal(**overrides), headers=bearer(subject))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def errors_of(response: Any) -> dict[str, str]:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    return {e["field"]: e["description"] for e in response.get_json()["errors"]}


def test_creating_an_opportunity_answers_201_with_its_location_and_version(
    client: FlaskClient, bearer: Any
) -> None:
    response = client.post("/v1/opportunities", json=new_deal(), headers=bearer("alice"))

    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"/v1/opportunities/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert uuid.UUID(body["id"])
    assert body["owner_user_id"] == "alice"  # defaults to the caller
    assert body["amount"] == {"currency_code": "EUR", "amount_minor": 100000}
    assert isinstance(body["amount"]["amount_minor"], int)
    assert body["expected_close_date"] == "2026-12-31"
    assert body["probability"] == 10
    assert body["probability_source"] == "stage"
    assert body["status"] == "open"
    assert body["version"] == 1
    assert body["create_time"].endswith("Z")


def test_a_created_opportunity_reads_back_the_same(client: FlaskClient, bearer: Any) -> None:
    created = create(client, bearer)

    response = client.get(f"/v1/opportunities/{created['id']}", headers=bearer("alice"))

    assert response.status_code == 200
    assert response.get_json() == created
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Cache-Control"] == "no-store"


def test_a_hand_set_probability_on_create_is_kept(client: FlaskClient, bearer: Any) -> None:
    created = create(client, bearer, probability=42)

    assert (created["probability"], created["probability_source"]) == (42, "manual")


def test_patch_changes_only_the_members_present(client: FlaskClient, bearer: Any) -> None:
    created = create(client, bearer)

    response = client.patch(
        f"/v1/opportunities/{created['id']}",
        json={"name": "Acme renewal (3y)", "amount": {"amount_minor": 250000}},
        headers=bearer("alice"),
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["name"] == "Acme renewal (3y)"
    assert body["amount"] == {"currency_code": "EUR", "amount_minor": 250000}
    assert body["sales_stage"] == "Prospecting"
    assert body["version"] == 2
    assert response.headers["ETag"] == '"2"'


def test_patch_with_merge_patch_media_type_is_accepted(client: FlaskClient, bearer: Any) -> None:
    created = create(client, bearer)

    response = client.patch(
        f"/v1/opportunities/{created['id']}",
        data='{"sales_stage": "Qualification"}',
        content_type="application/merge-patch+json",
        headers=bearer("alice"),
    )

    assert response.status_code == 200
    assert response.get_json()["probability"] == 20


def test_null_probability_makes_a_hand_set_probability_follow_the_stage_again(
    client: FlaskClient, bearer: Any
) -> None:
    created = create(client, bearer, probability=90)

    response = client.patch(
        f"/v1/opportunities/{created['id']}", json={"probability": None}, headers=bearer("alice")
    )

    assert response.status_code == 200
    assert (response.get_json()["probability"], response.get_json()["probability_source"]) == (10, "stage")


def test_a_current_if_match_lets_the_change_through(client: FlaskClient, bearer: Any) -> None:
    created = create(client, bearer)

    response = client.patch(
        f"/v1/opportunities/{created['id']}",
        json={"probability": 55},
        headers={**bearer("alice"), "If-Match": '"1"'},
    )

    assert response.status_code == 200
    assert response.get_json()["probability_source"] == "manual"


def test_a_stale_if_match_is_a_409_version_mismatch(client: FlaskClient, bearer: Any) -> None:
    created = create(client, bearer)
    client.patch(f"/v1/opportunities/{created['id']}", json={"name": "Changed"}, headers=bearer("alice"))

    response = client.patch(
        f"/v1/opportunities/{created['id']}",
        json={"name": "Lost update"},
        headers={**bearer("alice"), "If-Match": '"1"'},
    )

    assert response.status_code == 409
    assert response.mimetype == PROBLEM
    problem = response.get_json()
    assert problem["type"].endswith("/version-mismatch")
    assert problem["reason"] == "VERSION_MISMATCH"
    assert problem["status"] == 409


def test_a_stale_expected_version_in_the_body_is_a_409(client: FlaskClient, bearer: Any) -> None:
    created = create(client, bearer)
    client.patch(f"/v1/opportunities/{created['id']}", json={"name": "Changed"}, headers=bearer("alice"))

    response = client.patch(
        f"/v1/opportunities/{created['id']}",
        json={"name": "Lost update", "expected_version": 1},
        headers=bearer("alice"),
    )

    assert response.status_code == 409


def test_an_if_match_that_is_not_a_version_is_a_400(client: FlaskClient, bearer: Any) -> None:
    created = create(client, bearer)

    response = client.patch(
        f"/v1/opportunities/{created['id']}",
        json={"name": "x"},
        headers={**bearer("alice"), "If-Match": 'W/"abc"'},
    )

    assert "If-Match" in errors_of(response)


def test_if_match_and_expected_version_that_disagree_are_a_400(client: FlaskClient, bearer: Any) -> None:
    created = create(client, bearer)

    response = client.patch(
        f"/v1/opportunities/{created['id']}",
        json={"name": "x", "expected_version": 2},
        headers={**bearer("alice"), "If-Match": '"1"'},
    )

    assert "expected_version" in errors_of(response)


def test_values_the_service_rejects_come_back_as_400_with_its_field_violations(
    client: FlaskClient, bearer: Any
) -> None:
    response = client.post(
        "/v1/opportunities",
        json=new_deal(name="  ", amount={"currency_code": "XXX", "amount_minor": -5}, sales_stage="Dreaming"),
        headers=bearer("alice"),
    )

    errors = errors_of(response)
    assert set(errors) >= {"name", "amount.currency_code", "amount.amount_minor", "sales_stage"}
    assert response.get_json()["type"].endswith("/invalid-request")


def test_wrong_json_types_are_400_with_every_field_named_and_never_reach_the_service(
    client: FlaskClient, bearer: Any
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
        headers=bearer("alice"),
    )

    errors = errors_of(response)
    assert set(errors) == {"name", "amount.amount_minor", "expected_close_date", "sales_stage", "probability"}
    assert "integer" in errors["amount.amount_minor"]


def test_a_float_amount_is_rejected(client: FlaskClient, bearer: Any) -> None:
    response = client.post(
        "/v1/opportunities",
        data='{"name": "x", "amount": {"currency_code": "EUR", "amount_minor": 1000.0},'
        ' "expected_close_date": "2026-12-31", "sales_stage": "Prospecting"}',
        content_type="application/json",
        headers=bearer("alice"),
    )

    assert errors_of(response)["amount.amount_minor"] == "must be an integer, not number"


def test_an_amount_beyond_int64_is_a_400_not_a_crash(client: FlaskClient, bearer: Any) -> None:
    response = client.post(
        "/v1/opportunities",
        json=new_deal(amount={"currency_code": "EUR", "amount_minor": 2**70}),
        headers=bearer("alice"),
    )

    assert "amount.amount_minor" in errors_of(response)


def test_an_impossible_date_is_a_400(client: FlaskClient, bearer: Any) -> None:
    response = client.post(
        "/v1/opportunities", json=new_deal(expected_close_date="2026-02-30"), headers=bearer()
    )

    assert errors_of(response)["expected_close_date"] == "is not a valid calendar date"


def test_missing_members_are_each_reported(client: FlaskClient, bearer: Any) -> None:
    response = client.post("/v1/opportunities", json={"amount": {}}, headers=bearer())

    assert set(errors_of(response)) == {
        "name",
        "amount.currency_code",
        "amount.amount_minor",
        "expected_close_date",
        "sales_stage",
    }


def test_unknown_members_are_rejected_rather_than_ignored(client: FlaskClient, bearer: Any) -> None:
    created = create(client, bearer)

    response = client.patch(f"/v1/opportunities/{created['id']}", json={"ammount": 5}, headers=bearer())

    assert "ammount" in errors_of(response)


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


def test_a_null_for_a_field_that_cannot_be_cleared_is_a_400(client: FlaskClient, bearer: Any) -> None:
    created = create(client, bearer)

    response = client.patch(f"/v1/opportunities/{created['id']}", json={"name": None}, headers=bearer())

    assert "name" in errors_of(response)


def test_an_empty_patch_is_a_400(client: FlaskClient, bearer: Any) -> None:
    created = create(client, bearer)

    response = client.patch(f"/v1/opportunities/{created['id']}", json={}, headers=bearer())

    assert "body" in errors_of(response)


def test_an_unknown_opportunity_is_404(client: FlaskClient, bearer: Any) -> None:
    response = client.get(f"/v1/opportunities/{uuid.uuid4()}", headers=bearer())

    assert response.status_code == 404
    assert response.mimetype == PROBLEM
    assert response.get_json()["type"].endswith("/not-found")


def test_a_malformed_opportunity_id_is_400(client: FlaskClient, bearer: Any) -> None:
    response = client.get("/v1/opportunities/not-a-uuid", headers=bearer())

    assert errors_of(response) == {"opportunity_id": "must be a UUID"}


def test_a_rep_reading_someone_elses_deal_is_403(client: FlaskClient, bearer: Any) -> None:
    created = create(client, bearer, subject="alice")

    response = client.get(f"/v1/opportunities/{created['id']}", headers=bearer("bob", "rep"))

    assert response.status_code == 403
    assert response.mimetype == PROBLEM
    assert response.get_json()["type"].endswith("/permission-denied")


def test_a_manager_reads_a_reps_deal(client: FlaskClient, bearer: Any) -> None:
    created = create(client, bearer, subject="alice")

    response = client.get(f"/v1/opportunities/{created['id']}", headers=bearer("carol", "manager"))

    assert response.status_code == 200


def test_sales_stages_are_listed_in_order(client: FlaskClient, bearer: Any) -> None:
    response = client.get("/v1/sales-stages", headers=bearer())

    assert response.status_code == 200
    stages = response.get_json()["sales_stages"]
    assert stages[0] == {
        "name": "Prospecting",
        "default_probability": 10,
        "is_won": False,
        "is_lost": False,
        "order": 0,
    }
    assert [s["order"] for s in stages] == list(range(len(stages)))
