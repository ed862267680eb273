"""The Leads screen over the fake upstreams: the list's filters and paging as the request to
ListLeads; creating a lead with the duplicates the service reports, merging or creating anyway;
qualifying with the score and its breakdown; status changes and conversion into a deal; the CSV
import with its per-row report; another rep's lead by URL is the service's 403."""

from __future__ import annotations

import io
import re
from typing import Any

import grpc
from flask.testing import FlaskClient

from gateway.tests.test_console_pages import sign_in
from salesplane.common.v1.common_pb2 import Money
from salesplane.leads.v1 import leads_pb2 as pb
from salesplane.opportunities.v1 import opportunities_pb2

FakeUpstreams = Any
LEAD = "0f5a3c1e-8d1b-4b8e-9a51-3f6f0a0c2d11"
OTHER = "1a2b3c4d-0000-4000-8000-000000000001"
DEAL = "6c1f2e4a-3b5d-4c7e-8f90-a1b2c3d4e5f6"
PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED.value[0]
ABORTED = grpc.StatusCode.ABORTED.value[0]


def _signed_in(client: FlaskClient, fake: FakeUpstreams) -> str:
    sign_in(client, fake)
    fake.reply(
        "ListLeadSources",
        pb.ListLeadSourcesResponse(lead_sources=[pb.LeadSource(id="src-1", name="Webinar")]),
    )
    fake.reply("ListExchangeRates", opportunities_pb2.ListExchangeRatesResponse(base_currency_code="PLN"))
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/leads/new").get_data(as_text=True))
    assert found
    return found.group(1)


def _lead(**overrides: Any) -> pb.Lead:
    fields: dict[str, Any] = {
        "id": LEAD,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "Analytical Engines",
        "email": "ada@example.com",
        "status": pb.LEAD_STATUS_IN_PROCESS,
        "assigned_user_id": "anna.nowak",
        "lead_source_id": "src-1",
        "version": 4,
    }
    lead = pb.Lead(**{**fields, **overrides})
    lead.create_time.FromSeconds(1_790_000_000)
    return lead


def test_the_list_asks_the_service_with_the_filters_and_pages(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    _signed_in(client, fake)
    fake.reply("ListLeads", pb.ListLeadsResponse(leads=[_lead(score=40)], next_page_token="next-1"))

    answer = client.get("/leads?status=in_process&source=src-1&owner=anna.nowak&q=ada&min_score=30")

    assert answer.status_code == 200
    sent = fake.last("ListLeads")
    assert list(sent.statuses) == [pb.LEAD_STATUS_IN_PROCESS] and sent.lead_source_id == "src-1"
    assert list(sent.assigned_user_ids) == ["anna.nowak"] and sent.text == "ada" and sent.min_score == 30
    html = answer.get_data(as_text=True)
    assert "Ada Lovelace" in html and f'href="/leads/{LEAD}"' in html and "Webinar" in html
    assert 'class="table-wrap"' in html
    assert re.search(r'href="[^"]*page_token=next-1[^"]*" rel="next"', html)


def test_a_bad_score_filter_is_shown_beside_it(client: FlaskClient, fake: FakeUpstreams) -> None:
    _signed_in(client, fake)

    answer = client.get("/leads?min_score=lots")

    assert answer.status_code == 422
    assert re.search(r'id="f-min_score"[^>]*aria-invalid="true"', answer.get_data(as_text=True))
    assert fake.requests("ListLeads") == []


def test_another_reps_lead_by_url_is_the_services_403(client: FlaskClient, fake: FakeUpstreams) -> None:
    _signed_in(client, fake)
    fake.fail("GetLead", PERMISSION_DENIED, "anna.nowak may not read this lead")

    answer = client.get(f"/leads/{OTHER}")

    assert answer.status_code == 403
    assert "This is not yours to see" in answer.get_data(as_text=True)
    assert fake.last("GetLead").lead_id == OTHER


def test_creating_a_lead_refuses_duplicates_first_and_assigns_to_me(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    token = _signed_in(client, fake)
    form = client.get("/leads/new").get_data(as_text=True)
    request_id = re.search(r'name="request_id" value="([^"]+)"', form)
    assert request_id

    answer = client.post(
        "/leads/new",
        data={
            "csrf_token": token,
            "request_id": request_id.group(1),
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "lead_source": "src-1",
            "assigned": "anna.nowak",
            "on_duplicate": "reject",
        },
    )

    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/leads/{LEAD}?done=created"
    sent = fake.last("CreateLead")
    assert sent.on_duplicate == pb.DUPLICATE_POLICY_REJECT and sent.request_id == request_id.group(1)
    assert sent.lead.last_name == "Lovelace" and sent.lead.lead_source_id == "src-1"
    assert sent.assigned_user_id == "anna.nowak"


def test_a_lead_without_a_last_name_is_refused_beside_the_field(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    token = _signed_in(client, fake)

    answer = client.post("/leads/new", data={"csrf_token": token, "first_name": "Ada", "last_name": " "})

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert re.search(r'id="f-last_name"[^>]*aria-invalid="true"[^>]*aria-describedby="e-last_name"', html)
    assert 'value="Ada"' in html
    assert fake.requests("CreateLead") == []


def _duplicates() -> pb.CreateLeadResponse:
    return pb.CreateLeadResponse(
        outcome=pb.CREATE_LEAD_OUTCOME_DUPLICATES_FOUND,
        duplicates=[
            pb.DuplicateCandidate(
                lead_id=LEAD,
                reasons=[pb.DUPLICATE_REASON_SAME_EMAIL, pb.DUPLICATE_REASON_SAME_PERSON_AT_COMPANY],
                display_name="Ada Lovelace",
                company="Analytical Engines",
            ),
            pb.DuplicateCandidate(
                lead_id=OTHER, reasons=[pb.DUPLICATE_REASON_SAME_PHONE], display_name="A. Lovelace"
            ),
        ],
    )


def test_duplicates_are_shown_with_merge_and_create_anyway(client: FlaskClient, fake: FakeUpstreams) -> None:
    token = _signed_in(client, fake)
    fake.reply("CreateLead", _duplicates())
    data = {"csrf_token": token, "request_id": "key-1", "last_name": "Lovelace", "email": "ada@example.com"}

    answer = client.post("/leads/new", data={**data, "on_duplicate": "reject"})

    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert "This lead may already exist" in html
    assert "same e-mail address, same person at the same company" in html and "same phone number" in html
    assert (
        'name="on_duplicate" value="merge"' in html
        and "Add these details to the best matching lead instead" in html
    )
    assert 'name="on_duplicate" value="insist"' in html and "Create anyway" in html
    assert 'value="ada@example.com"' in html  # the typed values stay

    fake.reply("CreateLead", pb.CreateLeadResponse(outcome=pb.CREATE_LEAD_OUTCOME_MERGED, lead=_lead()))
    merged = client.post("/leads/new", data={**data, "on_duplicate": "merge"})
    assert merged.headers["Location"] == f"/leads/{LEAD}?done=merged"
    assert fake.last("CreateLead").on_duplicate == pb.DUPLICATE_POLICY_MERGE
    assert fake.last("CreateLead").request_id == "key-1"

    fake.reply(
        "CreateLead", pb.CreateLeadResponse(outcome=pb.CREATE_LEAD_OUTCOME_CREATED, lead=_lead(id=OTHER))
    )
    insisted = client.post("/leads/new", data={**data, "on_duplicate": "insist"})
    assert insisted.status_code == 303
    assert fake.last("CreateLead").on_duplicate == pb.DUPLICATE_POLICY_INSIST


def test_the_existing_duplicates_can_be_merged_into_one(client: FlaskClient, fake: FakeUpstreams) -> None:
    token = _signed_in(client, fake)
    fake.reply("CreateLead", _duplicates())
    html = client.post(
        "/leads/new", data={"csrf_token": token, "last_name": "Lovelace", "on_duplicate": "reject"}
    ).get_data(as_text=True)
    assert 'action="/leads/merge"' in html

    answer = client.post(
        "/leads/merge", data={"csrf_token": token, "primary": OTHER, "candidate": [LEAD, OTHER]}
    )

    assert answer.status_code == 303 and answer.headers["Location"] == f"/leads/{OTHER}?done=folded"
    sent = fake.last("MergeLeads")
    assert sent.primary_lead_id == OTHER and list(sent.duplicate_lead_ids) == [LEAD]


def test_a_lead_page_shows_the_score_and_its_breakdown(client: FlaskClient, fake: FakeUpstreams) -> None:
    _signed_in(client, fake)
    fake.reply(
        "GetLead",
        _lead(
            qualified=True,
            score=60,
            score_breakdown=[
                pb.ScoreComponent(
                    rule_id="r1", description="Budget of 10 000 or more", points=40, matched=True
                ),
                pb.ScoreComponent(rule_id="r2", description="Decision maker", points=30, matched=False),
            ],
        ),
    )

    html = client.get(f"/leads/{LEAD}").get_data(as_text=True)

    assert "60 of 100" in html
    assert re.search(r"Budget of 10 000 or more</th><td>Yes</td><td class=\"num\">40", html)
    assert re.search(r"Decision maker</th><td>No</td>", html)
    assert "Convert into a deal" in html and "Qualify" in html


def test_qualifying_sends_the_budget_in_minor_units_with_the_version(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    token = _signed_in(client, fake)
    fake.reply("GetLead", _lead())

    answer = client.post(
        f"/leads/{LEAD}/qualify",
        data={
            "csrf_token": token,
            "version": "4",
            "budget": "50000",
            "budget_currency": "eur",
            "authority": "decision_maker",
            "need": "high",
            "timeline": "2026-12-01",
            "notes": "Keen",
        },
    )

    assert answer.status_code == 303 and answer.headers["Location"].endswith("done=qualified")
    sent = fake.last("QualifyLead")
    assert sent.expected_version == 4
    assert (sent.qualification.budget.amount_minor, sent.qualification.budget.currency_code) == (
        5_000_000,
        "EUR",
    )
    assert (
        sent.qualification.authority == pb.AUTHORITY_DECISION_MAKER
        and sent.qualification.need == pb.NEED_HIGH
    )
    assert sent.qualification.timeline.month == 12


def test_a_wrong_qualification_is_refused_beside_its_fields(client: FlaskClient, fake: FakeUpstreams) -> None:
    token = _signed_in(client, fake)
    fake.reply("GetLead", _lead())

    answer = client.post(
        f"/leads/{LEAD}/qualify",
        data={
            "csrf_token": token,
            "version": "4",
            "budget": "12,345",
            "budget_currency": "EUR",
            "timeline": "May",
        },
    )

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert re.search(r'id="f-budget"[^>]*aria-invalid="true"', html)
    assert re.search(r'id="f-timeline"[^>]*aria-invalid="true"', html)
    assert fake.requests("QualifyLead") == []


def test_a_qualification_after_someone_elses_change_says_so(client: FlaskClient, fake: FakeUpstreams) -> None:
    token = _signed_in(client, fake)
    fake.reply("GetLead", _lead(version=5))
    fake.fail("QualifyLead", ABORTED, "version 4 is not 5")

    answer = client.post(f"/leads/{LEAD}/qualify", data={"csrf_token": token, "version": "4", "need": "low"})

    assert answer.status_code == 409
    html = answer.get_data(as_text=True)
    assert "Someone else changed this lead" in html and 'name="version" value="5"' in html


def test_a_dead_lead_needs_a_reason(client: FlaskClient, fake: FakeUpstreams) -> None:
    token = _signed_in(client, fake)
    fake.reply("GetLead", _lead())

    refused = client.post(
        f"/leads/{LEAD}/status", data={"csrf_token": token, "version": "4", "new_status": "dead"}
    )
    assert refused.status_code == 422
    assert re.search(r'id="f-status_reason"[^>]*aria-invalid="true"', refused.get_data(as_text=True))
    assert fake.requests("ChangeLeadStatus") == []

    done = client.post(
        f"/leads/{LEAD}/status",
        data={"csrf_token": token, "version": "4", "new_status": "dead", "status_reason": "Left the company"},
    )
    assert done.status_code == 303
    sent = fake.last("ChangeLeadStatus")
    assert (sent.status, sent.reason, sent.expected_version) == (pb.LEAD_STATUS_DEAD, "Left the company", 4)


def test_converting_links_to_the_new_deal(client: FlaskClient, fake: FakeUpstreams) -> None:
    token = _signed_in(client, fake)
    fake.reply("GetLead", _lead())
    fake.reply("ConvertLead", pb.ConvertLeadResponse(lead=_lead(), opportunity_id=DEAL))

    answer = client.post(
        f"/leads/{LEAD}/convert",
        data={
            "csrf_token": token,
            "opportunity_name": "Engines deal",
            "owner": "anna.nowak",
            "amount": "12000",
            "currency": "PLN",
            "close_date": "2026-12-20",
            "stage": "",
        },
    )

    assert answer.status_code == 303
    sent = fake.last("ConvertLead")
    assert (
        sent.amount == Money(currency_code="PLN", amount_minor=1_200_000)
        and sent.opportunity_name == "Engines deal"
    )
    fake.reply("GetLead", _lead(status=pb.LEAD_STATUS_CONVERTED, converted_opportunity_id=DEAL))
    html = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert f'href="/deals/{DEAL}"' in html and "Lead converted into a deal." in html
    assert "Convert into a deal" not in html


def _report() -> pb.ImportLeadsResponse:
    return pb.ImportLeadsResponse(
        imported=1,
        invalid=1,
        duplicates=1,
        rows=[
            pb.ImportRowResult(line_number=2, outcome=pb.IMPORT_ROW_OUTCOME_IMPORTED, lead_id=LEAD),
            pb.ImportRowResult(
                line_number=3, outcome=pb.IMPORT_ROW_OUTCOME_INVALID, reasons=["last_name: must not be empty"]
            ),
            pb.ImportRowResult(
                line_number=4,
                outcome=pb.IMPORT_ROW_OUTCOME_DUPLICATE,
                lead_id=OTHER,
                reasons=["same e-mail address"],
            ),
        ],
    )


CSV = "last_name,email\nLovelace,ada@example.com\n,nobody@example.com\nBabbage,ada@example.com\n"


def test_an_import_sends_the_file_and_shows_the_per_row_report(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    token = _signed_in(client, fake)
    fake.reply("ImportLeads", _report())
    page = client.get("/leads/import").get_data(as_text=True)
    assert re.search(r'<div class="htmx-indicator"[^>]*>[\s\S]*<progress', page)
    assert 'hx-post="/leads/import"' in page and 'enctype="multipart/form-data"' in page

    answer = client.post(
        "/leads/import",
        data={
            "csrf_token": token,
            "on_duplicate": "reject",
            "file": (io.BytesIO(("\ufeff" + CSV).encode()), "leads.csv"),
        },
        content_type="multipart/form-data",
    )

    assert answer.status_code == 200
    sent = fake.last("ImportLeads")
    assert sent.csv_text.startswith("last_name,email") and sent.first_line_number == 2
    assert sent.file_name == "leads.csv" and sent.on_duplicate == pb.DUPLICATE_POLICY_REJECT
    html = answer.get_data(as_text=True)
    assert '<dd data-figure="imported">1</dd>' in html and '<dd data-figure="invalid">1</dd>' in html
    assert re.findall(r'<tr data-line="(\d+)">', html) == ["3", "4"]
    assert "last_name: must not be empty" in html and "same e-mail address" in html


def test_an_import_by_htmx_answers_the_panel_alone(client: FlaskClient, fake: FakeUpstreams) -> None:
    token = _signed_in(client, fake)
    fake.reply("ImportLeads", _report())

    answer = client.post(
        "/leads/import",
        data={"csrf_token": token, "file": (io.BytesIO(CSV.encode()), "leads.csv")},
        content_type="multipart/form-data",
        headers={"HX-Request": "true"},
    )

    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert html.lstrip().startswith('<div id="lead-import"') and "<html" not in html
    assert "Import report" in html


def test_a_file_that_is_not_utf8_is_refused_beside_the_field(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    token = _signed_in(client, fake)

    answer = client.post(
        "/leads/import",
        data={"csrf_token": token, "file": (io.BytesIO("nazwisko\nŻółw\n".encode("cp1250")), "leads.csv")},
        content_type="multipart/form-data",
    )

    assert answer.status_code == 422
    assert re.search(
        r'id="f-file"[^>]*aria-invalid="true"[^>]*aria-describedby="e-file"', answer.get_data(as_text=True)
    )
    assert fake.requests("ImportLeads") == []


def test_an_import_without_a_file_is_refused(client: FlaskClient, fake: FakeUpstreams) -> None:
    token = _signed_in(client, fake)

    answer = client.post("/leads/import", data={"csrf_token": token}, content_type="multipart/form-data")

    assert answer.status_code == 422
    assert 'id="e-file">Choose a CSV file.' in answer.get_data(as_text=True)


def test_a_file_larger_than_the_import_limit_is_refused_unread(make_client: Any, fake: FakeUpstreams) -> None:
    client = make_client(max_import_bytes=2048)
    token = _signed_in(client, fake)

    answer = client.post(
        "/leads/import",
        data={"csrf_token": token, "file": (io.BytesIO(b"last_name\n" + b"x\n" * 2000), "big.csv")},
        content_type="multipart/form-data",
    )

    assert answer.status_code == 413
    assert re.search(r'id="f-file"[^>]*aria-invalid="true"', answer.get_data(as_text=True))
    assert fake.requests("ImportLeads") == []


def test_an_import_stopped_midway_reports_the_rows_before_and_the_line_it_reached(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    token = _signed_in(client, fake)
    calls: list[int] = []

    def import_chunk(request: pb.ImportLeadsRequest, context: grpc.ServicerContext) -> pb.ImportLeadsResponse:
        calls.append(request.first_line_number)
        if len(calls) > 1:
            context.abort(grpc.StatusCode.UNAVAILABLE, "leads database restarting")
        return pb.ImportLeadsResponse(
            imported=1,
            rows=[pb.ImportRowResult(line_number=2, outcome=pb.IMPORT_ROW_OUTCOME_IMPORTED, lead_id=LEAD)],
        )

    fake.on("ImportLeads", import_chunk)
    rows = "".join(f"Person{n},p{n}@example.com\n" for n in range(600))

    answer = client.post(
        "/leads/import",
        data={"csrf_token": token, "file": (io.BytesIO(("last_name,email\n" + rows).encode()), "leads.csv")},
        content_type="multipart/form-data",
    )

    assert calls == [2, 502]  # chunks of whole records, numbered as lines of the file
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "The import stopped after line 501" in html and "no row is imported twice" in html
    assert '<dd data-figure="imported">1</dd>' in html


def test_a_file_larger_than_the_json_body_limit_is_still_imported(
    make_client: Any, fake: FakeUpstreams
) -> None:
    client = make_client(max_body_bytes=1024)
    token = _signed_in(client, fake)
    fake.reply("ImportLeads", _report())
    rows = "".join(f"Person{n},p{n}@example.com\n" for n in range(200))

    answer = client.post(
        "/leads/import",
        data={"csrf_token": token, "file": (io.BytesIO(("last_name,email\n" + rows).encode()), "leads.csv")},
        content_type="multipart/form-data",
    )

    assert answer.status_code == 200
    assert len(fake.requests("ImportLeads")) == 1
