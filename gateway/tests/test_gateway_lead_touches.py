"""Lead touches through HTTP: recorded with 201 (200 when the key existed), listed oldest first,
sent along when a lead is created, and the service's violations named as the caller wrote them."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import code_pb2

from salesplane.leads.v1 import leads_pb2

PROBLEM = "application/problem+json"
LEAD_ID = "0f5a3c1e-8d1b-4b8e-9a51-3f6f0a0c2d11"
CAMPAIGN_ID = "7d1f0c2a-3b4e-4f5a-8b6c-9d0e1f2a3b4c"
TOUCHES = f"/v1/leads/{LEAD_ID}/touches"


def a_touch(**values: Any) -> leads_pb2.LeadTouch:
    return leads_pb2.LeadTouch(
        **{
            "id": "t-1",
            "lead_id": LEAD_ID,
            "campaign_id": CAMPAIGN_ID,
            "kind": leads_pb2.TOUCH_KIND_EVENT,
            "touch_time": Timestamp(seconds=1_741_100_400),
            "touch_key": "crm-1",
            **values,
        }
    )


BODY = {
    "campaign_id": CAMPAIGN_ID,
    "kind": "event",
    "touch_time": "2025-03-04T15:00:00Z",
    "touch_key": "crm-1",
}


def test_a_new_touch_is_201_and_the_body_fills_the_touch_input(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply("RecordLeadTouch", leads_pb2.RecordLeadTouchResponse(touch=a_touch(), created=True))

    response = client.post(TOUCHES, json={**BODY, "note": "booth visit"}, headers=bearer())

    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["created"] is True
    assert body["touch"]["kind"] == "event" and body["touch"]["touch_time"] == "2025-03-04T15:00:00Z"
    assert fake.last("RecordLeadTouch") == leads_pb2.RecordLeadTouchRequest(
        lead_id=LEAD_ID,
        touch=leads_pb2.TouchInput(
            campaign_id=CAMPAIGN_ID,
            kind=leads_pb2.TOUCH_KIND_EVENT,
            touch_time=Timestamp(seconds=1_741_100_400),
            touch_key="crm-1",
            note="booth visit",
        ),
    )


def test_a_touch_key_recorded_before_is_200_with_the_first_touch(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply(
        "RecordLeadTouch", leads_pb2.RecordLeadTouchResponse(touch=a_touch(note="first"), created=False)
    )

    response = client.post(TOUCHES, json=BODY, headers=bearer())

    assert response.status_code == 200
    assert response.get_json()["created"] is False
    assert response.get_json()["touch"]["note"] == "first"


def test_violations_of_the_touch_are_named_as_members_of_the_body(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.invalid(
        "RecordLeadTouch",
        ("touch.campaign_id", "no campaign has this id"),
        ("touch.touch_time", "must not be in the future (more than 5 minutes ahead)"),
    )

    response = client.post(TOUCHES, json=BODY, headers=bearer())

    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert {e["field"]: e["description"] for e in response.get_json()["errors"]} == {
        "campaign_id": "no campaign has this id",
        "touch_time": "must not be in the future (more than 5 minutes ahead)",
    }


def test_a_body_the_gateway_cannot_read_is_400_before_any_call(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    response = client.post(
        TOUCHES, json={**BODY, "kind": "postcard", "touch_time": "yesterday"}, headers=bearer()
    )

    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert {e["field"] for e in response.get_json()["errors"]} == {"kind", "touch_time"}
    assert fake.requests("RecordLeadTouch") == []


def test_an_unknown_lead_is_a_404_problem(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.fail("RecordLeadTouch", code_pb2.NOT_FOUND, f"lead {LEAD_ID!r} not found")

    response = client.post(TOUCHES, json=BODY, headers=bearer())

    assert response.status_code == 404 and response.mimetype == PROBLEM


def test_a_leads_touches_are_listed_with_the_first_and_last(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    first, last = a_touch(id="t-1"), a_touch(id="t-2", touch_time=Timestamp(seconds=1_741_200_000))
    fake.reply(
        "ListLeadTouches",
        leads_pb2.ListLeadTouchesResponse(touches=[first, last], first_touch=first, last_touch=last),
    )

    response = client.get(TOUCHES, headers=bearer())

    assert response.status_code == 200
    body = response.get_json()
    assert [t["id"] for t in body["touches"]] == ["t-1", "t-2"]
    assert (body["first_touch"]["id"], body["last_touch"]["id"]) == ("t-1", "t-2")
    assert fake.last("ListLeadTouches") == leads_pb2.ListLeadTouchesRequest(lead_id=LEAD_ID)


def test_touches_ride_along_when_a_lead_is_created(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.reply(
        "CreateLead",
        leads_pb2.CreateLeadResponse(
            outcome=leads_pb2.CREATE_LEAD_OUTCOME_CREATED, lead=leads_pb2.Lead(id=LEAD_ID, version=1)
        ),
    )
    response = client.post(
        "/v1/leads",
        json={"lead": {"last_name": "Lovelace"}, "touches": [BODY, {**BODY, "kind": "ad"}]},
        headers=bearer(),
    )

    assert response.status_code == 201
    sent = fake.last("CreateLead")
    assert [t.kind for t in sent.touches] == [leads_pb2.TOUCH_KIND_EVENT, leads_pb2.TOUCH_KIND_AD]
    assert sent.touches[0].touch_time == Timestamp(seconds=1_741_100_400)


def test_violations_of_touches_on_create_name_the_touch(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.invalid("CreateLead", ("touches[1].campaign_id", "no campaign has this id"))

    response = client.post(
        "/v1/leads", json={"lead": {"last_name": "L"}, "touches": [BODY, BODY]}, headers=bearer()
    )

    assert response.status_code == 400
    assert {e["field"] for e in response.get_json()["errors"]} == {"touches[1].campaign_id"}


def test_both_touch_routes_are_in_the_openapi_document(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()

    operations = document["paths"]["/v1/leads/{lead_id}/touches"]
    assert operations["post"]["operationId"] == "recordLeadTouch"
    assert set(operations["post"]["responses"]) >= {"200", "201"}
    assert operations["get"]["operationId"] == "listLeadTouches"
