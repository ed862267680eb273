"""The lead workflow, scoring rules, lead sources and campaigns through HTTP."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.leads.v1 import leads_pb2

PROBLEM = "application/problem+json"
LEAD_ID = "0f5a3c1e-8d1b-4b8e-9a51-3f6f0a0c2d11"
LEAD = f"/v1/leads/{LEAD_ID}"
SOURCE_ID = "5b1e7c2a-3d4f-4a6b-8c9d-0e1f2a3b4c5d"
CAMPAIGN_ID = "9c8b7a6d-5e4f-4321-8765-43210fedcba9"
DUPLICATE_IDS = ["1a2b3c4d-0000-4000-8000-000000000002", "1a2b3c4d-0000-4000-8000-000000000003"]


def errors_of(response: Any) -> dict[str, str]:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    return {e["field"]: e["description"] for e in response.get_json()["errors"]}


def a_lead(**fields: Any) -> leads_pb2.Lead:
    return leads_pb2.Lead(**{"id": LEAD_ID, "last_name": "Lovelace", "version": 5, **fields})


def test_duplicates_under_the_reject_policy_are_a_409_listing_the_candidates(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply(
        "CreateLead",
        leads_pb2.CreateLeadResponse(
            outcome=leads_pb2.CREATE_LEAD_OUTCOME_DUPLICATES_FOUND,
            duplicates=[
                leads_pb2.DuplicateCandidate(
                    lead_id="l-7",
                    reasons=[leads_pb2.DUPLICATE_REASON_SAME_EMAIL, leads_pb2.DUPLICATE_REASON_SAME_PHONE],
                    display_name="Ada Lovelace",
                    company="Engines Ltd",
                )
            ],
        ),
    )

    response = client.post("/v1/leads", json={"lead": {"last_name": "Lovelace"}}, headers=bearer())

    assert response.status_code == 409
    assert response.mimetype == PROBLEM
    problem = response.get_json()
    assert problem["type"].endswith("/duplicate-lead")
    assert problem["reason"] == "DUPLICATES_FOUND"
    assert problem["duplicates"] == [
        {
            "lead_id": "l-7",
            "reasons": ["same_email", "same_phone"],
            "display_name": "Ada Lovelace",
            "company": "Engines Ltd",
        }
    ]
    assert "Location" not in response.headers


def test_a_lead_merged_into_an_existing_one_is_200_without_location(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply(
        "CreateLead",
        leads_pb2.CreateLeadResponse(outcome=leads_pb2.CREATE_LEAD_OUTCOME_MERGED, lead=a_lead(version=9)),
    )

    response = client.post(
        "/v1/leads",
        json={"lead": {"last_name": "Lovelace"}, "on_duplicate": "merge", "request_id": "k1"},
        headers=bearer(),
    )

    assert response.status_code == 200
    assert response.get_json()["outcome"] == "merged"
    assert response.headers["ETag"] == '"9"'
    assert "Location" not in response.headers
    sent = fake.last("CreateLead")
    assert (sent.on_duplicate, sent.request_id) == (leads_pb2.DUPLICATE_POLICY_MERGE, "k1")


def test_lead_list_filters_and_pagination_come_from_the_query(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply("ListLeads", leads_pb2.ListLeadsResponse(leads=[a_lead()], next_page_token="next"))

    response = client.get(
        "/v1/leads?status=new&status=in_process&assigned_user_id=alice&assigned_user_id=bob"
        f"&lead_source_id={SOURCE_ID}&campaign_id={CAMPAIGN_ID}&text=ada&min_score=0&page_size=10&page_token=p2",
        headers=bearer(),
    )

    assert response.status_code == 200
    assert response.get_json()["next_page_token"] == "next"
    sent = fake.last("ListLeads")
    assert sent == leads_pb2.ListLeadsRequest(
        page_size=10,
        page_token="p2",
        statuses=[leads_pb2.LEAD_STATUS_NEW, leads_pb2.LEAD_STATUS_IN_PROCESS],
        assigned_user_ids=["alice", "bob"],
        lead_source_id=SOURCE_ID,
        campaign_id=CAMPAIGN_ID,
        text="ada",
        min_score=0,
    )
    assert sent.HasField("min_score")


def test_a_lead_patch_sends_lead_fields_and_their_mask(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.reply("UpdateLead", a_lead(version=6))

    response = client.patch(
        LEAD,
        json={"email": "ada@example.org", "address": {"city": "London"}, "website": None},
        headers={**bearer(), "If-Match": '"5"'},
    )

    assert response.status_code == 200
    assert response.headers["ETag"] == '"6"'
    sent = fake.last("UpdateLead")
    assert sent.lead_id == LEAD_ID
    assert list(sent.update_mask.paths) == ["email", "address.city", "website"]
    assert sent.lead == leads_pb2.LeadFields(
        email="ada@example.org", address=leads_pb2.Address(city="London")
    )
    assert sent.expected_version == 5


def test_violations_of_a_lead_patch_are_named_within_the_patch(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.invalid(
        "UpdateLead", ("lead.address.country_code", "must be ISO 3166-1 alpha-2"), ("lead_id", "bad")
    )

    response = client.patch(LEAD, json={"address": {"country_code": "XX"}}, headers=bearer())

    assert errors_of(response) == {"address.country_code": "must be ISO 3166-1 alpha-2", "lead_id": "bad"}


def test_assigning_changing_status_and_qualifying_a_lead(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.reply("QualifyLead", a_lead(score=80, qualified=True))

    assigned = client.post(f"{LEAD}:assign", json={"assigned_user_id": "bob"}, headers=bearer())
    changed = client.post(
        f"{LEAD}:change-status", json={"status": "dead", "reason": "no budget"}, headers=bearer()
    )
    qualified = client.post(
        f"{LEAD}:qualify",
        json={
            "qualification": {
                "budget": {"currency_code": "EUR", "amount_minor": 5_000_000},
                "authority": "decision_maker",
                "need": "high",
                "timeline": "2026-12-01",
            }
        },
        headers={**bearer(), "If-Match": '"5"'},
    )

    assert [r.status_code for r in (assigned, changed, qualified)] == [200, 200, 200]
    assert fake.last("AssignLead") == leads_pb2.AssignLeadRequest(lead_id=LEAD_ID, assigned_user_id="bob")
    assert fake.last("ChangeLeadStatus") == leads_pb2.ChangeLeadStatusRequest(
        lead_id=LEAD_ID, status=leads_pb2.LEAD_STATUS_DEAD, reason="no budget"
    )
    assert fake.last("QualifyLead") == leads_pb2.QualifyLeadRequest(
        lead_id=LEAD_ID,
        qualification=leads_pb2.Qualification(
            budget=Money(currency_code="EUR", amount_minor=5_000_000),
            authority=leads_pb2.AUTHORITY_DECISION_MAKER,
            need=leads_pb2.NEED_HIGH,
            timeline=Date(year=2026, month=12, day=1),
        ),
        expected_version=5,
    )
    assert qualified.get_json()["score"] == 80
    assert qualified.headers["ETag"] == '"5"'


def test_unassigning_sends_an_empty_user(client: FlaskClient, bearer: Any, fake: Any) -> None:
    response = client.post(f"{LEAD}:assign", json={}, headers=bearer())

    assert response.status_code == 200
    assert fake.last("AssignLead") == leads_pb2.AssignLeadRequest(lead_id=LEAD_ID)


def test_converting_a_lead_answers_the_lead_and_the_new_opportunity_id(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply(
        "ConvertLead",
        leads_pb2.ConvertLeadResponse(
            lead=a_lead(status=leads_pb2.LEAD_STATUS_CONVERTED, version=7), opportunity_id="opp-1"
        ),
    )

    response = client.post(
        f"{LEAD}:convert",
        json={"opportunity_name": "Engines", "amount": {"currency_code": "EUR", "amount_minor": 1}},
        headers=bearer(),
    )

    assert response.status_code == 200
    assert response.headers["ETag"] == '"7"'
    body = response.get_json()
    assert (body["opportunity_id"], body["lead"]["status"]) == ("opp-1", "converted")
    assert fake.last("ConvertLead").amount == Money(currency_code="EUR", amount_minor=1)


def test_merging_leads_takes_the_primary_from_the_path(client: FlaskClient, bearer: Any, fake: Any) -> None:
    response = client.post(f"{LEAD}:merge", json={"duplicate_lead_ids": DUPLICATE_IDS}, headers=bearer())

    assert response.status_code == 200
    assert fake.last("MergeLeads") == leads_pb2.MergeLeadsRequest(
        primary_lead_id=LEAD_ID, duplicate_lead_ids=DUPLICATE_IDS
    )


def test_a_violation_of_the_primary_lead_is_named_as_the_path_parameter(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.invalid(
        "MergeLeads", ("primary_lead_id", "must be a UUID"), ("duplicate_lead_ids[0]", "is the primary")
    )

    response = client.post(f"{LEAD}:merge", json={"duplicate_lead_ids": [LEAD_ID]}, headers=bearer())

    assert errors_of(response) == {"lead_id": "must be a UUID", "duplicate_lead_ids[0]": "is the primary"}


def test_scoring_rules_are_read_and_replaced_with_their_revision(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    rules = leads_pb2.ScoringRules(
        rules=[
            leads_pb2.ScoringRule(
                id="r1",
                criterion=leads_pb2.SCORING_CRITERION_BUDGET_AT_LEAST,
                points=30,
                min_budget=Money(currency_code="EUR", amount_minor=100_000),
            )
        ],
        revision=2,
    )
    fake.reply("GetScoringRules", rules)
    fake.reply("ReplaceScoringRules", leads_pb2.ScoringRules(rules=rules.rules, revision=3))

    read = client.get("/v1/scoring-rules", headers=bearer())
    replaced = client.put(
        "/v1/scoring-rules",
        json={"rules": read.get_json()["rules"]},
        headers={**bearer("root", "admin"), "If-Match": read.headers["ETag"]},
    )

    assert read.headers["ETag"] == '"2"'
    assert read.get_json()["rules"][0]["criterion"] == "budget_at_least"
    assert replaced.status_code == 200, replaced.get_json()
    assert replaced.headers["ETag"] == '"3"'
    sent = fake.last("ReplaceScoringRules")
    assert list(sent.rules) == list(rules.rules)
    assert sent.expected_revision == 2


def test_lead_sources_are_created_with_201_and_listed(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.reply(
        "CreateLeadSource",
        leads_pb2.LeadSource(id="s1", name="Web", channel=leads_pb2.CHANNEL_WEB, version=1),
    )
    fake.reply(
        "ListLeadSources", leads_pb2.ListLeadSourcesResponse(lead_sources=[leads_pb2.LeadSource(id="s1")])
    )

    created = client.post("/v1/lead-sources", json={"name": "Web", "channel": "web"}, headers=bearer())
    listed = client.get("/v1/lead-sources", headers=bearer())

    assert created.status_code == 201
    assert created.get_json()["channel"] == "web"
    assert created.headers["ETag"] == '"1"'
    assert "Location" not in created.headers  # there is no route to read one lead source
    assert fake.last("CreateLeadSource") == leads_pb2.CreateLeadSourceRequest(
        name="Web", channel=leads_pb2.CHANNEL_WEB
    )
    assert [s["id"] for s in listed.get_json()["lead_sources"]] == ["s1"]


def campaign(**fields: Any) -> leads_pb2.Campaign:
    return leads_pb2.Campaign(**{"id": CAMPAIGN_ID, "name": "Spring", "version": 1, **fields})


def test_campaigns_are_created_read_listed_patched_and_charged(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply("CreateCampaign", campaign(budget=Money(currency_code="EUR", amount_minor=100)))
    fake.reply("GetCampaign", campaign())
    fake.reply("ListCampaigns", leads_pb2.ListCampaignsResponse(campaigns=[campaign()]))
    fake.reply("UpdateCampaign", campaign(version=2))
    fake.reply("RecordCampaignCost", campaign(version=3))

    created = client.post(
        "/v1/campaigns",
        json={
            "name": "Spring",
            "lead_source_id": SOURCE_ID,
            "budget": {"currency_code": "EUR", "amount_minor": 100},
            "start_date": "2026-03-01",
            "end_date": "2026-05-31",
        },
        headers=bearer(),
    )
    read = client.get(f"/v1/campaigns/{CAMPAIGN_ID}", headers=bearer())
    listed = client.get(f"/v1/campaigns?lead_source_id={SOURCE_ID}", headers=bearer())
    patched = client.patch(
        f"/v1/campaigns/{CAMPAIGN_ID}",
        json={"budget": {"currency_code": "EUR", "amount_minor": 200}, "end_date": None},
        headers={**bearer(), "If-Match": '"1"'},
    )
    charged = client.post(
        f"/v1/campaigns/{CAMPAIGN_ID}:record-cost",
        json={
            "incurred_on": "2026-03-05",
            "amount": {"currency_code": "EUR", "amount_minor": 40},
            "request_id": "x",
        },
        headers=bearer(),
    )

    assert (created.status_code, created.headers["Location"], created.headers["ETag"]) == (
        201,
        f"/v1/campaigns/{CAMPAIGN_ID}",
        '"1"',
    )
    assert fake.last("CreateCampaign").start_date == Date(year=2026, month=3, day=1)
    assert (read.status_code, read.headers["ETag"]) == (200, '"1"')
    assert fake.last("GetCampaign").campaign_id == CAMPAIGN_ID
    assert fake.last("ListCampaigns").lead_source_id == SOURCE_ID
    assert len(listed.get_json()["campaigns"]) == 1
    assert patched.headers["ETag"] == '"2"'
    update = fake.last("UpdateCampaign")
    assert (update.campaign.id, list(update.update_mask.paths), update.expected_version) == (
        CAMPAIGN_ID,
        ["budget", "end_date"],
        1,
    )
    assert update.campaign.budget == Money(currency_code="EUR", amount_minor=200)
    assert charged.headers["ETag"] == '"3"'
    assert fake.last("RecordCampaignCost") == leads_pb2.RecordCampaignCostRequest(
        campaign_id=CAMPAIGN_ID,
        incurred_on=Date(year=2026, month=3, day=5),
        amount=Money(currency_code="EUR", amount_minor=40),
        request_id="x",
    )


def test_a_campaign_patch_replaces_money_whole_and_refuses_other_fields(
    client: FlaskClient, bearer: Any
) -> None:
    response = client.patch(
        f"/v1/campaigns/{CAMPAIGN_ID}",
        json={"channel": "web", "actual_cost": {"amount_minor": 1}},
        headers=bearer(),
    )

    assert set(errors_of(response)) == {"channel", "actual_cost"}
