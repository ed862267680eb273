"""The Pipeline screen over the fake upstreams: the deal list's filters, sort and paging as the
request to ListOpportunities; a deal with its stage history; create and edit with errors beside the
fields and nothing sent when the form is wrong; the version conflict explained; close and reopen;
another rep's deal by URL is the service's 403."""

from __future__ import annotations

import re
from typing import Any

import grpc
from flask.testing import FlaskClient
from google.rpc import error_details_pb2

from gateway.tests.test_console_pages import sign_in
from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.leads.v1 import leads_pb2
from salesplane.opportunities.v1 import opportunities_pb2 as pb

FakeUpstreams = Any
DEAL = "6c1f2e4a-3b5d-4c7e-8f90-a1b2c3d4e5f6"
ABORTED = grpc.StatusCode.ABORTED.value[0]
PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED.value[0]


def _csrf(client: FlaskClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/pipeline").get_data(as_text=True))
    assert found
    return found.group(1)


def _deal(**overrides: Any) -> pb.Opportunity:
    fields: dict[str, Any] = {
        "id": DEAL,
        "name": "Kraków rollout",
        "owner_user_id": "anna.nowak",
        "account_name": "Miasto Kraków",
        "amount": Money(currency_code="PLN", amount_minor=2_000_000),
        "expected_close_date": Date(year=2026, month=12, day=15),
        "sales_stage": "Prospecting",
        "probability": 10,
        "probability_source": pb.PROBABILITY_SOURCE_STAGE,
        "status": pb.OPPORTUNITY_STATUS_OPEN,
        "version": 7,
    }
    deal = pb.Opportunity(**{**fields, **overrides})
    deal.update_time.FromSeconds(1_790_000_000)
    return deal


def _signed_in(client: FlaskClient, fake: FakeUpstreams) -> None:
    sign_in(client, fake)
    fake.reply("GetOpportunity", _deal())
    fake.reply("ListExchangeRates", pb.ListExchangeRatesResponse(base_currency_code="PLN"))
    fake.reply(
        "ListLeadSources",
        leads_pb2.ListLeadSourcesResponse(lead_sources=[leads_pb2.LeadSource(id="src-1", name="Webinar")]),
    )


def _edit_form(client: FlaskClient, **changes: str) -> dict[str, str]:
    html = client.get(f"/deals/{DEAL}/edit").get_data(as_text=True)
    form = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html))
    form.update(
        {
            name: value
            for name, value in re.findall(
                r'<select[^>]*name="([^"]+)"[\s\S]*?<option value="([^"]*)" selected', html
            )
        }
    )
    form.update(changes)
    return form


def test_the_list_asks_the_service_with_the_filters_sort_and_page(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    _signed_in(client, fake)
    fake.reply(
        "ListOpportunities", pb.ListOpportunitiesResponse(opportunities=[_deal()], next_page_token="tok-2")
    )

    answer = client.get(
        "/pipeline?status=won&stage=Qualification&owner=anna.nowak&q=rollout"
        "&close_from=2026-10-01&close_to=2026-12-31&sort=amount&descending=1&page_size=50"
    )

    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    sent = fake.last("ListOpportunities")
    assert list(sent.statuses) == [pb.OPPORTUNITY_STATUS_WON]
    assert list(sent.sales_stages) == ["Qualification"] and list(sent.owner_user_ids) == ["anna.nowak"]
    assert sent.text == "rollout" and sent.page_size == 50 and sent.page_token == ""
    assert (sent.close_date_from.month, sent.close_date_to.day) == (10, 31)
    assert sent.order_by == pb.OPPORTUNITY_ORDER_FIELD_AMOUNT_BASE and sent.descending
    assert "Kraków rollout" in html and f'href="/deals/{DEAL}"' in html
    assert 'class="table-wrap"' in html
    next_link = re.search(r'href="([^"]+)" rel="next"', html)
    assert next_link and "page_token=tok-2" in next_link.group(1) and "status=won" in next_link.group(1)

    second = client.get(next_link.group(1).replace("&amp;", "&"))
    assert fake.last("ListOpportunities").page_token == "tok-2"
    previous = re.search(r'href="([^"]+)" rel="prev"', second.get_data(as_text=True))
    assert previous and "page_token=&" in previous.group(1).replace("&amp;", "&") + "&"


def test_the_list_shows_open_deals_by_default(client: FlaskClient, fake: FakeUpstreams) -> None:
    _signed_in(client, fake)

    assert client.get("/pipeline").status_code == 200

    sent = fake.last("ListOpportunities")
    assert list(sent.statuses) == [pb.OPPORTUNITY_STATUS_OPEN] and list(sent.owner_user_ids) == []


def test_a_bad_filter_is_shown_beside_its_field_and_nothing_is_listed(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    _signed_in(client, fake)

    answer = client.get("/pipeline?close_from=2026-13-01")

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert re.search(r'id="f-close_from"[^>]*aria-invalid="true"', html)
    assert 'id="e-close_from"' in html
    assert fake.requests("ListOpportunities") == []


def test_a_deal_shows_its_stage_history(client: FlaskClient, fake: FakeUpstreams) -> None:
    _signed_in(client, fake)
    entry = pb.StageHistoryEntry(sales_stage="Prospecting", duration_seconds=3 * 86400, actor="anna.nowak")
    entry.enter_time.FromSeconds(1_789_000_000)
    fake.reply("GetStageHistory", pb.GetStageHistoryResponse(entries=[entry]))

    answer = client.get(f"/deals/{DEAL}")

    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert "Kraków rollout" in html and "Stage history" in html and "still there" in html
    assert "Close as won" in html and "Close as lost" in html
    assert fake.last("GetStageHistory").opportunity_id == DEAL


def test_another_reps_deal_by_url_is_the_services_403(client: FlaskClient, fake: FakeUpstreams) -> None:
    _signed_in(client, fake)
    fake.fail("GetOpportunity", PERMISSION_DENIED, "anna.nowak may not read this opportunity")

    answer = client.get(f"/deals/{DEAL}")

    assert answer.status_code == 403
    assert answer.mimetype == "text/html"
    assert "This is not yours to see" in answer.get_data(as_text=True)
    assert fake.last("GetOpportunity").opportunity_id == DEAL


def test_creating_a_deal_sends_minor_units_and_defaults_the_owner_to_me(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    _signed_in(client, fake)
    form = client.get("/deals/new").get_data(as_text=True)
    assert 'value="PLN"' in form
    request_id = re.search(r'name="request_id" value="([^"]+)"', form)
    assert request_id

    answer = client.post(
        "/deals/new",
        data={
            "csrf_token": _csrf(client),
            "request_id": request_id.group(1),
            "name": "Gdańsk pilot",
            "account_name": "Port",
            "owner": "",
            "amount": "1 234,50",
            "currency": "pln",
            "close_date": "2026-11-30",
            "stage": "Qualification",
            "probability": "35",
            "best": "2000",
            "worst": "",
            "next_step": "Call",
            "lead_source": "src-1",
        },
    )

    assert answer.status_code == 303, answer.get_data(as_text=True)
    sent = fake.last("CreateOpportunity")
    assert (sent.amount.amount_minor, sent.amount.currency_code) == (123_450, "PLN")
    assert sent.owner_user_id == "anna.nowak" and sent.probability == 35
    assert sent.best_case_minor == 200_000 and not sent.HasField("worst_case_minor")
    assert sent.request_id == request_id.group(1) and sent.lead_source_id == "src-1"
    assert answer.headers["Location"].startswith("/deals/")


def test_a_wrong_deal_form_shows_every_error_beside_its_field_and_creates_nothing(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    _signed_in(client, fake)

    answer = client.post(
        "/deals/new",
        data={
            "csrf_token": _csrf(client),
            "name": "",
            "amount": "12.345",
            "currency": "PLN",
            "close_date": "soon",
            "stage": "Closed Won",
            "probability": "140",
        },
    )

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    for name in ("name", "amount", "close_date", "stage", "probability"):
        assert re.search(rf'id="f-{name}"[^>]*aria-invalid="true"[^>]*aria-describedby="e-{name}"', html), (
            name
        )
    assert 'value="12.345"' in html  # what the user typed stays
    assert fake.requests("CreateOpportunity") == []


def test_a_service_refusal_of_a_new_deal_lands_beside_the_field(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    _signed_in(client, fake)
    fake.invalid("CreateOpportunity", ("amount.currency_code", "has no exchange rate"))

    answer = client.post(
        "/deals/new",
        data={
            "csrf_token": _csrf(client),
            "name": "X",
            "amount": "10",
            "currency": "CHF",
            "close_date": "2026-11-30",
            "stage": "Prospecting",
        },
    )

    assert answer.status_code == 422
    assert 'id="e-currency">has no exchange rate' in answer.get_data(as_text=True)


def test_an_edit_sends_only_the_changed_fields_with_the_version(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    _signed_in(client, fake)
    form = _edit_form(client, amount="25000", probability="")
    form["next_step"] = "Send the contract"

    answer = client.post(f"/deals/{DEAL}/edit", data=form)

    assert answer.status_code == 303, answer.get_data(as_text=True)
    sent = fake.last("UpdateOpportunity")
    assert sorted(sent.update_mask.paths) == ["amount", "next_step"]
    assert sent.expected_version == 7 and sent.opportunity.amount.amount_minor == 2_500_000
    assert sent.opportunity.next_step == "Send the contract"


def test_clearing_a_hand_set_probability_makes_it_follow_the_stage(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    _signed_in(client, fake)
    fake.reply("GetOpportunity", _deal(probability=55, probability_source=pb.PROBABILITY_SOURCE_MANUAL))
    form = _edit_form(client, probability="")

    client.post(f"/deals/{DEAL}/edit", data=form)

    sent = fake.last("UpdateOpportunity")
    assert list(sent.update_mask.paths) == ["probability"]
    assert sent.opportunity.probability_source == pb.PROBABILITY_SOURCE_STAGE


def test_a_version_conflict_lists_what_changed_and_keeps_my_values(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    _signed_in(client, fake)
    form = _edit_form(client, name="My new name", stage="Qualification")
    # Someone else moved the deal (to the same stage) and changed its amount meanwhile.
    fake.reply(
        "GetOpportunity",
        _deal(
            version=8, sales_stage="Qualification", amount=Money(currency_code="PLN", amount_minor=3_000_000)
        ),
    )
    fake.fail(
        "UpdateOpportunity",
        ABORTED,
        "version 7 is not the stored version 8",
        error_details_pb2.ErrorInfo(reason="VERSION_MISMATCH", domain="salesplane.dev"),
    )

    answer = client.post(f"/deals/{DEAL}/edit", data=form)

    assert answer.status_code == 409
    html = answer.get_data(as_text=True)
    assert "Changed by someone else" in html
    changed = re.findall(r'<tr data-field="([a-z_]+)">', html)
    assert changed == ["amount", "stage"]
    assert 'value="My new name"' in html  # my change stays in the form
    assert (
        'id="f-amount" name="amount" type="text" value="30000.00"' in html
    )  # theirs where I changed nothing
    assert 'name="version" value="8"' in html and 'name="orig_amount" value="30000.00"' in html
    assert "kept in the form" in html  # both changed the stage

    # Submitting again is based on the new version.
    fake.reply("UpdateOpportunity", _deal(version=9))
    again = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html))
    again.update(stage="Qualification", owner="anna.nowak", lead_source="")
    assert client.post(f"/deals/{DEAL}/edit", data=again).status_code == 303
    sent = fake.last("UpdateOpportunity")
    assert sent.expected_version == 8 and list(sent.update_mask.paths) == ["name"]


def test_closing_as_lost_needs_a_reason_and_sends_nothing_without_one(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    _signed_in(client, fake)

    answer = client.post(
        f"/deals/{DEAL}/close",
        data={"csrf_token": _csrf(client), "outcome": "lost", "version": "7", "lost_reason": " "},
    )

    assert answer.status_code == 422
    assert re.search(r'id="f-lost_reason"[^>]*aria-invalid="true"', answer.get_data(as_text=True))
    assert fake.requests("CloseOpportunity") == []


def test_closing_and_reopening_call_the_service_with_the_version(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    _signed_in(client, fake)
    token = _csrf(client)

    won = client.post(
        f"/deals/{DEAL}/close",
        data={"csrf_token": token, "outcome": "won", "version": "7", "won_reason": "Best price"},
    )
    assert won.status_code == 303 and won.headers["Location"].endswith("done=won")
    sent = fake.last("CloseOpportunity")
    assert (sent.outcome, sent.reason, sent.expected_version) == (pb.CLOSE_OUTCOME_WON, "Best price", 7)

    fake.reply("GetOpportunity", _deal(status=pb.OPPORTUNITY_STATUS_WON, sales_stage="Closed Won"))
    page = client.get(f"/deals/{DEAL}").get_data(as_text=True)
    assert "Reopen this deal" in page and "Close as won" not in page
    reopened = client.post(
        f"/deals/{DEAL}/reopen", data={"csrf_token": token, "version": "8", "reopen_stage": "Qualification"}
    )
    assert reopened.status_code == 303
    assert fake.last("ReopenOpportunity").sales_stage == "Qualification"


def test_a_close_after_someone_elses_change_says_so(client: FlaskClient, fake: FakeUpstreams) -> None:
    _signed_in(client, fake)
    fake.fail("CloseOpportunity", ABORTED, "version mismatch")

    answer = client.post(
        f"/deals/{DEAL}/close",
        data={"csrf_token": _csrf(client), "outcome": "won", "version": "6"},
    )

    assert answer.status_code == 409
    assert "Someone else changed this deal" in answer.get_data(as_text=True)
