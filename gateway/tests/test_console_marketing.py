"""The console's Marketing screen over the fake upstreams: campaigns with their costs, ROI and CAC
per campaign and channel under the chosen attribution model (re-run in place by htmx), the lead
funnel, a lead's touches, and the cost and campaign forms with their errors beside the fields."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from google.protobuf import json_format
from google.rpc import code_pb2

from gateway.tests.test_console_pages import sign_in
from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.leads.v1 import leads_pb2
from salesplane.reporting.v1 import reporting_pb2 as pb

FakeUpstreams = Any
CAMPAIGN_ID = "c0ffee00-1111-4c7e-8f90-a1b2c3d4e5f6"


def _campaign(**overrides: Any) -> leads_pb2.Campaign:
    fields: dict[str, Any] = {
        "id": CAMPAIGN_ID,
        "name": "Spring webinar",
        "lead_source_id": "src-1",
        "channel": leads_pb2.CHANNEL_EVENT,
        "budget": Money(currency_code="PLN", amount_minor=1_000_000),
        "actual_cost": Money(currency_code="PLN", amount_minor=250_000),
        "start_date": Date(year=2026, month=3, day=1),
        "end_date": Date(year=2026, month=4, day=30),
        "cost_entries": [
            leads_pb2.CostEntry(
                id="e1",
                incurred_on=Date(year=2026, month=3, day=2),
                amount=Money(currency_code="PLN", amount_minor=250_000),
                note="Venue",
            )
        ],
        "version": 2,
    }
    return leads_pb2.Campaign(**{**fields, **overrides})


def _roi(report_id: str, title: str) -> pb.ReportResult:
    return pb.ReportResult(
        report_id=report_id,
        title=title,
        columns=[
            pb.Column(name="channel", title="Channel", type=pb.COLUMN_TYPE_STRING),
            pb.Column(name="cost", title="Cost", type=pb.COLUMN_TYPE_MONEY),
            pb.Column(name="cac", title="CAC", type=pb.COLUMN_TYPE_MONEY),
            pb.Column(name="roi", title="ROI", type=pb.COLUMN_TYPE_PERCENT, scale=4),
            pb.Column(name="roas", title="ROAS", type=pb.COLUMN_TYPE_DECIMAL, scale=2),
        ],
        rows=[
            pb.Row(
                cells=[
                    pb.Cell(string_value="event"),
                    pb.Cell(money_value=Money(currency_code="PLN", amount_minor=250_000)),
                    pb.Cell(money_value=Money(currency_code="PLN", amount_minor=125_000)),
                    pb.Cell(decimal_value="1.5000"),
                    pb.Cell(decimal_value="2.50"),
                ]
            )
        ],
        chart_svg=f'<svg role="img" aria-label="{title} chart"></svg>',
    )


def _marketing_data(fake: FakeUpstreams) -> None:
    fake.reply("ListCampaigns", leads_pb2.ListCampaignsResponse(campaigns=[_campaign()]))
    fake.reply(
        "ListLeadSources",
        leads_pb2.ListLeadSourcesResponse(
            lead_sources=[leads_pb2.LeadSource(id="src-1", name="Webinars", channel=leads_pb2.CHANNEL_EVENT)]
        ),
    )
    titles = {
        "campaign_roi": "Campaign ROI",
        "channel_roi": "Channel ROI",
        "attribution_by_campaign": "Attribution by campaign",
        "lead_funnel": "Lead funnel by lead source and campaign",
        "lead_funnel_by_month": "Lead funnel by month created",
    }
    fake.on("RunReport", lambda request, context: _roi(request.report_id, titles[request.report_id]))


def _csrf(client: FlaskClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert found
    return found.group(1)


def _runs(fake: FakeUpstreams) -> dict[str, Any]:
    return {run.report_id: run for run in fake.requests("RunReport")}


def test_marketing_shows_campaigns_returns_and_the_funnel(client: FlaskClient, fake: FakeUpstreams) -> None:
    sign_in(client, fake, "vp")
    _marketing_data(fake)

    answer = client.get("/marketing", headers={"Accept-Language": "en-GB"})
    # The page leaves the returns to the fragment htmx fetches as soon as it is shown.
    page_html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "The returns are being computed" in page_html
    assert 'hx-get="/marketing/returns?model=linear&amp;basis=period" hx-trigger="load"' in page_html
    assert set(_runs(fake)) == {"lead_funnel"}
    returns = client.get(
        "/marketing/returns?model=linear&basis=period",
        headers={"Accept-Language": "en-GB", "HX-Request": "true"},
    ).get_data(as_text=True)
    html = page_html + returns
    runs = _runs(fake)
    assert dict(runs["campaign_roi"].parameters) == {"model": "linear", "basis": "period"}
    assert dict(runs["channel_roi"].parameters) == {"model": "linear", "basis": "period"}
    assert dict(runs["attribution_by_campaign"].parameters) == {"model": "linear"}
    created = runs["lead_funnel"].filter_values["created"].values
    assert [json_format.MessageToDict(v) for v in created] == ["this_fiscal_year"]
    # Money with its currency, ratios as percentages, the service's charts.
    assert "PLN2,500.00" in html and "PLN1,250.00" in html and "150%" in html and "2.50" in html
    assert html.count('<figure class="report-chart">') == 4
    assert "The returns are being computed" not in returns
    assert 'aria-label="Channel ROI chart"' in html
    # The campaigns with their budget used, and links to each.
    assert f'href="/marketing/campaigns/{CAMPAIGN_ID}">Spring webinar</a>' in html
    assert "PLN10,000.00" in html and "25%" in html and "Webinars" in html and "Event" in html
    assert 'href="/marketing" aria-current="page"' in html
    # The model select re-runs in place.
    assert re.search(r'hx-get="/marketing/returns" hx-trigger="change" hx-target="#returns-results"', html)
    assert '<option value="u_shaped">U-shaped</option>' in html


def test_changing_the_model_re_runs_the_returns_as_a_fragment(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake, "vp")
    _marketing_data(fake)

    answer = client.get("/marketing/returns?model=w_shaped&basis=cohort", headers={"HX-Request": "true"})

    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert html.lstrip().startswith('<div id="returns-results"') and "<html" not in html
    runs = _runs(fake)
    assert dict(runs["campaign_roi"].parameters) == {"model": "w_shaped", "basis": "cohort"}
    assert dict(runs["attribution_by_campaign"].parameters) == {"model": "w_shaped"}
    assert "lead_funnel" not in runs and fake.requests("ListCampaigns") == []
    assert 'href="/reports/campaign_roi?param.model=w_shaped"' in html


def test_the_fragments_url_without_htmx_opens_the_whole_page(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake, "vp")

    answer = client.get("/marketing/returns?model=first_touch")

    assert answer.status_code == 303 and answer.headers["Location"] == "/marketing?model=first_touch"


def test_an_unknown_model_is_refused_beside_its_select(client: FlaskClient, fake: FakeUpstreams) -> None:
    sign_in(client, fake, "vp")
    _marketing_data(fake)

    answer = client.get("/marketing?model=last_click")

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert re.search(r'id="f-model" name="model" aria-invalid="true" aria-describedby="e-model"', html)
    assert "campaign_roi" not in _runs(fake)


def test_campaign_wide_reports_refused_to_the_user_say_so_instead_of_failing(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake, "vp")
    _marketing_data(fake)
    fake.fail("RunReport", code_pb2.PERMISSION_DENIED, "campaign reports are for marketing and admins")

    answer = client.get("/marketing")

    assert answer.status_code == 200
    assert "campaign reports are for marketing and admins" in answer.get_data(as_text=True)


def test_a_leads_touches_are_shown_when_the_service_allows(client: FlaskClient, fake: FakeUpstreams) -> None:
    sign_in(client, fake, "vp")
    _marketing_data(fake)
    touch = leads_pb2.LeadTouch(
        id="t1", lead_id="L1", campaign_id=CAMPAIGN_ID, kind=leads_pb2.TOUCH_KIND_EVENT
    )
    touch.touch_time.FromSeconds(1_790_000_000)
    fake.reply(
        "ListLeadTouches",
        leads_pb2.ListLeadTouchesResponse(touches=[touch], first_touch=touch, last_touch=touch),
    )

    html = client.get("/marketing?lead=L1").get_data(as_text=True)

    assert fake.last("ListLeadTouches").lead_id == "L1"
    assert "Event attended" in html and "Spring webinar" in html and ">first</span>" in html

    fake.fail("ListLeadTouches", code_pb2.NOT_FOUND, "lead 'L2' not found")
    refused = client.get("/marketing?lead=L2")
    assert refused.status_code == 422
    assert 'id="e-lead">lead &#39;L2&#39; not found' in refused.get_data(as_text=True)


def test_a_cost_is_recorded_in_minor_units_once(client: FlaskClient, fake: FakeUpstreams) -> None:
    sign_in(client, fake, "vp")
    _marketing_data(fake)
    fake.reply("GetCampaign", _campaign())
    page = client.get(f"/marketing/campaigns/{CAMPAIGN_ID}").get_data(as_text=True)
    assert "Venue" in page and 'name="currency" type="text" value="PLN"' in page
    request_id = re.search(r'name="request_id" value="([^"]+)"', page)
    assert request_id
    token = _csrf(client, f"/marketing/campaigns/{CAMPAIGN_ID}")

    answer = client.post(
        f"/marketing/campaigns/{CAMPAIGN_ID}/costs",
        data={
            "amount": "1 234,50",
            "currency": "pln",
            "incurred_on": "2026-03-15",
            "note": "Ads",
            "request_id": request_id.group(1),
            "csrf_token": token,
        },
    )

    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/marketing/campaigns/{CAMPAIGN_ID}?done=cost"
    recorded = fake.last("RecordCampaignCost")
    assert recorded.amount == Money(currency_code="PLN", amount_minor=123_450)
    assert recorded.incurred_on == Date(year=2026, month=3, day=15)
    assert recorded.request_id == request_id.group(1) and recorded.campaign_id == CAMPAIGN_ID


def test_a_bad_cost_is_refused_beside_its_field_before_any_call(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake, "vp")
    _marketing_data(fake)
    fake.reply("GetCampaign", _campaign())
    token = _csrf(client, f"/marketing/campaigns/{CAMPAIGN_ID}")

    answer = client.post(
        f"/marketing/campaigns/{CAMPAIGN_ID}/costs",
        data={"amount": "12.345", "currency": "PLN", "incurred_on": "15/03/2026", "csrf_token": token},
    )

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert re.search(r'id="f-amount"[^>]*aria-invalid="true"', html) and 'id="e-incurred_on"' in html
    assert 'value="12.345"' in html  # what was typed is kept
    assert fake.requests("RecordCampaignCost") == []


def test_the_services_problem_with_a_cost_shows_beside_the_field(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake, "vp")
    _marketing_data(fake)
    fake.reply("GetCampaign", _campaign())
    fake.invalid("RecordCampaignCost", ("amount.currency_code", "must be the campaign's currency, PLN"))
    token = _csrf(client, f"/marketing/campaigns/{CAMPAIGN_ID}")

    answer = client.post(
        f"/marketing/campaigns/{CAMPAIGN_ID}/costs",
        data={"amount": "10", "currency": "EUR", "incurred_on": "2026-03-15", "csrf_token": token},
    )

    assert answer.status_code == 422
    assert 'id="e-currency">must be the campaign&#39;s currency, PLN' in answer.get_data(as_text=True)


def test_a_campaign_is_created_with_all_its_money_in_one_currency(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake, "vp")
    _marketing_data(fake)
    fake.reply("CreateCampaign", _campaign())
    token = _csrf(client, "/marketing/campaigns/new")

    answer = client.post(
        "/marketing/campaigns/new",
        data={
            "name": "Spring webinar",
            "lead_source_id": "src-1",
            "channel": "",
            "currency": "PLN",
            "budget": "10000",
            "expected_revenue": "50 000,00",
            "start_date": "2026-03-01",
            "end_date": "2026-04-30",
            "csrf_token": token,
        },
    )

    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/marketing/campaigns/{CAMPAIGN_ID}"
    created = fake.last("CreateCampaign")
    assert created.budget == Money(currency_code="PLN", amount_minor=1_000_000)
    assert created.expected_revenue == Money(currency_code="PLN", amount_minor=5_000_000)
    assert not created.HasField("expected_cost") and created.channel == leads_pb2.CHANNEL_UNSPECIFIED


def test_the_services_problems_with_a_campaign_show_beside_their_fields(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake, "vp")
    _marketing_data(fake)
    fake.invalid(
        "CreateCampaign",
        ("end_date", "must not be before the start date 2026-04-30"),
        ("name", "is already used by another campaign"),
    )
    token = _csrf(client, "/marketing/campaigns/new")

    answer = client.post(
        "/marketing/campaigns/new",
        data={
            "name": "Spring webinar",
            "lead_source_id": "src-1",
            "currency": "PLN",
            "budget": "10000",
            "start_date": "2026-04-30",
            "end_date": "2026-03-01",
            "csrf_token": token,
        },
    )

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert 'id="e-end_date">must not be before the start date' in html
    assert 'id="e-name">is already used' in html
