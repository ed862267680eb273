"""Forecasts, forecast settings and fiscal periods, quotas, worksheets and commits through HTTP
(ForecastingService, ForecastSettingsService, QuotaService, WorksheetService: all served by the
forecasting service), against the fake upstreams."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import code_pb2, error_details_pb2

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.forecasting.v1 import forecasting_pb2, quotas_pb2, settings_pb2, worksheets_pb2
from salesplane_gateway.openapi import openapi_document
from salesplane_gateway.route_table import ROUTES

PROBLEM = "application/problem+json"
NEW_SERVICES = (
    "salesplane.forecasting.v1.ForecastSettingsService",
    "salesplane.forecasting.v1.QuotaService",
    "salesplane.forecasting.v1.WorksheetService",
)


def eur(amount_minor: int) -> Money:
    return Money(currency_code="EUR", amount_minor=amount_minor)


def eur_json(amount_minor: int) -> dict[str, Any]:
    return {"currency_code": "EUR", "amount_minor": amount_minor}


def at(seconds: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromSeconds(seconds)
    return stamp


def problem(response: Any, status: int) -> dict[str, Any]:
    assert (response.status_code, response.mimetype) == (status, PROBLEM), response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    return body


# -- upstream --------------------------------------------------------------------------------------


def test_the_new_services_are_reached_at_the_forecasting_target(
    make_client: Any, bearer: Any, fake_server: Any, free_target: str
) -> None:
    # The forecasting target is down; org (served by the same process) is pointed at the fake.
    client = make_client(forecasting_target=free_target, org_target=fake_server[0])

    for path in (
        "/v1/forecast-settings",
        "/v1/quotas/bob/2026-Q4",
        "/v1/worksheets/bob/2026-Q4",
        "/v1/forecasts/bob/distribution?period=2026-Q4",
    ):
        assert problem(client.get(path, headers=bearer()), 503)["title"] == "Service unavailable", path
    assert client.get("/v1/users/bob", headers=bearer()).status_code == 200
    assert {route.rpc.upstream for route in ROUTES if route.rpc.service_name in NEW_SERVICES} == {
        "forecasting"
    }


# -- ForecastingService ----------------------------------------------------------------------------


def test_a_rollup_carries_own_and_team_totals_quota_and_attainment(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply(
        "GetRollup",
        forecasting_pb2.Rollup(
            user_id="carol",
            period_id="2026-Q4",
            currency_code="EUR",
            own=forecasting_pb2.ForecastTotals(
                closed_won=eur(100_000), forecast_likely=eur(250_000), won_count=1, open_count=2
            ),
            team=forecasting_pb2.ForecastTotals(closed_won=eur(12_345_678_901_234)),
            quota=eur(20_000_000),
            attainment_basis_points=6_172,
            has_reports=True,
        ),
    )

    response = client.get("/v1/rollups/carol?period=2026-Q4", headers=bearer("carol", "manager"))

    assert response.status_code == 200
    body = response.get_json()
    assert (body["currency_code"], body["quota"], body["attainment_basis_points"], body["has_reports"]) == (
        "EUR",
        eur_json(20_000_000),
        6_172,
        True,
    )
    assert body["own"]["closed_won"] == eur_json(100_000)
    assert body["own"]["forecast_likely"] == eur_json(250_000)
    assert (body["own"]["won_count"], body["own"]["open_count"], body["own"]["upside_best"]) == (1, 2, None)
    assert body["team"]["closed_won"] == eur_json(12_345_678_901_234)
    assert fake.last("GetRollup") == forecasting_pb2.GetRollupRequest(user_id="carol", period_id="2026-Q4")


def test_the_probabilistic_forecast_takes_period_and_scope_from_the_query(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply(
        "GetProbabilisticForecast",
        forecasting_pb2.ProbabilisticForecast(
            user_id="carol",
            period_id="2026-Q4",
            scope=forecasting_pb2.FORECAST_SCOPE_TEAM,
            closed_won=eur(100_000),
            expected=eur(175_050),
            p10=eur(100_000),
            p50=eur(180_000),
            p90=eur(250_000),
            probability_of_reaching_quota=0.25,
            open_deal_count=3,
            method=forecasting_pb2.DISTRIBUTION_METHOD_DISCRETIZED,
            max_error=eur(12),
        ),
    )

    response = client.get(
        "/v1/forecasts/carol/distribution?period=2026-Q4&scope=team", headers=bearer("carol", "manager")
    )

    assert response.status_code == 200
    body = response.get_json()
    assert (body["scope"], body["method"], body["quota"], body["probability_of_reaching_quota"]) == (
        "team",
        "discretized",
        None,
        0.25,
    )
    assert (body["expected"], body["p50"], body["max_error"]) == (
        eur_json(175_050),
        eur_json(180_000),
        eur_json(12),
    )
    assert fake.last("GetProbabilisticForecast") == forecasting_pb2.GetProbabilisticForecastRequest(
        user_id="carol", period_id="2026-Q4", scope=forecasting_pb2.FORECAST_SCOPE_TEAM
    )


def test_a_forecast_without_a_period_or_with_an_unknown_scope_never_reaches_the_service(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    body = problem(client.get("/v1/forecasts/carol/distribution?scope=all", headers=bearer()), 400)

    assert body["errors"] == [
        {"field": "scope", "description": "must be one of ['own', 'team']"},
        {"field": "period", "description": "is a required query parameter"},
    ]
    assert fake.calls == []


def test_rebuilding_the_rollups_is_a_custom_method_and_needs_an_admin(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply("RebuildRollups", forecasting_pb2.RebuildRollupsResponse(rollup_rows=1_234))

    response = client.post("/v1/rollups:rebuild", json={}, headers=bearer("root", "admin"))

    assert (response.status_code, response.get_json()) == (200, {"rollup_rows": 1_234})
    assert fake.last("RebuildRollups") == forecasting_pb2.RebuildRollupsRequest()

    fake.fail("RebuildRollups", code_pb2.PERMISSION_DENIED, "only administrators rebuild rollups")
    body = problem(client.post("/v1/rollups:rebuild", json={}, headers=bearer()), 403)
    assert (body["title"], body["detail"]) == ("Permission denied", "only administrators rebuild rollups")


# -- ForecastSettingsService -----------------------------------------------------------------------


def stored_settings(version: int = 3) -> settings_pb2.ForecastSettings:
    return settings_pb2.ForecastSettings(
        fiscal_year_start_month=2,
        range_scheme=settings_pb2.RANGE_SCHEME_THREE_BUCKETS,
        ranges=[
            settings_pb2.ForecastRange(
                name="Commit", min_probability=70, max_probability=100, commit_stage=1
            ),
            settings_pb2.ForecastRange(name="Upside", min_probability=40, max_probability=69, commit_stage=2),
            settings_pb2.ForecastRange(
                name="Pipeline", min_probability=0, max_probability=39, commit_stage=3
            ),
        ],
        show_likely=True,
        show_best=True,
        version=version,
        update_time=at(1_790_000_000),
        currency_code="EUR",
    )


def test_the_forecast_settings_are_read_with_their_etag(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.reply("GetForecastSettings", stored_settings())

    response = client.get("/v1/forecast-settings", headers=bearer())

    assert response.status_code == 200
    assert response.headers["ETag"] == '"3"'
    body = response.get_json()
    assert body["range_scheme"] == "three_buckets"
    assert body["ranges"][0] == {
        "name": "Commit",
        "min_probability": 70,
        "max_probability": 100,
        "commit_stage": "include",
    }
    assert [r["commit_stage"] for r in body["ranges"]] == ["include", "upside", "exclude"]
    assert (body["show_worst"], body["update_time"], body["currency_code"]) == (
        False,
        "2026-09-21T14:13:20Z",
        "EUR",
    )


def test_the_forecast_settings_are_replaced_with_if_match_as_the_expected_version(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply("UpdateForecastSettings", stored_settings(version=4))

    response = client.put(
        "/v1/forecast-settings",
        json={
            "fiscal_year_start_month": 2,
            "range_scheme": "two_buckets",
            "ranges": [
                {"name": "In", "min_probability": 50, "max_probability": 100, "commit_stage": "include"},
                {"name": "Out", "min_probability": 0, "max_probability": 49, "commit_stage": "exclude"},
            ],
            "show_likely": True,
        },
        headers={**bearer("root", "admin"), "If-Match": '"3"'},
    )

    assert response.status_code == 200, response.get_json()
    assert response.headers["ETag"] == '"4"'
    assert fake.last("UpdateForecastSettings") == settings_pb2.UpdateForecastSettingsRequest(
        settings=settings_pb2.ForecastSettings(
            fiscal_year_start_month=2,
            range_scheme=settings_pb2.RANGE_SCHEME_TWO_BUCKETS,
            ranges=[
                settings_pb2.ForecastRange(
                    name="In",
                    min_probability=50,
                    max_probability=100,
                    commit_stage=settings_pb2.COMMIT_STAGE_INCLUDE,
                ),
                settings_pb2.ForecastRange(
                    name="Out",
                    min_probability=0,
                    max_probability=49,
                    commit_stage=settings_pb2.COMMIT_STAGE_EXCLUDE,
                ),
            ],
            show_likely=True,
        ),
        expected_version=3,
    )


# A whole settings document: PUT replaces every member, so the service requires the scheme as well.
SETTINGS_JSON: dict[str, Any] = {
    "fiscal_year_start_month": 1,
    "range_scheme": "two_buckets",
    "ranges": [
        {"name": "In", "min_probability": 50, "max_probability": 100, "commit_stage": "include"},
        {"name": "Out", "min_probability": 0, "max_probability": 49, "commit_stage": "exclude"},
    ],
    "show_likely": True,
}


def test_replacing_the_settings_without_if_match_is_unconditional(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply("UpdateForecastSettings", stored_settings(version=4))

    response = client.put("/v1/forecast-settings", json=SETTINGS_JSON, headers=bearer("root", "admin"))

    assert response.status_code == 200, response.get_json()
    assert fake.last("UpdateForecastSettings").expected_version == 0


def test_a_stale_if_match_on_the_settings_is_a_409_version_mismatch(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.fail(
        "UpdateForecastSettings",
        code_pb2.ABORTED,
        "the forecast settings are at version 5, not 3",
        error_details_pb2.ErrorInfo(reason="VERSION_MISMATCH", domain="salesplane.dev"),
    )

    response = client.put(
        "/v1/forecast-settings",
        json=SETTINGS_JSON,
        headers={**bearer("root", "admin"), "If-Match": '"3"'},
    )

    body = problem(response, 409)
    assert (body["title"], body["reason"]) == ("Version mismatch", "VERSION_MISMATCH")


def test_a_malformed_if_match_on_the_settings_never_reaches_the_service(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    response = client.put(
        "/v1/forecast-settings",
        json={"fiscal_year_start_month": 1},
        headers={**bearer("root", "admin"), "If-Match": "W/v3"},
    )

    assert problem(response, 400)["errors"][0]["field"] == "If-Match"
    assert fake.calls == []


def test_invalid_settings_are_400_with_fields_named_within_the_body(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.invalid("UpdateForecastSettings", ("settings.ranges[1].min_probability", "the ranges overlap at 49"))
    overlapping = {
        **SETTINGS_JSON,
        "ranges": [
            {"name": "In", "min_probability": 49, "max_probability": 100, "commit_stage": "include"},
            {"name": "Out", "min_probability": 0, "max_probability": 49, "commit_stage": "exclude"},
        ],
    }

    response = client.put("/v1/forecast-settings", json=overlapping, headers=bearer("root", "admin"))

    assert problem(response, 400)["errors"] == [
        {"field": "ranges[1].min_probability", "description": "the ranges overlap at 49"},
    ]


def test_every_broken_rule_of_the_settings_is_reported_at_once_before_the_call(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    response = client.put(
        "/v1/forecast-settings",
        json={"fiscal_year_start_month": 13, "ranges": [{"name": " ", "max_probability": 101}]},
        headers=bearer("root", "admin"),
    )

    assert {error["field"]: error["description"] for error in problem(response, 400)["errors"]} == {
        "fiscal_year_start_month": "must be at most 12",
        "ranges[0].name": "must not be empty or contain control characters",
        "ranges[0].max_probability": "must be at most 100",
        "range_scheme": "is required",
        "ranges[0].commit_stage": "is required",
    }
    assert fake.calls == []


def test_a_settings_body_of_the_wrong_shape_never_reaches_the_service(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    response = client.put(
        "/v1/forecast-settings",
        json={"ranges": [{"commit_stage": "COMMIT_STAGE_INCLUDE"}], "expected_version": 3},
        headers=bearer("root", "admin"),
    )

    errors = problem(response, 400)["errors"]
    assert errors[0] == {
        "field": "ranges[0].commit_stage",
        "description": "must be one of ['include', 'upside', 'exclude']",
    }
    assert errors[1]["field"] == "expected_version"  # the version rides in If-Match
    assert fake.calls == []


def test_the_periods_of_a_fiscal_year_carry_their_dates(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.reply(
        "ListPeriods",
        settings_pb2.ListPeriodsResponse(
            periods=[
                settings_pb2.Period(
                    period_id="2026-Q1",
                    kind=settings_pb2.PERIOD_KIND_QUARTER,
                    fiscal_year=2026,
                    quarter=1,
                    start_date=Date(year=2026, month=2, day=1),
                    end_date=Date(year=2026, month=4, day=30),
                ),
                settings_pb2.Period(
                    period_id="2026-02",
                    kind=settings_pb2.PERIOD_KIND_MONTH,
                    fiscal_year=2026,
                    quarter=1,
                    start_date=Date(year=2026, month=2, day=1),
                    end_date=Date(year=2026, month=2, day=28),
                    parent_period_id="2026-Q1",
                ),
            ]
        ),
    )

    response = client.get("/v1/periods?fiscal_year=2026", headers=bearer())

    assert response.status_code == 200
    assert response.get_json()["periods"][1] == {
        "period_id": "2026-02",
        "kind": "month",
        "fiscal_year": 2026,
        "quarter": 1,
        "start_date": "2026-02-01",
        "end_date": "2026-02-28",
        "parent_period_id": "2026-Q1",
    }
    assert fake.last("ListPeriods") == settings_pb2.ListPeriodsRequest(fiscal_year=2026)


def test_the_period_of_a_date_takes_the_date_from_the_query(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply(
        "GetPeriodOfDate",
        settings_pb2.PeriodOfDate(
            quarter=settings_pb2.Period(period_id="2026-Q4", kind=settings_pb2.PERIOD_KIND_QUARTER),
        ),
    )

    response = client.get("/v1/periods:of-date?date=2026-11-15", headers=bearer())

    assert response.status_code == 200
    body = response.get_json()
    assert (body["quarter"]["period_id"], body["quarter"]["kind"], body["month"]) == (
        "2026-Q4",
        "quarter",
        None,
    )
    assert fake.last("GetPeriodOfDate") == settings_pb2.GetPeriodOfDateRequest(
        date=Date(year=2026, month=11, day=15)
    )


def test_the_period_of_a_date_needs_a_calendar_date(client: FlaskClient, bearer: Any, fake: Any) -> None:
    wrong = problem(client.get("/v1/periods:of-date?date=15.11.2026", headers=bearer()), 400)
    impossible = problem(client.get("/v1/periods:of-date?date=2026-02-30", headers=bearer()), 400)
    missing = problem(client.get("/v1/periods:of-date", headers=bearer()), 400)

    assert wrong["errors"] == [{"field": "date", "description": "must be a date formatted YYYY-MM-DD"}]
    assert impossible["errors"] == [{"field": "date", "description": "is not a valid calendar date"}]
    assert missing["errors"] == [{"field": "date", "description": "is a required query parameter"}]
    assert fake.calls == []


# -- QuotaService ----------------------------------------------------------------------------------


def stored_quota(**fields: Any) -> quotas_pb2.Quota:
    values: dict[str, Any] = {
        "user_id": "bob",
        "period_id": "2026-Q4",
        "kind": quotas_pb2.QUOTA_KIND_ASSIGNED,
        "amount": eur(50_000_000),
        "committed_by": "root",
        "commit_time": at(1_790_000_000),
        "version": 2,
    }
    return quotas_pb2.Quota(**{**values, **fields})


def test_a_quota_is_set_from_the_path_and_the_amount_in_the_body(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply("SetQuota", stored_quota())

    response = client.put(
        "/v1/quotas/bob/2026-Q4",
        json={"amount": eur_json(50_000_000)},
        headers=bearer("root", "admin"),
    )

    assert response.status_code == 200
    assert response.headers["ETag"] == '"2"'
    assert response.get_json() == {
        "user_id": "bob",
        "period_id": "2026-Q4",
        "kind": "assigned",
        "amount": eur_json(50_000_000),
        "committed_by": "root",
        "commit_time": "2026-09-21T14:13:20Z",
        "version": 2,
    }
    assert fake.last("SetQuota") == quotas_pb2.SetQuotaRequest(
        user_id="bob", period_id="2026-Q4", amount=eur(50_000_000)
    )


def test_a_quota_amount_must_be_an_integer_of_minor_units(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    response = client.put(
        "/v1/quotas/bob/2026-Q4",
        json={"amount": {"currency_code": "EUR", "amount_minor": "500.00"}, "user_id": "eve"},
        headers=bearer("root", "admin"),
    )

    assert problem(response, 400)["errors"] == [
        {"field": "amount.amount_minor", "description": "must be an integer, not string"},
        {"field": "user_id", "description": "disagrees with the URL path (user_id)"},
    ]
    assert fake.calls == []


def test_a_quota_is_read_by_kind_and_is_404_when_none_is_committed(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply("GetQuota", stored_quota(kind=quotas_pb2.QUOTA_KIND_DIRECT))

    response = client.get("/v1/quotas/carol/2026-Q4?kind=direct", headers=bearer("carol", "manager"))

    assert (response.status_code, response.get_json()["kind"]) == (200, "direct")
    assert fake.last("GetQuota") == quotas_pb2.GetQuotaRequest(
        user_id="carol", period_id="2026-Q4", kind=quotas_pb2.QUOTA_KIND_DIRECT
    )

    fake.fail("GetQuota", code_pb2.NOT_FOUND, "no quota of bob is committed for 2026-Q4")
    body = problem(client.get("/v1/quotas/bob/2026-Q4", headers=bearer()), 404)
    assert body["detail"] == "no quota of bob is committed for 2026-Q4"


def test_quota_changes_are_not_mistaken_for_a_quota_of_a_period_named_changes(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply(
        "ListQuotaChanges",
        quotas_pb2.ListQuotaChangesResponse(
            changes=[
                quotas_pb2.QuotaChange(
                    user_id="bob",
                    period_id="2026-Q4",
                    kind=quotas_pb2.QUOTA_KIND_ASSIGNED,
                    to_amount=eur(50_000_000),
                    changed_by="carol",
                    change_time=at(1_790_000_000),
                )
            ]
        ),
    )

    response = client.get("/v1/quotas/bob/changes?period=2026-Q4", headers=bearer())

    assert response.status_code == 200
    change = response.get_json()["changes"][0]
    assert (change["from_amount"], change["to_amount"], change["changed_by"]) == (
        None,
        eur_json(50_000_000),
        "carol",
    )
    assert fake.last("ListQuotaChanges") == quotas_pb2.ListQuotaChangesRequest(
        user_id="bob", period_id="2026-Q4"
    )
    assert fake.requests("GetQuota") == []


def test_a_quota_draft_is_saved_and_its_invalid_allocations_are_named(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply(
        "SaveQuotaDraft",
        quotas_pb2.QuotaPlan(
            manager_user_id="carol",
            period_id="2026-Q4",
            quota=eur(100_000_000),
            allocated=eur(110_000_000),
            unallocated=eur(-10_000_000),
            has_draft=True,
        ),
    )
    allocations = [
        {"user_id": "bob", "kind": "assigned", "amount": eur_json(60_000_000)},
        {"user_id": "carol", "kind": "direct", "amount": eur_json(50_000_000)},
    ]

    response = client.put(
        "/v1/quota-plans/carol/2026-Q4/draft",
        json={"allocations": allocations},
        headers=bearer("carol", "manager"),
    )

    assert response.status_code == 200
    assert (response.get_json()["unallocated"], response.get_json()["has_draft"]) == (
        eur_json(-10_000_000),
        True,
    )
    assert fake.last("SaveQuotaDraft") == quotas_pb2.SaveQuotaDraftRequest(
        manager_user_id="carol",
        period_id="2026-Q4",
        allocations=[
            quotas_pb2.DraftAllocation(
                user_id="bob", kind=quotas_pb2.QUOTA_KIND_ASSIGNED, amount=eur(60_000_000)
            ),
            quotas_pb2.DraftAllocation(
                user_id="carol", kind=quotas_pb2.QUOTA_KIND_DIRECT, amount=eur(50_000_000)
            ),
        ],
    )

    fake.invalid("SaveQuotaDraft", ("allocations[0].user_id", "is not a direct report of carol"))
    body = problem(
        client.put(
            "/v1/quota-plans/carol/2026-Q4/draft",
            json={"allocations": allocations},
            headers=bearer("carol", "manager"),
        ),
        400,
    )
    assert body["errors"] == [
        {"field": "allocations[0].user_id", "description": "is not a direct report of carol"}
    ]


def test_a_quota_plan_is_read_and_committing_without_a_draft_is_422(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    plan = client.get("/v1/quota-plans/carol/2026-Q4", headers=bearer("carol", "manager"))

    assert plan.status_code == 200
    assert fake.last("GetQuotaPlan") == quotas_pb2.GetQuotaPlanRequest(
        manager_user_id="carol", period_id="2026-Q4"
    )

    fake.fail(
        "CommitQuotaPlan",
        code_pb2.FAILED_PRECONDITION,
        "carol has no draft for 2026-Q4",
        error_details_pb2.ErrorInfo(reason="NO_DRAFT", domain="salesplane.dev"),
    )
    response = client.post(
        "/v1/quota-plans/carol/2026-Q4:commit", json={}, headers=bearer("carol", "manager")
    )

    body = problem(response, 422)
    assert (body["title"], body["detail"], body["reason"]) == (
        "Failed precondition",
        "carol has no draft for 2026-Q4",
        "NO_DRAFT",
    )
    assert fake.last("CommitQuotaPlan") == quotas_pb2.CommitQuotaPlanRequest(
        manager_user_id="carol", period_id="2026-Q4"
    )


# -- WorksheetService ------------------------------------------------------------------------------


def worksheet_deal(**fields: Any) -> worksheets_pb2.WorksheetDeal:
    values: dict[str, Any] = {
        "opportunity_id": "6c1f2e4a-3b5d-4c7e-8f90-a1b2c3d4e5f6",
        "name": "Acme renewal",
        "sales_stage": "Negotiation",
        "probability": 80,
        "expected_close_date": Date(year=2026, month=11, day=30),
        "status": "open",
        "amount": Money(currency_code="USD", amount_minor=120_000),
        "likely": eur(110_000),
        "commit_stage": settings_pb2.COMMIT_STAGE_INCLUDE,
        "opportunity_version": 7,
    }
    return worksheets_pb2.WorksheetDeal(**{**values, **fields})


def test_a_rep_worksheet_lists_deals_with_dates_money_and_commit_stages(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply(
        "GetRepWorksheet",
        worksheets_pb2.RepWorksheet(
            user_id="bob",
            period_id="2026-Q4",
            currency_code="EUR",
            deals=[worksheet_deal()],
            totals=forecasting_pb2.ForecastTotals(included_likely=eur(110_000), included_count=1),
            changed_since_commit=True,
            changes_since_commit=["likely up from 0.00 to 1,100.00"],
            show_likely=True,
        ),
    )

    response = client.get("/v1/worksheets/bob/2026-Q4", headers=bearer("bob"))

    assert response.status_code == 200
    body = response.get_json()
    deal = body["deals"][0]
    assert (deal["expected_close_date"], deal["amount"], deal["likely"], deal["best"]) == (
        "2026-11-30",
        {"currency_code": "USD", "amount_minor": 120_000},
        eur_json(110_000),
        None,
    )
    assert (deal["commit_stage"], deal["commit_stage_manual"], deal["opportunity_version"]) == (
        "include",
        False,
        7,
    )
    assert (body["quota"], body["draft"], body["last_commit"]) == (None, None, None)
    assert body["totals"]["included_count"] == 1
    assert body["changes_since_commit"] == ["likely up from 0.00 to 1,100.00"]
    assert fake.last("GetRepWorksheet") == worksheets_pb2.GetWorksheetRequest(
        user_id="bob", period_id="2026-Q4"
    )


def test_a_commit_stage_is_set_by_name_and_null_follows_the_ranges_again(
    client: FlaskClient, bearer: Any, fake: Any, opportunity_id: str
) -> None:
    fake.reply("SetCommitStage", worksheet_deal(commit_stage=2, commit_stage_manual=True))

    response = client.put(
        f"/v1/opportunities/{opportunity_id}/commit-stage", json={"commit_stage": "upside"}, headers=bearer()
    )
    cleared = client.put(
        f"/v1/opportunities/{opportunity_id}/commit-stage", json={"commit_stage": None}, headers=bearer()
    )

    assert response.status_code == 200
    assert (response.get_json()["commit_stage"], response.get_json()["commit_stage_manual"]) == (
        "upside",
        True,
    )
    assert cleared.status_code == 200
    assert fake.requests("SetCommitStage") == [
        worksheets_pb2.SetCommitStageRequest(
            opportunity_id=opportunity_id, commit_stage=settings_pb2.COMMIT_STAGE_UPSIDE
        ),
        worksheets_pb2.SetCommitStageRequest(
            opportunity_id=opportunity_id, commit_stage=settings_pb2.COMMIT_STAGE_UNSPECIFIED
        ),
    ]


def test_an_unknown_commit_stage_never_reaches_the_service_and_an_unknown_deal_is_404(
    client: FlaskClient, bearer: Any, fake: Any, opportunity_id: str
) -> None:
    path = f"/v1/opportunities/{opportunity_id}/commit-stage"

    body = problem(client.put(path, json={"commit_stage": "maybe"}, headers=bearer()), 400)

    assert body["errors"] == [
        {"field": "commit_stage", "description": "must be one of ['include', 'upside', 'exclude']"}
    ]
    assert fake.calls == []

    fake.fail("SetCommitStage", code_pb2.NOT_FOUND, f"opportunity {opportunity_id} is not tracked")
    assert problem(client.put(path, json={"commit_stage": "include"}, headers=bearer()), 404)["title"] == (
        "Not found"
    )


def test_a_manager_row_is_adjusted_with_optional_amounts(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.reply(
        "AdjustManagerRow",
        worksheets_pb2.ManagerWorksheet(
            user_id="carol",
            period_id="2026-Q4",
            rows=[
                worksheets_pb2.ManagerRow(
                    user_id="bob", display_name="Bob", likely=eur(90_000), adjusted_likely=eur(90_000)
                )
            ],
        ),
    )

    response = client.put(
        "/v1/manager-worksheets/carol/2026-Q4/rows/bob",
        json={"likely_minor": 90_000, "best_minor": None},
        headers=bearer("carol", "manager"),
    )

    assert response.status_code == 200
    row = response.get_json()["rows"][0]
    assert (row["adjusted_likely"], row["adjusted_best"], row["latest_commit"]) == (
        eur_json(90_000),
        None,
        None,
    )
    sent = fake.last("AdjustManagerRow")
    assert sent == worksheets_pb2.AdjustManagerRowRequest(
        manager_user_id="carol", period_id="2026-Q4", user_id="bob", likely_minor=90_000
    )
    assert (sent.HasField("likely_minor"), sent.HasField("best_minor"), sent.HasField("worst_minor")) == (
        True,
        False,
        False,
    )


def test_a_zero_adjustment_is_sent_as_set(client: FlaskClient, bearer: Any, fake: Any) -> None:
    client.put(
        "/v1/manager-worksheets/carol/2026-Q4/rows/carol",
        json={"worst_minor": 0},
        headers=bearer("carol", "manager"),
    )

    assert fake.last("AdjustManagerRow").HasField("worst_minor")


def test_adjusting_a_row_of_someone_else_is_403(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.fail("AdjustManagerRow", code_pb2.PERMISSION_DENIED, "bob is not a direct report of dave")

    response = client.put(
        "/v1/manager-worksheets/dave/2026-Q4/rows/bob", json={"likely_minor": 1}, headers=bearer("carol")
    )

    assert problem(response, 403)["detail"] == "bob is not a direct report of dave"


def test_the_manager_worksheet_is_read(client: FlaskClient, bearer: Any, fake: Any) -> None:
    response = client.get("/v1/manager-worksheets/carol/2026-Q4", headers=bearer("carol", "manager"))

    assert response.status_code == 200
    assert response.get_json()["rows"] == []
    assert fake.last("GetManagerWorksheet") == worksheets_pb2.GetWorksheetRequest(
        user_id="carol", period_id="2026-Q4"
    )


def snapshot(**fields: Any) -> worksheets_pb2.ForecastSnapshot:
    values: dict[str, Any] = {
        "snapshot_id": "s-1",
        "user_id": "carol",
        "period_id": "2026-Q4",
        "kind": worksheets_pb2.SNAPSHOT_KIND_MANAGER,
        "committed": True,
        "likely": eur(300_000),
        "note": "Q4 call",
        "author": "carol",
        "create_time": at(1_790_000_000),
        "rows": [
            worksheets_pb2.SnapshotRow(
                key="bob", label="Bob", likely=eur(90_000), commit_stage=1, adjusted=True
            )
        ],
        "changes": ["likely up from 250,000.00 to 300,000.00"],
        "sequence": 2,
    }
    return worksheets_pb2.ForecastSnapshot(**{**values, **fields})


def test_a_worksheet_is_committed_and_saved_as_a_draft_with_kind_and_note(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply("CommitForecast", snapshot())
    fake.reply("SaveWorksheetDraft", snapshot(committed=False, sequence=0))

    committed = client.post(
        "/v1/worksheets/carol/2026-Q4:commit",
        json={"kind": "manager", "note": "Q4 call"},
        headers=bearer("carol", "manager"),
    )
    draft = client.post(
        "/v1/worksheets/carol/2026-Q4:save-draft", json={"kind": "rep"}, headers=bearer("carol", "manager")
    )

    assert committed.status_code == 200
    body = committed.get_json()
    assert (body["kind"], body["committed"], body["sequence"], body["create_time"]) == (
        "manager",
        True,
        2,
        "2026-09-21T14:13:20Z",
    )
    assert body["rows"] == [
        {
            "key": "bob",
            "label": "Bob",
            "likely": eur_json(90_000),
            "best": None,
            "worst": None,
            "commit_stage": "include",
            "adjusted": True,
        }
    ]
    assert fake.last("CommitForecast") == worksheets_pb2.CommitForecastRequest(
        user_id="carol", period_id="2026-Q4", kind=worksheets_pb2.SNAPSHOT_KIND_MANAGER, note="Q4 call"
    )
    assert (draft.status_code, draft.get_json()["committed"]) == (200, False)
    assert fake.last("SaveWorksheetDraft") == worksheets_pb2.SaveWorksheetDraftRequest(
        user_id="carol", period_id="2026-Q4", kind=worksheets_pb2.SNAPSHOT_KIND_REP
    )


def test_committing_someone_elses_worksheet_is_403_and_a_closed_period_422(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.fail("CommitForecast", code_pb2.PERMISSION_DENIED, "only bob commits bob's forecast")
    denied = client.post("/v1/worksheets/bob/2026-Q4:commit", json={}, headers=bearer("carol", "manager"))
    fake.fail("CommitForecast", code_pb2.FAILED_PRECONDITION, "2025-Q4 has ended")
    ended = client.post("/v1/worksheets/bob/2025-Q4:commit", json={}, headers=bearer("bob"))

    assert problem(denied, 403)["detail"] == "only bob commits bob's forecast"
    assert problem(ended, 422)["detail"] == "2025-Q4 has ended"


def test_an_invalid_commit_names_the_path_parameter(client: FlaskClient, bearer: Any, fake: Any) -> None:
    response = client.post("/v1/worksheets/bob/Q4:commit", json={"note": "x" * 5000}, headers=bearer("bob"))

    assert problem(response, 400)["errors"] == [
        {"field": "note", "description": "must be at most 2000 characters"},
        {
            "field": "period_id",
            "description": "must be a fiscal quarter like 2026-Q4 or a calendar month like 2026-11",
        },
    ]
    assert fake.calls == []


def test_forecast_commits_are_listed_by_kind_and_accuracy_is_read(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply("ListForecastCommits", worksheets_pb2.ListForecastCommitsResponse(commits=[snapshot()]))
    fake.reply(
        "GetForecastAccuracy",
        worksheets_pb2.ForecastAccuracy(
            user_id="carol",
            period_id="2026-Q3",
            period_closed=True,
            team=worksheets_pb2.AccuracyRow(
                user_id="carol",
                committed_likely=eur(300_000),
                actual_closed_won=eur(270_000),
                difference=eur(-30_000),
                accuracy_basis_points=9_000,
            ),
            currency_code="EUR",
        ),
    )

    commits = client.get(
        "/v1/forecast-commits/carol/2026-Q4?kind=manager", headers=bearer("carol", "manager")
    )
    accuracy = client.get("/v1/forecast-accuracy/carol/2026-Q3", headers=bearer("carol", "manager"))

    assert [c["snapshot_id"] for c in commits.get_json()["commits"]] == ["s-1"]
    assert fake.last("ListForecastCommits") == worksheets_pb2.ListForecastCommitsRequest(
        user_id="carol", period_id="2026-Q4", kind=worksheets_pb2.SNAPSHOT_KIND_MANAGER
    )
    body = accuracy.get_json()
    assert (body["period_closed"], body["own"], body["rows"]) == (True, None, [])
    assert (body["team"]["difference"], body["team"]["accuracy_basis_points"]) == (eur_json(-30_000), 9_000)
    assert fake.last("GetForecastAccuracy") == worksheets_pb2.GetForecastAccuracyRequest(
        user_id="carol", period_id="2026-Q3"
    )


# -- OpenAPI ---------------------------------------------------------------------------------------


def test_the_new_operations_are_documented_with_their_parameters() -> None:
    paths = openapi_document()["paths"]

    def parameter(operation: dict[str, Any], name: str) -> dict[str, Any]:
        return next(p for p in operation["parameters"] if p.get("name") == name)

    of_date = paths["/v1/periods:of-date"]["get"]
    assert (of_date["operationId"], of_date["tags"]) == ("getPeriodOfDate", ["forecasting"])
    assert parameter(of_date, "date") == {
        "name": "date",
        "in": "query",
        "required": True,
        "schema": {"$ref": "#/components/schemas/Date"},
    }
    settings = paths["/v1/forecast-settings"]["put"]
    assert {"$ref": "#/components/parameters/IfMatch"} in settings["parameters"]
    assert "ETag" in settings["responses"]["200"]["headers"]
    assert parameter(paths["/v1/quotas/{user_id}/{period_id}"]["get"], "kind")["schema"] == {
        "$ref": "#/components/schemas/QuotaKind"
    }
    commit_stage = paths["/v1/opportunities/{opportunity_id}/commit-stage"]["put"]
    assert commit_stage["operationId"] == "setCommitStage"
    assert paths["/v1/quotas/{user_id}/changes"]["get"]["operationId"] == "listQuotaChanges"
    assert paths["/v1/users/{user_id}"]["put"]["parameters"][1]["name"] == "manager_effective_date"
