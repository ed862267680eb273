"""The console's pages over the fake upstreams: signing in (development mode), what a page asks
the services for with whose token, money and dates in the user's language, form errors beside
their field, and the page policy. The browser and the real services: tests/e2e/test_console_story.py."""

from __future__ import annotations

import re
from typing import Any

import grpc
import pytest
from flask.testing import FlaskClient

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.forecasting.v1 import forecasting_pb2, org_pb2, settings_pb2, worksheets_pb2

FakeUpstreams = Any  # the conftest's fake (tests import no conftest)

HTML = "text/html"


def _org(fake: FakeUpstreams) -> None:
    fake.reply(
        "ListUsers",
        org_pb2.ListUsersResponse(
            users=[
                org_pb2.User(user_id="vp", display_name="Vera Vice", roles=["manager"], active=True),
                org_pb2.User(
                    user_id="anna.nowak",
                    display_name="Anna Nowak",
                    roles=["rep"],
                    manager_user_id="vp",
                    active=True,
                ),
                org_pb2.User(user_id="gone", display_name="Gone", roles=["rep"], active=False),
            ]
        ),
    )
    fake.reply(
        "GetPeriodOfDate",
        settings_pb2.PeriodOfDate(quarter=settings_pb2.Period(period_id="2026-Q4")),
    )


def sign_in(client: FlaskClient, fake: FakeUpstreams, user_id: str = "anna.nowak") -> None:
    _org(fake)
    page = client.get("/sign-in")
    token = re.search(r'name="form_token" value="([^"]+)"', page.get_data(as_text=True))
    assert token, page.get_data(as_text=True)
    answer = client.post("/sign-in", data={"form_token": token.group(1), "user_id": user_id, "next": "/"})
    assert answer.status_code == 303, answer.get_data(as_text=True)


def _csrf(client: FlaskClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True))
    assert found
    return found.group(1)


def _home_data(fake: FakeUpstreams) -> None:
    rollup = forecasting_pb2.Rollup(
        user_id="anna.nowak",
        period_id="2026-Q4",
        currency_code="PLN",
        quota=Money(currency_code="PLN", amount_minor=10_000_000),
        attainment_basis_points=4_250,
        own=forecasting_pb2.ForecastTotals(
            closed_won=Money(currency_code="PLN", amount_minor=4_250_000),
            forecast_likely=Money(currency_code="PLN", amount_minor=7_000_000),
            pipeline=Money(currency_code="PLN", amount_minor=12_345_678),
        ),
    )
    fake.reply("GetRollup", rollup)
    fake.reply(
        "GetProbabilisticForecast",
        forecasting_pb2.ProbabilisticForecast(
            quota=Money(currency_code="PLN", amount_minor=10_000_000), probability_of_reaching_quota=0.425
        ),
    )
    fake.reply(
        "GetRepWorksheet",
        worksheets_pb2.RepWorksheet(
            user_id="anna.nowak",
            period_id="2026-Q4",
            show_likely=True,
            deals=[
                worksheets_pb2.WorksheetDeal(
                    opportunity_id="6c1f2e4a-3b5d-4c7e-8f90-a1b2c3d4e5f6",
                    name="Kraków rollout",
                    sales_stage="Proposal",
                    probability=40,
                    status="open",
                    expected_close_date=Date(year=2026, month=12, day=15),
                    likely=Money(currency_code="PLN", amount_minor=2_000_000),
                    commit_stage=settings_pb2.COMMIT_STAGE_UPSIDE,
                )
            ],
        ),
    )


def test_a_stranger_is_sent_to_sign_in_and_back(client: FlaskClient) -> None:
    answer = client.get("/?period=2026-Q1")

    assert answer.status_code == 303
    assert answer.headers["Location"] == "/sign-in?next=/%3Fperiod%3D2026-Q1"


def test_the_sign_in_page_lists_the_active_users_and_signs_in_as_one(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    _org(fake)
    html = client.get("/sign-in").get_data(as_text=True)

    assert "Anna Nowak" in html and "Vera Vice" in html and "Gone" not in html
    sign_in(client, fake)
    _home_data(fake)
    home = client.get("/")
    assert home.status_code == 200
    assert "Signed in as Anna Nowak" in home.get_data(as_text=True)


def test_a_sign_in_without_the_form_token_signs_nobody_in(client: FlaskClient, fake: FakeUpstreams) -> None:
    _org(fake)
    answer = client.post("/sign-in", data={"user_id": "vp"})

    assert answer.status_code == 303
    assert client.get("/").status_code == 303  # still signed out


def test_home_shows_the_numbers_in_the_users_language_and_calls_with_their_token(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake)
    _home_data(fake)

    english = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    polish = client.get("/", headers={"Accept-Language": "pl-PL,pl;q=0.9"}).get_data(as_text=True)

    assert "PLN100,000.00" in english and "42.5%" in english
    assert "100\u00a0000,00\u00a0zł" in polish and "42,5%" in polish
    assert "My forecast" in english and "Moja prognoza" in polish and 'lang="pl"' in polish
    assert "Kraków rollout" in english
    assert (
        "15 Dec 2026" in english
        and "Dec 15, 2026" in client.get("/", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
        and "15 gru 2026" in polish
    )
    assert fake.last("GetRollup").user_id == "anna.nowak"


def test_the_page_policy_allows_no_inline_script(client: FlaskClient, fake: FakeUpstreams) -> None:
    sign_in(client, fake)
    _home_data(fake)

    answer = client.get("/")

    policy = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert answer.headers["Cache-Control"] == "no-store"
    assert "<script>" not in answer.get_data(as_text=True)


def test_a_post_without_the_csrf_token_is_refused_before_any_call(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake)

    answer = client.post("/worksheet/commit", data={"period": "2026-Q4", "note": "x"})

    assert answer.status_code == 403
    assert answer.mimetype == HTML
    assert fake.requests("CommitForecast") == []


def test_a_refused_commit_shows_the_error_beside_the_note(client: FlaskClient, fake: FakeUpstreams) -> None:
    sign_in(client, fake)
    _home_data(fake)
    fake.invalid("CommitForecast", ("note", "must not contain control characters"))

    answer = client.post(
        "/worksheet/commit", data={"period": "2026-Q4", "note": "bad", "csrf_token": _csrf(client)}
    )

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert re.search(r'id="f-note"[^>]*aria-invalid="true"', html)
    assert 'id="e-note">must not contain control characters' in html


def test_setting_a_commit_stage_by_hand_calls_the_worksheet_service(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake)
    _home_data(fake)
    deal = "6c1f2e4a-3b5d-4c7e-8f90-a1b2c3d4e5f6"

    answer = client.post(
        "/worksheet/commit-stage",
        data={
            "period": "2026-Q4",
            "opportunity_id": deal,
            "commit_stage": "include",
            "csrf_token": _csrf(client),
        },
    )

    assert answer.status_code == 303
    sent = fake.last("SetCommitStage")
    assert (sent.opportunity_id, sent.commit_stage) == (deal, settings_pb2.COMMIT_STAGE_INCLUDE)


def test_a_service_refusal_is_a_page_in_the_users_language(client: FlaskClient, fake: FakeUpstreams) -> None:
    sign_in(client, fake)
    _home_data(fake)
    fake.fail(
        "GetRepWorksheet",
        grpc.StatusCode.PERMISSION_DENIED.value[0],
        "anna.nowak may not read vp's worksheet",
    )

    answer = client.get("/", headers={"Accept-Language": "pl"})

    assert answer.status_code == 403
    assert answer.mimetype == HTML
    assert "anna.nowak may not read" in answer.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/console/static/htmx-4.0.1.min.js", "/console/static/console.css"])
def test_static_files_are_served_and_kept_for_a_year(client: FlaskClient, path: str) -> None:
    answer = client.get(path)

    assert answer.status_code == 200
    assert "immutable" in answer.headers["Cache-Control"]
