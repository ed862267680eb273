"""The console's Admin pages over the fake upstreams: each form reads the current value, sends one
call with the version it read (nothing half-saved), reports every unreadable field at once before
calling, and shows the service's refusals beside the fields; a non-admin gets the services' 403;
the audit log asks every service and merges newest first."""

from __future__ import annotations

import itertools
import re
from typing import Any

import grpc
from flask.testing import FlaskClient
from google.protobuf.struct_pb2 import Value
from google.rpc import error_details_pb2

from gateway.tests.test_console_pages import sign_in
from salesplane.audit.v1 import audit_pb2
from salesplane.common.v1.common_pb2 import Date
from salesplane.forecasting.v1 import inspection_pb2, org_pb2, settings_pb2
from salesplane.leads.v1 import leads_pb2
from salesplane.opportunities.v1 import opportunities_pb2
from salesplane_gateway.routes_audit import AUDITED_UPSTREAMS

FakeUpstreams = Any  # the conftest's fake (tests import no conftest)

DENIED = grpc.StatusCode.PERMISSION_DENIED.value[0]
ABORTED = grpc.StatusCode.ABORTED.value[0]


def _admin(client: FlaskClient, fake: FakeUpstreams) -> str:
    """Signed in as the development administrator; the form token of the session."""
    sign_in(client, fake, "admin")
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin").get_data(as_text=True))
    assert found
    return found.group(1)


def _invalid(html: str, name: str) -> bool:
    return (
        re.search(
            rf'id="f-{re.escape(name)}"[^>]*aria-invalid="true"[^>]*aria-describedby="e-{re.escape(name)}"',
            html,
        )
        is not None
    )


def _users(fake: FakeUpstreams) -> None:
    ann = org_pb2.User(
        user_id="ann",
        display_name="Ann Rep",
        email="ann@example.com",
        roles=["rep"],
        manager_user_id="vp",
        active=True,
        version=4,
        scheduled_manager_user_id="mia",
        scheduled_manager_date=Date(year=2027, month=1, day=1),
    )
    fake.reply(
        "ListUsers",
        org_pb2.ListUsersResponse(
            users=[
                org_pb2.User(user_id="vp", display_name="Vera Vice", roles=["manager"], active=True),
                org_pb2.User(user_id="mia", display_name="Mia Manager", roles=["manager"], active=True),
                ann,
            ]
        ),
    )
    fake.reply("GetUser", ann)


# -- the index and who may use it ---------------------------------------------------------------


def test_the_index_links_every_admin_page_and_the_nav_shows_it_to_an_admin(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    _admin(client, fake)

    html = client.get("/admin").get_data(as_text=True)

    for path in ("/admin/users", "/admin/stages", "/admin/rates", "/admin/forecast-settings"):
        assert f'href="{path}"' in html
    assert 'href="/admin/scoring"' in html and 'href="/admin/inspection"' in html
    assert 'href="/admin/audit"' in html
    assert 'href="/admin" aria-current="page"' in html


def test_a_non_admin_gets_the_services_refusal_as_a_403_page(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake, "anna.nowak")
    fake.fail("ListExchangeRates", DENIED, "only administrators may do that")

    answer = client.get("/admin/rates")

    assert answer.status_code == 403
    assert "only administrators may do that" in answer.get_data(as_text=True)
    assert 'href="/admin"' not in client.get("/sign-in").get_data(as_text=True)


def test_a_non_admins_save_is_refused_by_the_service_not_by_the_console(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake, "anna.nowak")
    fake.reply("GetInspectionSettings", inspection_pb2.InspectionSettings())
    page = client.get("/admin/inspection").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token and "Only administrators can change these settings" in page
    fake.fail("UpdateInspectionSettings", DENIED, "anna.nowak is not an administrator")

    answer = client.post("/admin/inspection", data={**_thresholds_form(), "csrf_token": token.group(1)})

    assert answer.status_code == 403
    assert len(fake.requests("UpdateInspectionSettings")) == 1


# -- users and reporting lines ------------------------------------------------------------------


def test_the_user_list_shows_managers_and_scheduled_moves(client: FlaskClient, fake: FakeUpstreams) -> None:
    _admin(client, fake)
    _users(fake)

    html = client.get("/admin/users", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)

    assert "Ann Rep" in html and "Vera Vice" in html
    assert "From 1 Jan 2027: Mia Manager" in html


def test_a_user_opens_with_the_scheduled_move_so_an_unrelated_save_keeps_it(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    token = _admin(client, fake)
    _users(fake)

    html = client.get("/admin/users/ann").get_data(as_text=True)
    assert '<option value="mia" selected>' in html
    assert 'value="2027-01-01"' in html and "Reports to Vera Vice now." in html
    assert fake.last("GetUser").user_id == "ann"

    fake.reply("UpsertUser", org_pb2.User(user_id="ann", version=5))
    answer = client.post(
        "/admin/users/ann",
        data={
            "csrf_token": token,
            "version": "4",
            "display_name": "Ann Rep",
            "email": "ann.rep@example.com",
            "roles": ["rep", "marketing"],
            "manager_user_id": "mia",
            "manager_effective_date": "2027-01-01",
            "active": "on",
        },
    )

    assert answer.status_code == 303
    sent = fake.last("UpsertUser")
    assert sent.expected_version == 4
    assert (sent.user.user_id, sent.user.email, list(sent.user.roles)) == (
        "ann",
        "ann.rep@example.com",
        ["rep", "marketing"],
    )
    assert sent.user.manager_user_id == "mia" and sent.user.active
    assert (sent.manager_effective_date.year, sent.manager_effective_date.month) == (2027, 1)


def test_a_user_form_reports_every_bad_field_at_once_and_calls_nothing(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    token = _admin(client, fake)
    _users(fake)

    answer = client.post(
        "/admin/users/ann",
        data={
            "csrf_token": token,
            "version": "4",
            "display_name": "  ",
            "roles": ["pilot"],
            "manager_user_id": "vp",
            "manager_effective_date": "1st of May",
        },
    )

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert _invalid(html, "display_name") and _invalid(html, "manager_effective_date")
    assert 'id="e-roles"' in html
    assert fake.requests("UpsertUser") == []


def test_the_services_refusals_show_beside_the_user_fields(client: FlaskClient, fake: FakeUpstreams) -> None:
    token = _admin(client, fake)
    _users(fake)
    fake.invalid("UpsertUser", ("user.email", "must be an e-mail address"), ("user.colour", "unknown"))

    answer = client.post(
        "/admin/users/ann",
        data={"csrf_token": token, "version": "4", "display_name": "Ann", "email": "x@", "roles": "rep"},
    )

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert _invalid(html, "email") and 'id="e-email">must be an e-mail address' in html
    assert "user.colour: unknown" in html  # a field the form does not show is not lost


def test_a_conflicting_user_save_explains_and_rebases_on_their_version(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    token = _admin(client, fake)
    _users(fake)
    fake.fail("UpsertUser", ABORTED, "user ann is at version 4, not 3")

    answer = client.post(
        "/admin/users/ann",
        data={
            "csrf_token": token,
            "version": "3",
            "display_name": "Ann Typed",
            "roles": "rep",
            "active": "on",
        },
    )

    assert answer.status_code == 409
    html = answer.get_data(as_text=True)
    assert "Someone else changed this" in html and 'value="Ann Typed"' in html
    assert 'name="version" value="4"' in html and "What is stored now" in html


def test_a_new_user_cannot_take_an_existing_id(client: FlaskClient, fake: FakeUpstreams) -> None:
    token = _admin(client, fake)
    _users(fake)

    form = client.get("/admin/users/new")
    assert form.status_code == 200 and 'id="f-user_id"' in form.get_data(as_text=True)
    answer = client.post(
        "/admin/users/new",
        data={"csrf_token": token, "user_id": "ann", "display_name": "Another Ann", "roles": "rep"},
    )

    assert answer.status_code == 422
    assert _invalid(answer.get_data(as_text=True), "user_id")
    assert fake.requests("UpsertUser") == []


def test_a_new_user_is_created_without_a_version(client: FlaskClient, fake: FakeUpstreams) -> None:
    token = _admin(client, fake)
    _users(fake)
    fake.reply("UpsertUser", org_pb2.User(user_id="zoe", version=1))

    answer = client.post(
        "/admin/users/new",
        data={
            "csrf_token": token,
            "version": "0",
            "user_id": "zoe",
            "display_name": "Zoe New",
            "roles": "rep",
            "manager_user_id": "mia",
            "active": "on",
        },
    )

    assert answer.status_code == 303
    sent = fake.last("UpsertUser")
    assert (sent.user.user_id, sent.user.manager_user_id, sent.expected_version) == ("zoe", "mia", 0)
    assert not sent.HasField("manager_effective_date")


# -- sales stages -------------------------------------------------------------------------------


def _stage_rows(*rows: tuple[str, str, str, str]) -> dict[str, str]:
    data = {"rows": str(len(rows)), "revision": "3"}
    for index, (position, name, probability, kind) in enumerate(rows):
        data |= {
            f"position-{index}": position,
            f"name-{index}": name,
            f"probability-{index}": probability,
            f"kind-{index}": kind,
        }
    return data


def test_stages_are_replaced_whole_in_position_order_at_the_revision_read(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    token = _admin(client, fake)
    html = client.get("/admin/stages").get_data(as_text=True)
    assert 'value="Prospecting"' in html and 'name="revision" value="3"' in html
    assert 'id="f-name-6"' in html  # four stages and three empty rows

    answer = client.post(
        "/admin/stages",
        data={
            "csrf_token": token,
            **_stage_rows(
                ("2", "Qualification", "20", "open"),
                ("1", "Prospecting", "10", "open"),
                ("3", "Closed Won", "100", "won"),
                ("4", "", "", "open"),
                ("5", "Closed Lost", "0", "lost"),
            ),
        },
    )

    assert answer.status_code == 303
    sent = fake.last("ReplaceSalesStages")
    assert sent.expected_revision == 3
    assert [(s.name, s.default_probability, s.is_won, s.is_lost, s.order) for s in sent.sales_stages] == [
        ("Prospecting", 10, False, False, 0),
        ("Qualification", 20, False, False, 1),
        ("Closed Won", 100, True, False, 2),
        ("Closed Lost", 0, False, True, 3),
    ]


def test_bad_stage_rows_are_all_reported_before_any_call(client: FlaskClient, fake: FakeUpstreams) -> None:
    token = _admin(client, fake)

    answer = client.post(
        "/admin/stages",
        data={
            "csrf_token": token,
            **_stage_rows(
                ("1", "Prospecting", "ten", "open"), ("2", "Won", "150", "won"), ("x", "", "5", "lost")
            ),
        },
    )

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert _invalid(html, "probability-0") and _invalid(html, "probability-1")
    assert _invalid(html, "position-2") and _invalid(html, "name-2")
    assert "Enter a value from 0 to 100." in html
    assert fake.requests("ReplaceSalesStages") == []


def test_a_stage_refusal_lands_on_the_row_it_came_from(client: FlaskClient, fake: FakeUpstreams) -> None:
    token = _admin(client, fake)
    fake.invalid("ReplaceSalesStages", ("sales_stages[1].name", "'Won' appears more than once"))

    answer = client.post(
        "/admin/stages",
        data={
            "csrf_token": token,
            # Row 0 is blank (not sent), so the service's item 1 is the form's row 2.
            **_stage_rows(("1", "", "", "open"), ("2", "Won", "100", "won"), ("3", "Won", "100", "won")),
        },
    )

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert _invalid(html, "name-2") and not _invalid(html, "name-1")


# -- exchange rates -----------------------------------------------------------------------------


def test_a_rate_is_sent_as_the_decimal_text_typed(client: FlaskClient, fake: FakeUpstreams) -> None:
    token = _admin(client, fake)
    fake.reply(
        "ListExchangeRates",
        opportunities_pb2.ListExchangeRatesResponse(
            base_currency_code="PLN",
            rates=[
                opportunities_pb2.ExchangeRate(
                    currency_code="EUR", rate="4.2735", effective_from=Date(year=2026, month=10, day=1)
                )
            ],
        ),
    )
    assert "1 EUR = 4.2735 PLN" in client.get("/admin/rates").get_data(as_text=True)

    answer = client.post(
        "/admin/rates",
        data={
            "csrf_token": token,
            "currency_code": "eur",
            "rate": "4,273500000001",
            "effective_from": "2026-11-01",
        },
    )

    assert answer.status_code == 303 and "currency=EUR" in answer.headers["Location"]
    sent = fake.last("SetExchangeRate")
    assert (sent.currency_code, sent.rate) == ("EUR", "4.273500000001")
    assert (sent.effective_from.year, sent.effective_from.month, sent.effective_from.day) == (2026, 11, 1)


def test_a_bad_rate_form_reports_every_field(client: FlaskClient, fake: FakeUpstreams) -> None:
    token = _admin(client, fake)

    answer = client.post(
        "/admin/rates",
        data={"csrf_token": token, "currency_code": "EU", "rate": "-1", "effective_from": "2026-13-01"},
    )

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert _invalid(html, "currency_code") and _invalid(html, "rate") and _invalid(html, "effective_from")
    assert fake.requests("SetExchangeRate") == []


# -- forecast settings --------------------------------------------------------------------------


def _settings() -> settings_pb2.ForecastSettings:
    return settings_pb2.ForecastSettings(
        fiscal_year_start_month=2,
        range_scheme=settings_pb2.RANGE_SCHEME_TWO_BUCKETS,
        ranges=[
            settings_pb2.ForecastRange(
                name="Out",
                min_probability=0,
                max_probability=69,
                commit_stage=settings_pb2.COMMIT_STAGE_EXCLUDE,
            ),
            settings_pb2.ForecastRange(
                name="In",
                min_probability=70,
                max_probability=100,
                commit_stage=settings_pb2.COMMIT_STAGE_INCLUDE,
            ),
        ],
        show_likely=True,
        version=7,
        currency_code="PLN",
    )


def test_forecast_settings_are_saved_whole_at_the_version_read(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    token = _admin(client, fake)
    fake.reply("GetForecastSettings", _settings())
    html = client.get("/admin/forecast-settings").get_data(as_text=True)
    assert '<option value="2" selected>February</option>' in html and 'value="Out"' in html
    assert 'name="version" value="7"' in html

    answer = client.post(
        "/admin/forecast-settings",
        data={
            "csrf_token": token,
            "version": "7",
            "rows": "4",
            "fiscal_year_start_month": "4",
            "range_scheme": "three",
            "range-name-0": "Out",
            "range-min-0": "0",
            "range-max-0": "39",
            "range-stage-0": "exclude",
            "range-name-1": "Maybe",
            "range-min-1": "40",
            "range-max-1": "69",
            "range-stage-1": "upside",
            "range-name-2": "In",
            "range-min-2": "70",
            "range-max-2": "100",
            "range-stage-2": "include",
            "show_likely": "on",
            "show_best": "on",
        },
    )

    assert answer.status_code == 303
    sent = fake.last("UpdateForecastSettings")
    assert sent.expected_version == 7
    assert sent.settings.fiscal_year_start_month == 4
    assert sent.settings.range_scheme == settings_pb2.RANGE_SCHEME_THREE_BUCKETS
    assert [(r.name, r.min_probability, r.max_probability) for r in sent.settings.ranges] == [
        ("Out", 0, 39),
        ("Maybe", 40, 69),
        ("In", 70, 100),
    ]
    assert sent.settings.ranges[1].commit_stage == settings_pb2.COMMIT_STAGE_UPSIDE
    assert (sent.settings.show_likely, sent.settings.show_best, sent.settings.show_worst) == (
        True,
        True,
        False,
    )


def test_forecast_settings_refusals_land_beside_the_fields(client: FlaskClient, fake: FakeUpstreams) -> None:
    token = _admin(client, fake)
    fake.reply("GetForecastSettings", _settings())
    fake.invalid(
        "UpdateForecastSettings",
        ("settings.ranges", "must cover 0..100 exactly once; 70..79 is missing"),
        ("settings.ranges[1].min_probability", "overlaps range 0"),
    )
    data = {
        "csrf_token": token,
        "version": "7",
        "rows": "2",
        "fiscal_year_start_month": "1",
        "range_scheme": "two",
        "range-name-0": "Out",
        "range-min-0": "0",
        "range-max-0": "69",
        "range-stage-0": "exclude",
        "range-name-1": "In",
        "range-min-1": "60",
        "range-max-1": "100",
        "range-stage-1": "include",
    }

    answer = client.post("/admin/forecast-settings", data=data)

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "70..79 is missing" in html and _invalid(html, "range-min-1")

    answer = client.post(
        "/admin/forecast-settings", data={**data, "range-max-1": "lots", "fiscal_year_start_month": "13"}
    )
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert _invalid(html, "range-max-1") and _invalid(html, "fiscal_year_start_month")
    assert len(fake.requests("UpdateForecastSettings")) == 1


# -- lead scoring -------------------------------------------------------------------------------


def test_scoring_rules_send_only_their_criterions_setting(client: FlaskClient, fake: FakeUpstreams) -> None:
    token = _admin(client, fake)
    fake.reply(
        "GetScoringRules",
        leads_pb2.ScoringRules(
            rules=[
                leads_pb2.ScoringRule(
                    id="email",
                    description="Has e-mail",
                    criterion=leads_pb2.SCORING_CRITERION_HAS_EMAIL,
                    points=5,
                )
            ],
            revision=2,
        ),
    )
    html = client.get("/admin/scoring").get_data(as_text=True)
    assert 'value="email"' in html and 'name="revision" value="2"' in html

    answer = client.post(
        "/admin/scoring",
        data={
            "csrf_token": token,
            "revision": "2",
            "rows": "3",
            "rule-id-0": "email",
            "rule-criterion-0": "email",
            "rule-points-0": "5",
            "rule-days-0": "not read",
            "rule-id-1": "big",
            "rule-description-1": "Budget of 10 000 zł",
            "rule-criterion-1": "budget",
            "rule-points-1": "30",
            "rule-budget-1": "10 000,50",
            "rule-currency-1": "pln",
        },
    )

    assert answer.status_code == 303
    sent = fake.last("ReplaceScoringRules")
    assert sent.expected_revision == 2 and [rule.id for rule in sent.rules] == ["email", "big"]
    assert sent.rules[0].within_days == 0
    assert (sent.rules[1].min_budget.currency_code, sent.rules[1].min_budget.amount_minor) == (
        "PLN",
        1_000_050,
    )


def test_bad_scoring_rules_are_reported_together(client: FlaskClient, fake: FakeUpstreams) -> None:
    token = _admin(client, fake)

    answer = client.post(
        "/admin/scoring",
        data={
            "csrf_token": token,
            "revision": "2",
            "rows": "2",
            "rule-id-0": "soon",
            "rule-criterion-0": "timeline",
            "rule-points-0": "500",
            "rule-days-0": "",
            "rule-id-1": "",
            "rule-criterion-1": "budget",
            "rule-points-1": "3",
            "rule-budget-1": "12.345",
            "rule-currency-1": "EUR",
        },
    )

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    for name in ("rule-points-0", "rule-days-0", "rule-id-1", "rule-budget-1"):
        assert _invalid(html, name), name
    assert fake.requests("ReplaceScoringRules") == []


# -- inspection thresholds ----------------------------------------------------------------------


def _thresholds_form(**overrides: str) -> dict[str, str]:
    values = {
        "low_p_quota_bp": "50",
        "coverage_tolerance_bp": "10",
        "pacing_tolerance_bp": "10",
        "commit_excess_bp": "10",
        "commit_shortfall_bp": "20",
        "slipping_share_bp": "20",
        "bias_tolerance_bp": "20",
        "bias_min_periods": "2",
        "trailing_periods": "4",
        "default_coverage_needed_bp": "300",
        "max_coverage_needed_bp": "1000",
        "stalled_percentile": "75",
        "stalled_min_samples": "5",
        "large_deal_share_bp": "25",
        "unlikely_max_probability": "20",
        "unlikely_max_stage_order": "",
        "pushes_to_flag": "2",
        "no_change_days": "14",
        "backward_lookback_days": "28",
        "slipping_lookback_days": "28",
        "movement_lookback_days": "7",
        "version": "3",
    }
    return {**values, **overrides}


def test_thresholds_show_as_percentages_and_are_read_back_exactly(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    token = _admin(client, fake)
    fake.reply(
        "GetInspectionSettings",
        inspection_pb2.InspectionSettings(
            thresholds=inspection_pb2.InspectionThresholds(
                low_p_quota_bp=1250, default_coverage_needed_bp=30_000
            ),
            version=3,
        ),
    )
    html = client.get("/admin/inspection").get_data(as_text=True)
    assert 'id="f-low_p_quota_bp" name="low_p_quota_bp" type="text" value="12.5"' in html
    assert 'value="300"' in html and "1,250 basis points" in html

    answer = client.post(
        "/admin/inspection", data={"csrf_token": token, **_thresholds_form(low_p_quota_bp="12,5 %")}
    )

    assert answer.status_code == 303
    sent = fake.last("UpdateInspectionSettings")
    thresholds = sent.settings.thresholds
    assert sent.expected_version == 3
    assert (thresholds.low_p_quota_bp, thresholds.default_coverage_needed_bp, thresholds.pushes_to_flag) == (
        1250,
        30_000,
        2,
    )
    assert not thresholds.HasField("unlikely_max_stage_order")


def test_bad_thresholds_are_all_reported_and_nothing_is_rounded(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    token = _admin(client, fake)
    fake.reply("GetInspectionSettings", inspection_pb2.InspectionSettings(version=3))

    answer = client.post(
        "/admin/inspection",
        data={
            "csrf_token": token,
            **_thresholds_form(
                low_p_quota_bp="12.555", pacing_tolerance_bp="101", no_change_days="two weeks"
            ),
        },
    )

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert _invalid(html, "low_p_quota_bp") and _invalid(html, "pacing_tolerance_bp")
    assert _invalid(html, "no_change_days")
    assert "Enter a value from 0 to 100." in html
    assert fake.requests("UpdateInspectionSettings") == []

    fake.invalid(
        "UpdateInspectionSettings",
        ("settings.thresholds.bias_min_periods", "must be at most trailing_periods (4)"),
    )
    answer = client.post(
        "/admin/inspection", data={"csrf_token": token, **_thresholds_form(bias_min_periods="5")}
    )
    assert answer.status_code == 422
    assert _invalid(answer.get_data(as_text=True), "bias_min_periods")


# -- audit log ----------------------------------------------------------------------------------


def _entry(seconds: int, entry_id: str, **fields: Any) -> audit_pb2.AuditEntry:
    entry = audit_pb2.AuditEntry(entry_id=entry_id, **fields)
    entry.occurred_at.FromSeconds(seconds)
    return entry


def test_the_audit_log_asks_every_service_and_merges_newest_first(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    _admin(client, fake)
    pages = itertools.count()

    def answer(request: Any, context: Any) -> audit_pb2.ListAuditEntriesResponse:
        # The one fake stands for every service: each call answers its own page.
        n = next(pages)
        return audit_pb2.ListAuditEntriesResponse(
            entries=[
                _entry(
                    1_790_000_000 + n * 10,
                    f"e{n}",
                    service=f"s{n}",
                    actor="admin",
                    subject_type="user",
                    subject_id="ann",
                    action="UserChanged",
                    has_previous=True,
                    changes=[
                        audit_pb2.FieldChange(
                            path="user.email",
                            to=Value(string_value=f"ann{n}@example.com"),
                            **{"from": Value(string_value="old")},
                        )
                    ],
                )
            ],
            more=n == 0,
        )

    fake.on("ListAuditEntries", answer)

    html = client.get("/admin/audit?actor=admin&page_size=2").get_data(as_text=True)

    sent = fake.requests("ListAuditEntries")
    assert len(sent) == len(AUDITED_UPSTREAMS)
    assert all(r.actor == "admin" and r.page_size == 2 for r in sent)
    shown = re.findall(r"<small>(s\d)</small>", html)
    assert shown == ["s3", "s2"]  # the two newest of the four pages
    assert "ann3@example.com" in html and "&#34;old&#34; → " in html
    older = re.search(r'href="(/admin/audit\?[^"]+)">Older entries', html)
    assert older and "before_entry_id=e2" in older.group(1) and "actor=admin" in older.group(1)

    fake.reset()
    fake.reply("ListAuditEntries", audit_pb2.ListAuditEntriesResponse())
    client.get(older.group(1).replace("&amp;", "&"))
    cursor = fake.last("ListAuditEntries")
    assert cursor.before_entry_id == "e2" and cursor.before_time.seconds == 1_790_000_020


def test_one_services_log_and_bad_filters(client: FlaskClient, fake: FakeUpstreams) -> None:
    _admin(client, fake)

    client.get("/admin/audit?service=leads&since=2026-10-01")
    assert len(fake.requests("ListAuditEntries")) == 1
    assert fake.last("ListAuditEntries").since.seconds > 0

    answer = client.get("/admin/audit?since=yesterday&page_size=900&service=mail")
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert _invalid(html, "since") and _invalid(html, "page_size") and _invalid(html, "service")
    assert len(fake.requests("ListAuditEntries")) == 1


def test_a_non_admin_cannot_read_the_audit_log(client: FlaskClient, fake: FakeUpstreams) -> None:
    sign_in(client, fake, "anna.nowak")
    fake.fail("ListAuditEntries", DENIED, "the audit log is for administrators")

    answer = client.get("/admin/audit")

    assert answer.status_code == 403
    assert "the audit log is for administrators" in answer.get_data(as_text=True)


def test_a_refused_deactivation_says_why_beside_active(client: FlaskClient, fake: FakeUpstreams) -> None:
    token = _admin(client, fake)
    _users(fake)
    fake.fail(
        "UpsertUser",
        grpc.StatusCode.FAILED_PRECONDITION.value[0],
        "ann still owns 3 open deals and 2 open leads",
        error_details_pb2.ErrorInfo(reason="OWNS_OPEN_DEALS", domain="salesplane.dev"),
    )

    answer = client.post(
        "/admin/users/ann",
        data={"csrf_token": token, "version": "4", "display_name": "Ann Rep", "roles": "rep"},
    )

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert 'id="e-active">ann still owns 3 open deals' in html
    assert fake.last("UpsertUser").reassign_open_work_to_manager is False
