"""The console's My team screen over the fake upstreams: the manager's worksheet and the inspection
flags (text, not colour only), adjustments edited in place (all three read before any call, an empty
field clears), commit upward and the draft, the history, the reporting service's chart (left out
when it fails), the polled fragment, and the view-only drill-down the services may refuse."""

from __future__ import annotations

import re
from typing import Any

import grpc
from flask.testing import FlaskClient

from gateway.tests.test_console_pages import sign_in
from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.forecasting.v1 import forecasting_pb2, inspection_pb2, settings_pb2, worksheets_pb2
from salesplane.reporting.v1 import reporting_pb2

FakeUpstreams = Any  # the conftest's fake (tests import no conftest)

DENIED = grpc.StatusCode.PERMISSION_DENIED.value[0]
SVG = '<svg class="chart" role="img" aria-label="Closed won per person"><rect width="1" height="1"/></svg>'


def usd(amount_minor: int) -> Money:
    return Money(currency_code="USD", amount_minor=amount_minor)


def _team_data(fake: FakeUpstreams) -> None:
    fake.reply(
        "GetManagerWorksheet",
        worksheets_pb2.ManagerWorksheet(
            user_id="vp",
            period_id="2026-Q4",
            currency_code="USD",
            rows=[
                worksheets_pb2.ManagerRow(
                    user_id="anna.nowak",
                    display_name="Anna Nowak",
                    latest_commit=worksheets_pb2.ForecastSnapshot(
                        snapshot_id="s1", likely=usd(16_000_000), best=usd(20_000_000), worst=usd(9_000_000)
                    ),
                    likely=usd(15_000_000),
                    adjusted_likely=usd(15_000_000),
                    quota=usd(30_000_000),
                    closed_won=usd(3_000_000),
                ),
                worksheets_pb2.ManagerRow(
                    user_id="bob", display_name="Bob Brown", quota=usd(50_000_000), closed_won=usd(100_000)
                ),
                worksheets_pb2.ManagerRow(user_id="vp", display_name="Vera Vice", own=True),
            ],
            likely=usd(15_000_000),
            quota=usd(100_000_000),
            team=forecasting_pb2.ForecastTotals(closed_won=usd(3_100_000)),
            changed_since_commit=True,
            changes_since_commit=["Anna Nowak committed likely 160,000.00"],
        ),
    )
    fake.reply(
        "InspectTeam",
        inspection_pb2.TeamInspection(
            manager_user_id="vp",
            period_id="2026-Q4",
            rows=[
                inspection_pb2.InspectionRow(
                    user_id="bob",
                    display_name="Bob Brown",
                    flags=[
                        inspection_pb2.RiskFlag(
                            kind="coverage_short",
                            reason="pipeline covers 0.1x of the 3x needed",
                            money_at_risk=usd(49_900_000),
                        )
                    ],
                    money_at_risk=usd(49_900_000),
                    flagged_deal_count=2,
                ),
                inspection_pb2.InspectionRow(user_id="anna.nowak", display_name="Anna Nowak"),
            ],
        ),
    )
    fake.reply(
        "ListForecastCommits",
        worksheets_pb2.ListForecastCommitsResponse(
            commits=[
                worksheets_pb2.ForecastSnapshot(
                    snapshot_id="m1",
                    likely=usd(14_000_000),
                    quota=usd(100_000_000),
                    note="East is on track",
                    changes=["likely up from 120,000.00 to 140,000.00"],
                )
            ]
        ),
    )
    fake.reply(
        "GetForecastAccuracy",
        worksheets_pb2.ForecastAccuracy(
            currency_code="USD",
            rows=[
                worksheets_pb2.AccuracyRow(
                    user_id="anna.nowak",
                    display_name="Anna Nowak",
                    committed_likely=usd(16_000_000),
                    actual_closed_won=usd(3_000_000),
                    difference=usd(-13_000_000),
                    accuracy_basis_points=1_875,
                )
            ],
        ),
    )


def _manager(client: FlaskClient, fake: FakeUpstreams) -> str:
    """Signed in as the VP (a manager) with the team's data; the session's form token."""
    sign_in(client, fake, "vp")
    _team_data(fake)
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/team").get_data(as_text=True))
    assert found
    return found.group(1)


def _row(html: str, user_id: str) -> str:
    found = re.search(rf'<tr data-user="{re.escape(user_id)}"[^>]*>.*?</tr>', html, re.S)
    assert found, html
    return found.group(0)


def test_the_team_page_shows_each_report_and_flags_in_words(client: FlaskClient, fake: FakeUpstreams) -> None:
    _manager(client, fake)

    answer = client.get("/team?period=2026-Q4")
    assert answer.status_code == 200
    # The flags come with the numbers fragment, which htmx fetches as soon as the page is shown.
    assert 'hx-trigger="load, every 5s"' in answer.get_data(as_text=True)
    numbers = client.get("/team-numbers?period=2026-Q4", headers={"HX-Request": "true"})
    html = answer.get_data(as_text=True) + numbers.get_data(as_text=True)
    bob = _row(numbers.get_data(as_text=True), "bob")
    assert 'class="flagged"' in bob and "At risk" in bob
    assert "pipeline covers 0.1x of the 3x needed" in bob and "$499,000.00" in bob
    assert "2 flagged deals" in bob and "/team/bob?period=2026-Q4" in bob
    anna = _row(numbers.get_data(as_text=True), "anna.nowak")
    assert "flagged" not in anna and "No flags" in anna and "$160,000.00" in anna
    # Her adjustment is in its field; the empty ones say nothing is adjusted.
    assert re.search(r'id="adj-anna.nowak-likely"[^>]*value="150000.00"', anna)
    assert re.search(r'id="adj-anna.nowak-best"[^>]*value=""', anna)
    assert "Anna Nowak committed likely 160,000.00" in html
    assert "East is on track" in html and "18.8%" in html
    assert fake.last("GetManagerWorksheet").user_id == "vp"
    assert fake.last("InspectTeam").manager_user_id == "vp"
    assert fake.last("ListForecastCommits").kind == worksheets_pb2.SNAPSHOT_KIND_MANAGER
    assert "style=" not in html and "hx-on" not in html


def test_the_team_numbers_are_a_polled_fragment_that_keeps_the_forms(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    _manager(client, fake)

    page = client.get("/team?period=2026-Q4").get_data(as_text=True)
    fragment = client.get("/team-numbers?period=2026-Q4", headers={"HX-Request": "true"})

    assert 'hx-get="/team-numbers?period=2026-Q4" hx-trigger="load, every 5s" hx-swap="outerHTML"' in page
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith("{#") is False and 'id="team-numbers"' in html
    assert 'id="adjust-bob" hx-preserve' in html


def test_the_forecast_vs_quota_chart_is_the_reporting_services_svg(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    _manager(client, fake)
    fake.reply("RunReport", reporting_pb2.ReportResult(report_id="forecast_vs_quota", chart_svg=SVG))

    html = client.get("/team?period=2026-Q4").get_data(as_text=True)

    assert re.search(r'<figure class="report-chart">\s*' + re.escape(SVG), html)
    sent = fake.last("RunReport")
    assert (sent.report_id, dict(sent.parameters)) == ("forecast_vs_quota", {"period": "2026-Q4"})


def test_a_failing_chart_leaves_the_page_without_it(client: FlaskClient, fake: FakeUpstreams) -> None:
    _manager(client, fake)
    fake.fail("RunReport", grpc.StatusCode.UNAVAILABLE.value[0], "reporting is down")

    answer = client.get("/team?period=2026-Q4")

    assert answer.status_code == 200
    assert "report-chart" not in answer.get_data(as_text=True)


def test_an_adjustment_sends_the_typed_figures_and_clears_the_empty_ones(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    csrf = _manager(client, fake)

    answer = client.post(
        "/team-adjust",
        data={
            "csrf_token": csrf,
            "period": "2026-Q4",
            "user_id": "anna.nowak",
            "likely": "1 234,50",
            "best": "",
            "worst": "900",
        },
    )

    assert answer.status_code == 303
    assert answer.headers["Location"] == "/team?period=2026-Q4&done=adjusted"
    sent = fake.last("AdjustManagerRow")
    assert (sent.manager_user_id, sent.period_id, sent.user_id) == ("vp", "2026-Q4", "anna.nowak")
    assert sent.likely_minor == 123_450 and sent.worst_minor == 90_000
    assert not sent.HasField("best_minor")


def test_a_bad_adjustment_saves_nothing_and_says_why_beside_the_field(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    csrf = _manager(client, fake)

    answer = client.post(
        "/team-adjust",
        data={
            "csrf_token": csrf,
            "period": "2026-Q4",
            "user_id": "bob",
            "likely": "100",
            "best": "12.345",
            "worst": "-5",
        },
    )

    assert answer.status_code == 422
    assert fake.requests("AdjustManagerRow") == []
    bob = _row(answer.get_data(as_text=True), "bob")
    assert re.search(r'id="adj-bob-best"[^>]*aria-invalid="true" aria-describedby="adj-bob-best-error"', bob)
    assert 'id="adj-bob-worst-error">Enter an amount of zero or more.' in bob
    assert re.search(r'id="adj-bob-likely"[^>]*value="100"', bob)  # what was typed stays


def test_a_refused_adjustment_shows_the_services_words_beside_its_field(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    csrf = _manager(client, fake)
    fake.invalid("AdjustManagerRow", ("likely_minor", "must be 0..100000000000 when set"))

    answer = client.post(
        "/team-adjust",
        data={"csrf_token": csrf, "period": "2026-Q4", "user_id": "bob", "likely": "5"},
    )

    assert answer.status_code == 422
    bob = _row(answer.get_data(as_text=True), "bob")
    assert 'id="adj-bob-likely-error">must be 0..100000000000 when set' in bob


def test_the_manager_commits_upward_and_saves_a_draft_as_a_manager_snapshot(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    csrf = _manager(client, fake)

    committed = client.post(
        "/team-commit", data={"csrf_token": csrf, "period": "2026-Q4", "note": "East adjusted down"}
    )
    drafted = client.post("/team-draft", data={"csrf_token": csrf, "period": "2026-Q4", "note": ""})

    assert committed.status_code == drafted.status_code == 303
    sent = fake.last("CommitForecast")
    assert (sent.user_id, sent.kind, sent.note) == (
        "vp",
        worksheets_pb2.SNAPSHOT_KIND_MANAGER,
        "East adjusted down",
    )
    assert fake.last("SaveWorksheetDraft").kind == worksheets_pb2.SNAPSHOT_KIND_MANAGER
    shown = client.get(committed.headers["Location"]).get_data(as_text=True)
    assert "Team forecast committed" in shown


def test_a_refused_commit_shows_the_error_beside_the_note(client: FlaskClient, fake: FakeUpstreams) -> None:
    csrf = _manager(client, fake)
    fake.invalid("CommitForecast", ("note", "must not contain control characters"))

    answer = client.post("/team-commit", data={"csrf_token": csrf, "period": "2026-Q4", "note": "bad"})

    assert answer.status_code == 422
    assert 'id="e-note">must not contain control characters' in answer.get_data(as_text=True)


def test_a_report_opens_view_only_with_their_flagged_deals(client: FlaskClient, fake: FakeUpstreams) -> None:
    _manager(client, fake)
    fake.reply(
        "GetRepWorksheet",
        worksheets_pb2.RepWorksheet(
            user_id="bob",
            period_id="2026-Q4",
            currency_code="USD",
            show_likely=True,
            deals=[
                worksheets_pb2.WorksheetDeal(
                    opportunity_id="d1",
                    name="Gdańsk pilot",
                    status="open",
                    probability=20,
                    likely=usd(1_000_000),
                    commit_stage=settings_pb2.COMMIT_STAGE_UPSIDE,
                )
            ],
        ),
    )
    fake.reply(
        "InspectRep",
        inspection_pb2.RepInspection(
            user_id="bob",
            row=inspection_pb2.InspectionRow(
                user_id="bob",
                display_name="Bob Brown",
                flags=[inspection_pb2.RiskFlag(reason="pacing behind", money_at_risk=usd(100))],
            ),
            deals=[
                inspection_pb2.FlaggedDeal(
                    opportunity_id="d1",
                    name="Gdańsk pilot",
                    close_date=Date(year=2026, month=11, day=2),
                    money_at_stake=usd(1_000_000),
                    flags=[inspection_pb2.DealFlag(kind="pushed", reason="pushed out 3 times")],
                )
            ],
        ),
    )

    answer = client.get("/team/bob?period=2026-Q4")

    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert "Bob Brown" in html and "pacing behind" in html and "pushed out 3 times" in html
    assert "At risk" in html and "Upside (by probability)" in html
    assert '<form method="post"' not in html.split("<main", 1)[1].split("</main>")[0]  # view only
    assert fake.last("GetRepWorksheet").user_id == "bob"
    assert fake.last("InspectRep").user_id == "bob"


def test_a_user_outside_my_team_is_the_services_refusal(client: FlaskClient, fake: FakeUpstreams) -> None:
    sign_in(client, fake, "anna.nowak")
    fake.fail("GetRepWorksheet", DENIED, "anna.nowak may not read bob's worksheet")

    answer = client.get("/team/bob?period=2026-Q4")

    assert answer.status_code == 403
    assert "may not read bob" in answer.get_data(as_text=True)
    assert fake.last("GetRepWorksheet").user_id == "bob"


def test_the_nav_offers_my_team_to_managers_only(client: FlaskClient, fake: FakeUpstreams) -> None:
    _manager(client, fake)
    manager_page = client.get("/team?period=2026-Q4").get_data(as_text=True)
    assert 'href="/team"' in manager_page and 'href="/quota-plan"' in manager_page

    other = client.application.test_client()
    sign_in(other, fake, "anna.nowak")
    fake.fail("GetManagerWorksheet", DENIED, "anna.nowak has no team")
    refused = other.get("/team?period=2026-Q4")
    assert refused.status_code == 403
    assert 'href="/team"' not in refused.get_data(as_text=True)


def test_a_failed_poll_keeps_the_numbers_on_screen(client: FlaskClient, fake: FakeUpstreams) -> None:
    _manager(client, fake)
    fake.fail("InspectTeam", grpc.StatusCode.UNAVAILABLE.value[0], "forecasting is restarting")

    answer = client.get("/team-numbers?period=2026-Q4", headers={"HX-Request": "true"})

    assert answer.status_code == 204 and answer.get_data() == b""


def test_the_page_does_not_wait_for_the_inspection_its_flags_follow(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    _manager(client, fake)
    asked_before = len(fake.requests("InspectTeam"))

    page = client.get("/team?period=2026-Q4")

    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert len(fake.requests("InspectTeam")) == asked_before  # a VP's inspection is slow: not here
    assert "The pipeline inspection is still running" in html
    assert 'hx-trigger="load, every 5s"' in html
    assert "pipeline covers 0.1x" not in html
    # The fragment the page asks for at once runs it, and shows the flags.
    numbers = client.get("/team-numbers?period=2026-Q4", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert "pipeline covers 0.1x" in numbers and "still running" not in numbers
    assert 'hx-trigger="every 5s"' in numbers
