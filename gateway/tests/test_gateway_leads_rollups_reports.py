"""Leads, rollups and reports through HTTP, against a fake of those services on a real gRPC server."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from salesplane.common.v1.common_pb2 import Money
from salesplane.leads.v1 import leads_pb2
from salesplane.reporting.v1 import reporting_pb2


def test_creating_a_lead_answers_201_with_its_location(client: FlaskClient, bearer: Any, fake: Any) -> None:
    response = client.post(
        "/v1/leads",
        json={
            "lead": {"first_name": "Ada", "last_name": "Lovelace", "company": "Engines Ltd", "phone": None},
            "on_duplicate": "reject",
        },
        headers=bearer("alice", "marketing"),
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["outcome"] == "created"
    assert body["duplicates"] == []
    assert response.headers["Location"] == f"/v1/leads/{body['lead']['id']}"
    assert response.headers["ETag"] == '"1"'
    assert body["lead"]["status"] == "new"
    assert body["lead"]["last_name"] == "Lovelace"
    assert body["lead"]["create_time"] == "2026-09-21T14:13:20Z"
    assert body["lead"]["qualification"] is None
    assert fake.last("CreateLead") == leads_pb2.CreateLeadRequest(
        lead=leads_pb2.LeadFields(first_name="Ada", last_name="Lovelace", company="Engines Ltd"),
        on_duplicate=leads_pb2.DUPLICATE_POLICY_REJECT,
    )


def test_a_lead_without_its_required_last_name_is_400_naming_it(client: FlaskClient, bearer: Any) -> None:
    response = client.post("/v1/leads", json={"lead": {"first_name": "Ada"}}, headers=bearer())

    assert response.status_code == 400
    assert response.get_json()["errors"] == [{"field": "lead.last_name", "description": "is required"}]


def test_a_lead_with_a_wrong_type_never_reaches_the_service(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    response = client.post(
        "/v1/leads",
        json={"lead": {"last_name": "Lovelace", "email": 5}, "on_duplicate": "ignore"},
        headers=bearer(),
    )

    assert response.status_code == 400
    assert response.get_json()["errors"] == [
        {"field": "lead.email", "description": "must be a string, not integer"},
        {"field": "on_duplicate", "description": "must be one of ['reject', 'insist', 'merge']"},
    ]
    assert fake.calls == []


def test_reading_a_lead_shows_its_status_by_name(client: FlaskClient, bearer: Any, lead_id: str) -> None:
    response = client.get(f"/v1/leads/{lead_id}", headers=bearer())

    assert response.status_code == 200
    assert response.get_json()["status"] == "in_process"
    assert response.headers["ETag"] == '"4"'


def test_an_unknown_lead_is_404(client: FlaskClient, bearer: Any) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"

    assert client.get(f"/v1/leads/{unknown}", headers=bearer()).status_code == 404


def test_a_rollup_carries_amounts_as_json_integers(client: FlaskClient, bearer: Any, fake: Any) -> None:
    response = client.get("/v1/rollups/alice?period=2026-Q4", headers=bearer())

    assert response.status_code == 200
    assert response.get_json() == {
        "user_id": "alice",
        "period_id": "2026-Q4",
        "lines": [
            {
                "currency_code": "EUR",
                "opportunity_count": 3,
                "amount": {"currency_code": "EUR", "amount_minor": 12_345_678_901_234},
                "weighted_amount": {"currency_code": "EUR", "amount_minor": 6_172_839_450_617},
            }
        ],
        "update_time": "2026-09-21T14:13:20Z",
        # The forecast totals the fake leaves unset (test_gateway_forecasting sets them).
        "currency_code": "",
        "own": None,
        "team": None,
        "quota": None,
        "attainment_basis_points": 0,
        "has_reports": False,
    }
    assert fake.calls[-1][1].period_id == "2026-Q4"


def test_a_rollup_without_a_period_is_400(client: FlaskClient, bearer: Any) -> None:
    response = client.get("/v1/rollups/alice", headers=bearer())

    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == "period"


def test_a_bad_period_is_reported_under_the_query_parameters_name(client: FlaskClient, bearer: Any) -> None:
    response = client.get("/v1/rollups/alice?period=Q4", headers=bearer())

    assert response.status_code == 400
    assert response.get_json()["errors"] == [
        {
            "field": "period",
            "description": "must be a fiscal quarter like 2026-Q4 or a calendar month like 2026-11",
        }
    ]


def test_reports_are_listed(client: FlaskClient, bearer: Any) -> None:
    response = client.get("/v1/reports", headers=bearer())

    assert response.get_json() == {
        "reports": [
            {
                "id": "pipeline",
                "title": "Pipeline",
                "description": "Open deals",
                "builtin": False,
                "owner_user_id": "",
                "sharing": "",
                "definition": None,
                "version": 0,
                "runtime_filters": [],
            }
        ]
    }


def _pipeline_report() -> reporting_pb2.ReportResult:
    result = reporting_pb2.ReportResult(
        report_id="pipeline",
        title="Pipeline",
        columns=[
            reporting_pb2.Column(name="owner", title="Owner", type=reporting_pb2.COLUMN_TYPE_STRING),
            reporting_pb2.Column(name="deals", title="Deals", type=reporting_pb2.COLUMN_TYPE_INTEGER),
            reporting_pb2.Column(name="amount", title="Amount", type=reporting_pb2.COLUMN_TYPE_MONEY),
        ],
        rows=[
            reporting_pb2.Row(
                cells=[
                    reporting_pb2.Cell(string_value="alice"),
                    reporting_pb2.Cell(integer_value=2),
                    reporting_pb2.Cell(money_value=Money(currency_code="EUR", amount_minor=123456)),
                ]
            ),
            reporting_pb2.Row(cells=[reporting_pb2.Cell(string_value="bob")]),
        ],
    )
    result.generate_time.FromSeconds(1_790_000_000)
    return result


def test_running_a_report_renders_rows_keyed_by_column_name(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.report = _pipeline_report()

    response = client.get("/v1/reports/pipeline", headers=bearer())

    assert response.status_code == 200
    assert response.get_json() == {
        "report_id": "pipeline",
        "title": "Pipeline",
        "generate_time": "2026-09-21T14:13:20Z",
        "columns": [
            {"name": "owner", "title": "Owner", "type": "string", "scale": 0},
            {"name": "deals", "title": "Deals", "type": "integer", "scale": 0},
            {"name": "amount", "title": "Amount", "type": "money", "scale": 0},
        ],
        "rows": [
            {
                "owner": "alice",
                "deals": 2,
                "amount": {"currency_code": "EUR", "amount_minor": 123456},
                "_kind": "detail",
                "_level": 0,
            },
            {"owner": "bob", "deals": None, "amount": None, "_kind": "detail", "_level": 0},
        ],
        "truncated": False,
        "row_limit": 0,
        "notes": [],
        "chart_svg": "",
    }


def test_a_report_as_csv_is_an_attachment(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.report = _pipeline_report()

    response = client.get("/v1/reports/pipeline?format=csv", headers=bearer())

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="pipeline.csv"'
    assert response.get_data(as_text=True) == (
        "Owner,Deals,Amount,Amount currency\r\nalice,2,1234.56,EUR\r\nbob,,,\r\n"
    )


def test_an_unknown_report_format_is_400(client: FlaskClient, bearer: Any) -> None:
    response = client.get("/v1/reports/pipeline?format=xlsx", headers=bearer())

    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == "format"
