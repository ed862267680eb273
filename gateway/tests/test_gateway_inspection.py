"""The pipeline inspection and its thresholds through HTTP (InspectionService, served by the
forecasting service), against the fake upstreams."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import code_pb2, error_details_pb2

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.forecasting.v1 import inspection_pb2
from salesplane_gateway.openapi import openapi_document
from salesplane_gateway.route_table import ROUTES

PROBLEM = "application/problem+json"
PERIOD_RULE = "must be a fiscal quarter like 2026-Q4 or a calendar month like 2026-11"


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


def inspection_row(user_id: str, **fields: Any) -> inspection_pb2.InspectionRow:
    values: dict[str, Any] = {
        "user_id": user_id,
        "display_name": user_id.title(),
        "quota": eur(50_000_000),
        "closed_won": eur(10_000_000),
        "live_forecast": eur(30_000_000),
        "pipeline": eur(20_000_000),
        "expected": eur(25_000_000),
        "coverage_bp": 5_000,
        "coverage_needed_bp": 30_000,
        "pacing_bp": 2_000,
        "elapsed_bp": 6_000,
        "p_quota_bp": 1_200,
        "gap": eur(20_000_000),
        "pushed_out": eur(0),
        "since_commit": inspection_pb2.MovementSinceCommit(
            closed_won=eur(0), live_forecast_vs_committed=eur(0)
        ),
        "money_at_risk": eur(20_000_000),
    }
    return inspection_pb2.InspectionRow(**{**values, **fields})


def stored_thresholds(**fields: Any) -> inspection_pb2.InspectionThresholds:
    values: dict[str, Any] = {
        "low_p_quota_bp": 3_000,
        "coverage_tolerance_bp": 1_000,
        "pushes_to_flag": 2,
        "no_change_days": 14,
    }
    return inspection_pb2.InspectionThresholds(**{**values, **fields})


# Every threshold: PUT replaces them all, and the service takes none as 0 where 0 is out of range.
THRESHOLDS_JSON: dict[str, int] = {
    "low_p_quota_bp": 3_000,
    "bias_min_periods": 3,
    "trailing_periods": 4,
    "default_coverage_needed_bp": 30_000,
    "max_coverage_needed_bp": 50_000,
    "stalled_percentile": 90,
    "stalled_min_samples": 20,
    "large_deal_share_bp": 5_000,
    "pushes_to_flag": 2,
    "no_change_days": 14,
    "backward_lookback_days": 28,
    "slipping_lookback_days": 28,
    "movement_lookback_days": 7,
}


def stored_inspection_settings(version: int = 3) -> inspection_pb2.InspectionSettings:
    return inspection_pb2.InspectionSettings(
        thresholds=stored_thresholds(),
        version=version,
        updated_by="root" if version else "",
        update_time=at(1_790_000_000) if version else None,
    )


# -- upstream --------------------------------------------------------------------------------------


def test_the_inspection_is_reached_at_the_forecasting_target(
    make_client: Any, bearer: Any, fake_server: Any, free_target: str
) -> None:
    # The forecasting target is down; org (served by the same process) is pointed at the fake.
    client = make_client(forecasting_target=free_target, org_target=fake_server[0])

    for path in (
        "/v1/inspections/carol/2026-Q4",
        "/v1/rep-inspections/bob/2026-Q4",
        "/v1/inspection-settings",
    ):
        assert problem(client.get(path, headers=bearer()), 503)["title"] == "Service unavailable", path
    assert {
        route.rpc.upstream
        for route in ROUTES
        if route.rpc.service_name == "salesplane.forecasting.v1.InspectionService"
    } == {"forecasting"}


def test_an_inspection_without_a_token_is_401_and_never_reaches_the_service(
    client: FlaskClient, fake: Any
) -> None:
    problem(client.get("/v1/inspections/carol/2026-Q4"), 401)
    problem(client.put("/v1/inspection-settings", json={"thresholds": {}}), 401)

    assert fake.calls == []


def test_the_callers_token_is_forwarded_with_the_inspection(
    client: FlaskClient, fake: Any, make_token: Any
) -> None:
    issued = make_token("carol", "manager")

    client.get("/v1/inspections/carol/2026-Q4", headers={"Authorization": f"Bearer {issued}"})

    assert fake.calls[-1][0] == "InspectTeam"
    assert fake.calls[-1][2]["authorization"] == f"Bearer {issued}"


# -- InspectTeam -----------------------------------------------------------------------------------


def test_a_team_inspection_carries_the_team_row_and_a_row_per_report_with_their_flags(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply(
        "InspectTeam",
        inspection_pb2.TeamInspection(
            manager_user_id="carol",
            period_id="2026-Q4",
            inspect_time=at(1_790_000_000),
            team=inspection_row("carol", team=True),
            rows=[
                inspection_row(
                    "bob",
                    committed=eur(28_000_000),
                    flags=[
                        inspection_pb2.RiskFlag(
                            kind="coverage_short",
                            reason="pipeline covers 0.5x of what is left to close, 3.0x is needed",
                            numbers={"coverage_bp": 5_000, "coverage_needed_bp": 30_000},
                            money_at_risk=eur(20_000_000),
                        )
                    ],
                    flagged_deal_count=2,
                ),
                inspection_row("dave", quota=None, coverage_bp=None, p_quota_bp=None, gap=None),
            ],
        ),
    )

    response = client.get("/v1/inspections/carol/2026-Q4", headers=bearer("carol", "manager"))

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["manager_user_id"], body["period_id"], body["inspect_time"]) == (
        "carol",
        "2026-Q4",
        "2026-09-21T14:13:20Z",
    )
    assert (body["team"]["team"], body["team"]["committed"], body["team"]["money_at_risk"]) == (
        True,
        None,
        eur_json(20_000_000),
    )
    bob, dave = body["rows"]
    assert (bob["committed"], bob["coverage_bp"], bob["flagged_deal_count"]) == (
        eur_json(28_000_000),
        5_000,
        2,
    )
    assert bob["flags"] == [
        {
            "kind": "coverage_short",
            "reason": "pipeline covers 0.5x of what is left to close, 3.0x is needed",
            "numbers": {"coverage_bp": 5_000, "coverage_needed_bp": 30_000},
            "money_at_risk": eur_json(20_000_000),
        }
    ]
    assert (dave["quota"], dave["coverage_bp"], dave["p_quota_bp"], dave["gap"], dave["flags"]) == (
        None,
        None,
        None,
        None,
        [],
    )
    assert fake.last("InspectTeam") == inspection_pb2.InspectTeamRequest(
        manager_user_id="carol", period_id="2026-Q4"
    )


def test_inspecting_a_team_outside_the_callers_subtree_is_403(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.fail("InspectTeam", code_pb2.PERMISSION_DENIED, "carol may not read the forecast of erin")

    response = client.get("/v1/inspections/erin/2026-Q4", headers=bearer("carol", "manager"))

    body = problem(response, 403)
    assert (body["title"], body["detail"]) == ("Permission denied", "carol may not read the forecast of erin")


def test_a_team_inspection_of_a_bad_period_is_400_naming_the_path_parameter(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    response = client.get("/v1/inspections/carol/Q4", headers=bearer("carol", "manager"))

    assert problem(response, 400)["errors"] == [{"field": "period_id", "description": PERIOD_RULE}]
    assert fake.calls == []


def test_an_inspection_of_an_unknown_user_is_404(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.fail(
        "InspectTeam",
        code_pb2.NOT_FOUND,
        "user 'zed' not found",
        error_details_pb2.ResourceInfo(resource_type="user", resource_name="zed"),
    )

    response = client.get("/v1/inspections/zed/2026-Q4", headers=bearer("root", "admin"))

    assert problem(response, 404)["detail"] == "user 'zed' not found"


def test_a_team_inspection_takes_no_query_parameters(client: FlaskClient, bearer: Any, fake: Any) -> None:
    response = client.get("/v1/inspections/carol/2026-Q4?period=2026-Q3", headers=bearer("carol"))

    assert problem(response, 400)["errors"] == [
        {"field": "period", "description": "is not a known query parameter; this operation takes none"}
    ]
    assert fake.calls == []


# -- InspectRep ------------------------------------------------------------------------------------


def test_a_rep_inspection_carries_their_row_and_flagged_deals(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply(
        "InspectRep",
        inspection_pb2.RepInspection(
            user_id="bob",
            period_id="2026-Q4",
            inspect_time=at(1_790_000_000),
            row=inspection_row("bob", flagged_deal_count=1),
            deals=[
                inspection_pb2.FlaggedDeal(
                    opportunity_id="6c1f2e4a-3b5d-4c7e-8f90-a1b2c3d4e5f6",
                    name="Acme renewal",
                    account_name="Acme",
                    sales_stage="Negotiation",
                    probability=80,
                    close_date=Date(year=2026, month=11, day=30),
                    amount=eur(12_000_000),
                    money_at_stake=eur(12_000_000),
                    flags=[
                        inspection_pb2.DealFlag(
                            kind="pushed", reason="pushed 3 times", numbers={"push_count": 3}
                        )
                    ],
                )
            ],
        ),
    )

    response = client.get("/v1/rep-inspections/bob/2026-Q4", headers=bearer("carol", "manager"))

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["user_id"], body["period_id"], body["row"]["flagged_deal_count"]) == ("bob", "2026-Q4", 1)
    deal = body["deals"][0]
    assert (deal["close_date"], deal["amount"], deal["money_at_stake"], deal["probability"]) == (
        "2026-11-30",
        eur_json(12_000_000),
        eur_json(12_000_000),
        80,
    )
    assert deal["flags"] == [{"kind": "pushed", "reason": "pushed 3 times", "numbers": {"push_count": 3}}]
    assert fake.last("InspectRep") == inspection_pb2.InspectRepRequest(user_id="bob", period_id="2026-Q4")


def test_inspecting_a_rep_outside_the_callers_subtree_is_403(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.fail("InspectRep", code_pb2.PERMISSION_DENIED, "bob may not read the forecast of erin")

    response = client.get("/v1/rep-inspections/erin/2026-Q4", headers=bearer("bob"))

    assert problem(response, 403)["detail"] == "bob may not read the forecast of erin"
    assert fake.last("InspectRep") == inspection_pb2.InspectRepRequest(user_id="erin", period_id="2026-Q4")


def test_a_rep_inspection_of_a_bad_period_is_400_naming_the_path_parameter(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.invalid("InspectRep", ("period_id", PERIOD_RULE))

    response = client.get("/v1/rep-inspections/bob/2026-Q9", headers=bearer("bob"))

    assert problem(response, 400)["errors"] == [{"field": "period_id", "description": PERIOD_RULE}]


# -- inspection settings ---------------------------------------------------------------------------


def test_the_inspection_settings_are_read_with_their_etag(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply("GetInspectionSettings", stored_inspection_settings())

    response = client.get("/v1/inspection-settings", headers=bearer())

    assert response.status_code == 200
    assert response.headers["ETag"] == '"3"'
    body = response.get_json()
    assert (body["version"], body["updated_by"], body["update_time"]) == (3, "root", "2026-09-21T14:13:20Z")
    thresholds = body["thresholds"]
    assert (thresholds["low_p_quota_bp"], thresholds["pushes_to_flag"], thresholds["no_change_days"]) == (
        3_000,
        2,
        14,
    )
    assert thresholds["unlikely_max_stage_order"] is None
    assert fake.last("GetInspectionSettings") == inspection_pb2.GetInspectionSettingsRequest()


def test_the_default_inspection_settings_have_no_etag(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.reply("GetInspectionSettings", stored_inspection_settings(version=0))

    response = client.get("/v1/inspection-settings", headers=bearer())

    assert (response.status_code, response.get_json()["version"]) == (200, 0)
    assert "ETag" not in response.headers


def test_the_inspection_settings_are_replaced_with_if_match_as_the_expected_version(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply("UpdateInspectionSettings", stored_inspection_settings(version=4))

    response = client.put(
        "/v1/inspection-settings",
        json={"thresholds": {**THRESHOLDS_JSON, "low_p_quota_bp": 2_500, "unlikely_max_stage_order": 0}},
        headers={**bearer("root", "admin"), "If-Match": '"3"'},
    )

    assert response.status_code == 200, response.get_json()
    assert response.headers["ETag"] == '"4"'
    sent = fake.last("UpdateInspectionSettings")
    assert sent == inspection_pb2.UpdateInspectionSettingsRequest(
        settings=inspection_pb2.InspectionSettings(
            thresholds=inspection_pb2.InspectionThresholds(
                **{**THRESHOLDS_JSON, "low_p_quota_bp": 2_500}, unlikely_max_stage_order=0
            )
        ),
        expected_version=3,
    )
    assert sent.settings.thresholds.HasField("unlikely_max_stage_order")


def test_replacing_the_inspection_settings_without_if_match_is_unconditional(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply("UpdateInspectionSettings", stored_inspection_settings(version=4))

    response = client.put(
        "/v1/inspection-settings", json={"thresholds": THRESHOLDS_JSON}, headers=bearer("root", "admin")
    )

    assert response.status_code == 200, response.get_json()
    assert fake.last("UpdateInspectionSettings").expected_version == 0


def test_a_stale_if_match_on_the_inspection_settings_is_a_409_version_mismatch(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.fail(
        "UpdateInspectionSettings",
        code_pb2.ABORTED,
        "the inspection settings are at version 5, not 3",
        error_details_pb2.ErrorInfo(reason="VERSION_MISMATCH", domain="salesplane.dev"),
    )

    response = client.put(
        "/v1/inspection-settings",
        json={"thresholds": THRESHOLDS_JSON},
        headers={**bearer("root", "admin"), "If-Match": '"3"'},
    )

    body = problem(response, 409)
    assert (body["title"], body["reason"]) == ("Version mismatch", "VERSION_MISMATCH")


def test_a_malformed_if_match_or_a_version_in_the_body_never_reaches_the_service(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    malformed = client.put(
        "/v1/inspection-settings",
        json={"thresholds": {"pushes_to_flag": 3}},
        headers={**bearer("root", "admin"), "If-Match": "W/v3"},
    )
    in_body = client.put(
        "/v1/inspection-settings",
        json={"thresholds": {"pushes_to_flag": "3x"}, "expected_version": 3},
        headers=bearer("root", "admin"),
    )

    assert problem(malformed, 400)["errors"][0]["field"] == "If-Match"
    errors = problem(in_body, 400)["errors"]
    assert errors[0]["field"] == "thresholds.pushes_to_flag"
    assert errors[1]["field"] == "expected_version"  # the version rides in If-Match
    assert fake.calls == []


def test_out_of_range_thresholds_are_400_with_fields_named_within_the_body(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.invalid(
        "UpdateInspectionSettings",
        ("settings.thresholds.bias_min_periods", "must be at most trailing_periods (4)"),
    )
    unordered = {**THRESHOLDS_JSON, "bias_min_periods": 5}

    from_the_service = client.put(
        "/v1/inspection-settings", json={"thresholds": unordered}, headers=bearer("root", "admin")
    )
    out_of_range = client.put(
        "/v1/inspection-settings",
        json={"thresholds": {**THRESHOLDS_JSON, "low_p_quota_bp": 20_000, "trailing_periods": None}},
        headers=bearer("root", "admin"),
    )

    assert problem(from_the_service, 400)["errors"] == [
        {"field": "thresholds.bias_min_periods", "description": "must be at most trailing_periods (4)"},
    ]
    assert problem(out_of_range, 400)["errors"] == [
        {"field": "thresholds.low_p_quota_bp", "description": "must be at most 10000"},
        {"field": "thresholds.trailing_periods", "description": "is required"},
    ]
    assert len(fake.calls) == 1


def test_replacing_the_inspection_settings_as_a_non_admin_is_403(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.fail(
        "UpdateInspectionSettings", code_pb2.PERMISSION_DENIED, "only administrators change the thresholds"
    )

    response = client.put(
        "/v1/inspection-settings", json={"thresholds": THRESHOLDS_JSON}, headers=bearer("carol")
    )

    assert problem(response, 403)["detail"] == "only administrators change the thresholds"


# -- OpenAPI ---------------------------------------------------------------------------------------


def test_the_inspection_operations_are_documented_with_their_parameters() -> None:
    paths = openapi_document()["paths"]

    team = paths["/v1/inspections/{manager_user_id}/{period_id}"]["get"]
    rep = paths["/v1/rep-inspections/{user_id}/{period_id}"]["get"]
    assert (team["operationId"], team["tags"]) == ("inspectTeam", ["forecasting"])
    assert (rep["operationId"], rep["tags"]) == ("inspectRep", ["forecasting"])
    assert [(p["name"], p["in"]) for p in team["parameters"]] == [
        ("manager_user_id", "path"),
        ("period_id", "path"),
    ]
    assert [(p["name"], p["in"]) for p in rep["parameters"]] == [("user_id", "path"), ("period_id", "path")]
    assert "PERMISSION_DENIED outside the caller's subtree" in team["description"]
    read = paths["/v1/inspection-settings"]["get"]
    update = paths["/v1/inspection-settings"]["put"]
    assert (read["operationId"], update["operationId"]) == (
        "getInspectionSettings",
        "updateInspectionSettings",
    )
    assert "ETag" in read["responses"]["200"]["headers"]
    assert {"$ref": "#/components/parameters/IfMatch"} in update["parameters"]
    assert "ETag" in update["responses"]["200"]["headers"]


# -- ListRiskAlerts --------------------------------------------------------------------------------


def test_risk_alerts_are_listed_by_subtree_and_period_from_the_query(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    flag = inspection_pb2.RiskStateFlag(kind="pacing_behind", reason="behind pace", money_at_risk=eur(500))
    fake.reply(
        "ListRiskAlerts",
        inspection_pb2.ListRiskAlertsResponse(
            alerts=[
                inspection_pb2.RiskAlert(
                    subject_kind="rep",
                    user_id="bob",
                    period_id="2026-Q4",
                    sequence=2,
                    entered=[flag],
                    current=[flag],
                    occur_time=at(1_790_000_000),
                )
            ],
            next_page_token="next",
        ),
    )

    response = client.get(
        "/v1/risk-alerts?user_id=carol&period_id=2026-Q4&page_size=10", headers=bearer("carol")
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["next_page_token"] == "next"
    [alert] = body["alerts"]
    assert (alert["subject_kind"], alert["user_id"], alert["sequence"]) == ("rep", "bob", 2)
    assert alert["entered"] == [
        {"kind": "pacing_behind", "reason": "behind pace", "money_at_risk": eur_json(500)}
    ]
    assert fake.last("ListRiskAlerts") == inspection_pb2.ListRiskAlertsRequest(
        user_id="carol", period_id="2026-Q4", page_size=10
    )


def test_risk_alerts_outside_the_callers_subtree_are_403(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.fail("ListRiskAlerts", code_pb2.PERMISSION_DENIED, "bob may not read the forecast of erin")

    response = client.get("/v1/risk-alerts?user_id=erin", headers=bearer("bob"))

    assert problem(response, 403)["detail"] == "bob may not read the forecast of erin"
