"""Reports through HTTP: run options in the query or the body, the report table's presentation, saved
reports, sources, schedules and their runs, and streamed exports, against a fake ReportingService on a
real gRPC server."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from flask.testing import FlaskClient
from google.protobuf import struct_pb2
from google.rpc import code_pb2, error_details_pb2

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.reporting.v1 import reporting_pb2
from salesplane_gateway.openapi import openapi_document
from salesplane_gateway.upstream import StreamBroken

PROBLEM = "application/problem+json"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def errors_of(response: Any) -> dict[str, str]:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    return {e["field"]: e["description"] for e in response.get_json()["errors"]}


def values(*items: Any) -> reporting_pb2.FilterValues:
    found = reporting_pb2.FilterValues()
    for item in items:
        value = struct_pb2.Value()
        if isinstance(item, bool):
            value.bool_value = item
        elif isinstance(item, int):
            value.number_value = item
        else:
            value.string_value = item
        found.values.append(value)
    return found


def struct(data: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(data)
    return message


def saved_report(**overrides: Any) -> reporting_pb2.ReportDefinition:
    fields: dict[str, Any] = {
        "id": "r-1",
        "title": "Won by owner",
        "owner_user_id": "alice",
        "sharing": "team",
        "definition": struct({"source": "opportunities", "limit": 10}),
        "version": 3,
        "runtime_filters": ["stage"],
    }
    return reporting_pb2.ReportDefinition(**{**fields, **overrides})


# ---------------------------------------------------------------------------------------------
# Running: options in the query, the table as JSON and CSV
# ---------------------------------------------------------------------------------------------


def test_run_options_in_the_query_reach_the_rpc(client: FlaskClient, bearer: Any, fake: Any) -> None:
    response = client.get(
        "/v1/reports/pipeline?filter.stage=Won&filter.stage=Lost&filter.year=2026&filter.open=true"
        "&filter.code=007&param.from=2026-01-01&param.window=2026-Q4&as_of=2026-06-30"
        "&viewpoint_user_id=bob",
        headers=bearer(),
    )

    assert response.status_code == 200, response.get_json()
    sent = fake.last("RunReport")
    assert sent == reporting_pb2.RunReportRequest(
        report_id="pipeline",
        filter_values={
            "stage": values("Won", "Lost"),
            "year": values(2026),
            "open": values(True),
            "code": values("007"),  # not an integer as JSON writes one: text
        },
        parameters={"from": "2026-01-01", "window": "2026-Q4"},
        as_of="2026-06-30",
        viewpoint_user_id="bob",
    )


def test_run_options_combine_with_csv(client: FlaskClient, bearer: Any, fake: Any) -> None:
    response = client.get("/v1/reports/pipeline?format=csv&filter.stage=Won", headers=bearer())

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert fake.last("RunReport").filter_values["stage"] == values("Won")


def test_unknown_and_malformed_run_options_are_400_before_any_call(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    response = client.get(
        "/v1/reports/pipeline?filters.stage=Won&filter.=x&param.to=a&param.to=b&as_of=1&as_of=2",
        headers=bearer(),
    )

    found = errors_of(response)
    assert found["filters.stage"].startswith("is not a known query parameter; expected some of ")
    assert "'filter.<key>'" in found["filters.stage"] and "'format'" in found["filters.stage"]
    assert found["filter."].startswith("is not a known query parameter")
    assert found["param.to"] == "must be given once"
    assert found["as_of"] == "must be given once"
    assert fake.calls == []


def test_a_filter_value_the_service_rejects_is_named_as_the_query_parameter(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.invalid(
        "RunReport",
        ("filter_values.stage", "is not a run-time filter of this report (it has: owner)"),
        ("viewpoint_user_id", "is not someone you may see"),
    )

    response = client.get("/v1/reports/pipeline?filter.stage=Won&viewpoint_user_id=eve", headers=bearer())

    assert errors_of(response) == {
        "filter.stage": "is not a run-time filter of this report (it has: owner)",
        "viewpoint_user_id": "is not someone you may see",
    }


def every_type_report() -> reporting_pb2.ReportResult:
    kinds = reporting_pb2
    columns = [
        reporting_pb2.Column(name="owner", title="Owner", type=kinds.COLUMN_TYPE_STRING),
        reporting_pb2.Column(name="deals", title="Deals", type=kinds.COLUMN_TYPE_INTEGER),
        reporting_pb2.Column(name="amount", title="Amount", type=kinds.COLUMN_TYPE_MONEY),
        reporting_pb2.Column(name="closed", title="Closed", type=kinds.COLUMN_TYPE_DATE),
        reporting_pb2.Column(name="seen", title="Seen", type=kinds.COLUMN_TYPE_TIMESTAMP),
        reporting_pb2.Column(name="won", title="Won", type=kinds.COLUMN_TYPE_BOOLEAN),
        reporting_pb2.Column(name="exact", title="Exact", type=kinds.COLUMN_TYPE_DECIMAL, scale=2),
        reporting_pb2.Column(name="share", title="Share", type=kinds.COLUMN_TYPE_PERCENT, scale=4),
    ]
    seen = reporting_pb2.Cell()
    seen.timestamp_value.FromJsonString("2026-09-21T14:13:20Z")
    detail = reporting_pb2.Row(
        kind=kinds.ROW_KIND_DETAIL,
        level=1,
        cells=[
            reporting_pb2.Cell(string_value="alice"),
            reporting_pb2.Cell(integer_value=2**62),
            reporting_pb2.Cell(money_value=Money(currency_code="EUR", amount_minor=123456)),
            reporting_pb2.Cell(date_value=Date(year=2026, month=12, day=31)),
            seen,
            reporting_pb2.Cell(bool_value=True),
            reporting_pb2.Cell(decimal_value="9007199254740993.10"),
            reporting_pb2.Cell(decimal_value="-0.2500"),
        ],
    )
    result = reporting_pb2.ReportResult(
        report_id="pipeline",
        title="Pipeline",
        columns=columns,
        rows=[
            reporting_pb2.Row(kind=kinds.ROW_KIND_GROUP, cells=[reporting_pb2.Cell(string_value="EMEA")]),
            detail,
            reporting_pb2.Row(
                kind=kinds.ROW_KIND_SUBTOTAL,
                level=1,
                cells=[reporting_pb2.Cell(string_value="EMEA"), reporting_pb2.Cell(integer_value=1)],
            ),
            reporting_pb2.Row(
                kind=kinds.ROW_KIND_GRAND_TOTAL, cells=[reporting_pb2.Cell(string_value="Total")]
            ),
        ],
        truncated=True,
        row_limit=4,
        notes=["Amounts in EUR at the rates of 2026-09-21."],
        chart_svg='<svg xmlns="http://www.w3.org/2000/svg"/>',
    )
    result.generate_time.FromSeconds(1_790_000_000)
    return result


def test_the_json_table_shows_every_cell_type_and_row_kind(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.report = every_type_report()

    response = client.get("/v1/reports/pipeline", headers=bearer())

    assert response.status_code == 200
    body = response.get_json()
    assert [(c["name"], c["type"], c["scale"]) for c in body["columns"]] == [
        ("owner", "string", 0),
        ("deals", "integer", 0),
        ("amount", "money", 0),
        ("closed", "date", 0),
        ("seen", "timestamp", 0),
        ("won", "boolean", 0),
        ("exact", "decimal", 2),
        ("share", "percent", 4),
    ]
    empty = dict.fromkeys(["deals", "amount", "closed", "seen", "won", "exact", "share"])
    assert body["rows"] == [
        {"owner": "EMEA", **empty, "_kind": "group", "_level": 0},
        {
            "owner": "alice",
            "deals": 2**62,
            "amount": {"currency_code": "EUR", "amount_minor": 123456},
            "closed": "2026-12-31",
            "seen": "2026-09-21T14:13:20Z",
            "won": True,
            "exact": "9007199254740993.10",
            "share": "-0.2500",
            "_kind": "detail",
            "_level": 1,
        },
        {"owner": "EMEA", **empty, "deals": 1, "_kind": "subtotal", "_level": 1},
        {"owner": "Total", **empty, "_kind": "grand_total", "_level": 0},
    ]
    assert (body["truncated"], body["row_limit"]) == (True, 4)
    assert body["notes"] == ["Amounts in EUR at the rates of 2026-09-21."]
    assert body["chart_svg"] == '<svg xmlns="http://www.w3.org/2000/svg"/>'


def test_decimals_are_never_json_numbers(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.report = every_type_report()

    text = client.get("/v1/reports/pipeline", headers=bearer()).get_data(as_text=True)

    assert '"exact":"9007199254740993.10"' in text.replace(" ", "")
    assert '"share":"-0.2500"' in text.replace(" ", "")
    assert '"deals":4611686018427387904' in text.replace(" ", "")


def test_the_csv_table_has_a_row_type_column_and_the_new_types_as_text(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.report = every_type_report()

    response = client.get("/v1/reports/pipeline?format=csv", headers=bearer())

    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="pipeline.csv"'
    assert response.get_data(as_text=True).split("\r\n") == [
        "row type,Owner,Deals,Amount,Amount currency,Closed,Seen,Won,Exact,Share",
        "group,EMEA,,,,,,,,",
        "detail,alice,4611686018427387904,1234.56,EUR,2026-12-31,2026-09-21T14:13:20Z,true,"
        "9007199254740993.10,-0.2500",
        "subtotal,EMEA,1,,,,,,,",
        "total,Total,,,,,,,,",
        "",
    ]


def test_a_run_from_the_body_takes_a_definition_and_every_option(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.on("RunReport", lambda request, context: every_type_report())
    definition = {"source": "opportunities", "dimensions": [{"field": "owner"}], "limit": 50}

    response = client.post(
        "/v1/reports:run",
        json={
            "definition": definition,
            "filter_values": {"stage": {"values": ["Won", 3, True]}},
            "parameters": {"window": "2026-Q4"},
            "as_of": "2026-06-30",
            "viewpoint_user_id": "bob",
        },
        headers=bearer(),
    )

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["rows"][1]["exact"] == "9007199254740993.10"
    assert fake.last("RunReport") == reporting_pb2.RunReportRequest(
        definition=struct(definition),
        filter_values={"stage": values("Won", 3, True)},
        parameters={"window": "2026-Q4"},
        as_of="2026-06-30",
        viewpoint_user_id="bob",
    )


def test_a_run_from_the_body_may_be_csv_and_checks_its_body(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.on("RunReport", lambda request, context: every_type_report())

    csv_response = client.post("/v1/reports:run?format=csv", json={"report_id": "x"}, headers=bearer())
    bad = client.post("/v1/reports:run", json={"definition": [1], "filters": {}}, headers=bearer())

    assert csv_response.mimetype == "text/csv"
    assert csv_response.get_data(as_text=True).startswith("row type,Owner")
    assert errors_of(bad) == {
        "definition": "must be an object, not array",
        "filters": "is not a known field; expected some of "
        "['as_of', 'definition', 'filter_values', 'parameters', 'report_id', 'viewpoint_user_id']",
    }


# ---------------------------------------------------------------------------------------------
# Saved reports and sources
# ---------------------------------------------------------------------------------------------


def test_a_reports_definition_is_read_with_its_etag(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.reply("GetReport", saved_report())

    response = client.get("/v1/reports/r-1/definition", headers=bearer())

    assert response.status_code == 200
    assert response.headers["ETag"] == '"3"'
    body = response.get_json()
    assert body["definition"] == {"source": "opportunities", "limit": 10}
    assert isinstance(body["definition"]["limit"], int)
    assert body["runtime_filters"] == ["stage"]
    assert fake.last("GetReport") == reporting_pb2.GetReportRequest(report_id="r-1")


def test_saving_a_report_answers_201_with_its_location_and_version(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.reply("CreateReport", saved_report(version=1))
    definition = {"source": "opportunities", "measures": [{"field": "amount", "aggregate": "sum"}]}

    response = client.post(
        "/v1/reports",
        json={"title": "Won by owner", "sharing": "team", "definition": definition},
        headers=bearer(),
    )

    assert response.status_code == 201, response.get_json()
    assert response.headers["Location"] == "/v1/reports/r-1"
    assert response.headers["ETag"] == '"1"'
    assert fake.last("CreateReport") == reporting_pb2.SaveReportRequest(
        title="Won by owner", sharing="team", definition=struct(definition)
    )


def test_saving_a_report_takes_no_id_or_expected_version(client: FlaskClient, bearer: Any, fake: Any) -> None:
    response = client.post(
        "/v1/reports",
        json={"title": "Won", "definition": {"source": "leads"}, "report_id": "r-1", "expected_version": 2},
        headers=bearer(),
    )

    found = errors_of(response)
    assert set(found) == {"report_id", "expected_version"}
    assert found["report_id"] == (
        "is not a known field; expected some of ['definition', 'description', 'sharing', 'title']"
    )
    assert fake.calls == []


def test_an_invalid_definition_is_400_with_one_violation_per_problem(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.invalid("CreateReport", ("definition.dimensions[3]", "is not a field of opportunities"))

    response = client.post(
        "/v1/reports", json={"title": "Won", "definition": {"dimensions": []}}, headers=bearer()
    )

    assert errors_of(response) == {"definition.dimensions[3]": "is not a field of opportunities"}


def test_replacing_a_report_is_conditional_on_if_match(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.reply("UpdateReport", saved_report(version=4))

    response = client.put(
        "/v1/reports/r-1",
        json={"title": "Renamed", "definition": {"source": "leads"}},
        headers={**bearer(), "If-Match": '"3"'},
    )

    assert response.status_code == 200, response.get_json()
    assert response.headers["ETag"] == '"4"'
    assert fake.last("UpdateReport") == reporting_pb2.SaveReportRequest(
        report_id="r-1", title="Renamed", definition=struct({"source": "leads"}), expected_version=3
    )


def test_replacing_a_report_the_path_and_body_must_agree_and_a_stale_version_is_409(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    whole = {"title": "x", "definition": {"source": "leads"}}
    disagreeing = client.put("/v1/reports/r-1", json={**whole, "report_id": "r-2"}, headers=bearer())
    fake.fail(
        "UpdateReport",
        code_pb2.ABORTED,
        "the report changed",
        error_details_pb2.ErrorInfo(reason="VERSION_MISMATCH", domain="salesplane.dev"),
    )
    stale = client.put("/v1/reports/r-1", json=whole, headers={**bearer(), "If-Match": '"2"'})

    assert errors_of(disagreeing) == {"report_id": "disagrees with the URL path (report_id)"}
    assert stale.status_code == 409
    assert stale.get_json()["type"].endswith("/version-mismatch")


def test_deleting_a_report_is_204(client: FlaskClient, bearer: Any, fake: Any) -> None:
    response = client.delete("/v1/reports/r-1", headers=bearer())

    assert response.status_code == 204
    assert response.get_data() == b""
    assert fake.last("DeleteReport") == reporting_pb2.DeleteReportRequest(report_id="r-1")


def test_sources_are_listed_with_their_fields(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.reply(
        "ListSources",
        reporting_pb2.ListSourcesResponse(
            sources=[
                reporting_pb2.Source(
                    name="pipeline_movement",
                    fields=[
                        reporting_pb2.SourceField(
                            name="amount", title="Amount", type=reporting_pb2.COLUMN_TYPE_MONEY
                        ),
                        reporting_pb2.SourceField(
                            name="stage", title="Stage", type=reporting_pb2.COLUMN_TYPE_STRING, groupable=True
                        ),
                    ],
                    parameters=["from", "to", "window"],
                )
            ]
        ),
    )

    response = client.get("/v1/report-sources", headers=bearer())

    assert response.get_json() == {
        "sources": [
            {
                "name": "pipeline_movement",
                "fields": [
                    {"name": "amount", "title": "Amount", "type": "money", "groupable": False},
                    {"name": "stage", "title": "Stage", "type": "string", "groupable": True},
                ],
                "parameters": ["from", "to", "window"],
            }
        ]
    }
    assert fake.last("ListSources") == reporting_pb2.ListSourcesRequest()


# ---------------------------------------------------------------------------------------------
# Schedules and their runs
# ---------------------------------------------------------------------------------------------


def test_scheduling_a_report_takes_the_report_from_the_path(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.on(
        "CreateSchedule",
        lambda request, context: reporting_pb2.ReportSchedule(
            schedule_id="s-1", report_id=request.schedule.report_id, active=True
        ),
    )

    response = client.post(
        "/v1/reports/pipeline/schedules",
        json={
            "frequency": "weekly",
            "weekday": 1,
            "time_of_day": "08:00",
            "time_zone": "Europe/Warsaw",
            "recipients": ["alice@example.com"],
            "active": True,
        },
        headers=bearer(),
    )

    assert response.status_code == 201, response.get_json()
    assert response.headers["Location"] == "/v1/report-schedules/s-1"
    assert response.get_json()["report_id"] == "pipeline"
    assert fake.last("CreateSchedule") == reporting_pb2.CreateScheduleRequest(
        schedule=reporting_pb2.ReportSchedule(
            report_id="pipeline",
            frequency=reporting_pb2.FREQUENCY_WEEKLY,
            weekday=1,
            time_of_day="08:00",
            time_zone="Europe/Warsaw",
            recipients=["alice@example.com"],
            active=True,
        )
    )


def test_schedules_are_listed_by_report_and_deleted(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.reply(
        "ListSchedules",
        reporting_pb2.ListSchedulesResponse(
            schedules=[
                reporting_pb2.ReportSchedule(schedule_id="s-1", frequency=reporting_pb2.FREQUENCY_DAILY)
            ]
        ),
    )

    listed = client.get("/v1/report-schedules?report_id=pipeline", headers=bearer())
    everything = client.get("/v1/report-schedules", headers=bearer())
    deleted = client.delete("/v1/report-schedules/s-1", headers=bearer())

    assert listed.get_json()["schedules"][0]["frequency"] == "daily"
    assert fake.requests("ListSchedules") == [
        reporting_pb2.ListSchedulesRequest(report_id="pipeline"),
        reporting_pb2.ListSchedulesRequest(),
    ]
    assert everything.status_code == 200
    assert deleted.status_code == 204
    assert fake.last("DeleteSchedule") == reporting_pb2.DeleteScheduleRequest(schedule_id="s-1")


def test_the_runs_of_a_schedule_carry_their_csv_as_base64(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    run = reporting_pb2.ReportRun(
        run_id="run-1", schedule_id="s-1", status="delivered", result_csv=b"a,b\r\n"
    )
    run.run_time.FromSeconds(1_790_000_000)
    fake.reply("ListReportRuns", reporting_pb2.ListReportRunsResponse(runs=[run]))

    response = client.get("/v1/report-schedules/s-1/runs?limit=5", headers=bearer())
    bad_limit = client.get("/v1/report-schedules/s-1/runs?limit=many", headers=bearer())

    body = response.get_json()["runs"][0]
    assert (body["run_id"], body["status"], body["run_time"]) == (
        "run-1",
        "delivered",
        "2026-09-21T14:13:20Z",
    )
    assert base64.b64decode(body["result_csv"]) == b"a,b\r\n"
    assert fake.last("ListReportRuns") == reporting_pb2.ListReportRunsRequest(schedule_id="s-1", limit=5)
    assert errors_of(bad_limit) == {"limit": "must be an integer, not string"}


# ---------------------------------------------------------------------------------------------
# Exports: streamed downloads
# ---------------------------------------------------------------------------------------------


def chunk(data: bytes, content_type: str = "", filename: str = "") -> reporting_pb2.ExportChunk:
    return reporting_pb2.ExportChunk(content_type=content_type, filename=filename, data=data)


@pytest.mark.parametrize(
    ("export_format", "content_type", "filename", "sent_format"),
    [
        ("csv", "text/csv; charset=utf-8", "pipeline.csv", reporting_pb2.EXPORT_FORMAT_CSV),
        ("xlsx", XLSX, "pipeline.xlsx", reporting_pb2.EXPORT_FORMAT_XLSX),
        ("svg", "image/svg+xml", "pipeline.svg", reporting_pb2.EXPORT_FORMAT_SVG),
    ],
)
def test_an_export_streams_the_files_pieces_with_its_type_and_name(
    client: FlaskClient,
    bearer: Any,
    fake: Any,
    export_format: str,
    content_type: str,
    filename: str,
    sent_format: int,
) -> None:
    fake.stream("ExportReport", chunk(b"first,", content_type, filename), chunk(b""), chunk(b"second"))

    response = client.get(
        f"/v1/reports/pipeline/export?format={export_format}&filter.stage=Won&param.window=2026-Q4"
        "&as_of=2026-06-30&viewpoint_user_id=bob",
        headers=bearer("alice", "manager"),
    )

    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Content-Type"] == {"image/svg+xml": "image/svg+xml; charset=utf-8"}.get(
        content_type, content_type
    )
    assert response.headers["Content-Disposition"] == f'attachment; filename="{filename}"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Length" not in response.headers
    assert list(response.response) == [b"first,", b"second"]  # piece by piece, the empty one skipped
    assert fake.last("ExportReport") == reporting_pb2.ExportReportRequest(
        run=reporting_pb2.RunReportRequest(
            report_id="pipeline",
            filter_values={"stage": values("Won")},
            parameters={"window": "2026-Q4"},
            as_of="2026-06-30",
            viewpoint_user_id="bob",
        ),
        format=sent_format,
    )
    metadata = fake.calls[-1][2]
    assert metadata["authorization"].startswith("Bearer ")
    assert metadata["x-request-id"] == response.headers["X-Request-Id"]


def test_an_export_the_service_refuses_before_streaming_is_a_400_problem_with_its_violations(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.invalid(
        "ExportReport",
        ("filter_values.stage", "must be one of the sales stages"),
        ("run.report_id", "must name a report, or give a definition"),
        ("format", "report pipeline has no chart"),
    )

    response = client.get("/v1/reports/pipeline/export?format=svg&filter.stage=Nope", headers=bearer())

    assert response.headers["Content-Type"] == PROBLEM
    assert "Content-Disposition" not in response.headers
    assert errors_of(response) == {
        "filter.stage": "must be one of the sales stages",
        "report_id": "must name a report, or give a definition",
        "format": "report pipeline has no chart",
    }
    assert response.get_json()["detail"] == "The request has invalid fields."


def test_an_export_of_an_unknown_report_is_404(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.fail("ExportReport", code_pb2.NOT_FOUND, "report 'nope' not found")

    response = client.get("/v1/reports/nope/export?format=csv", headers=bearer())

    assert response.status_code == 404
    assert response.mimetype == PROBLEM


def test_an_export_needs_a_known_format(client: FlaskClient, bearer: Any, fake: Any) -> None:
    missing = client.get("/v1/reports/pipeline/export", headers=bearer())
    unknown = client.get("/v1/reports/pipeline/export?format=pdf", headers=bearer())

    assert errors_of(missing) == {"format": "is a required query parameter"}
    assert errors_of(unknown) == {"format": "must be one of ['csv', 'xlsx', 'svg']"}
    assert fake.calls == []


def test_an_export_from_the_body_takes_an_unsaved_definition(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.stream("ExportReport", chunk(b"PK\x03\x04", XLSX, "adhoc.xlsx"))

    response = client.post(
        "/v1/reports:export",
        json={
            "run": {"definition": {"source": "leads"}, "parameters": {"period": "2026-Q4"}},
            "format": "xlsx",
        },
        headers=bearer(),
    )

    assert response.status_code == 200
    assert response.mimetype == XLSX
    assert response.get_data() == b"PK\x03\x04"
    assert fake.last("ExportReport") == reporting_pb2.ExportReportRequest(
        run=reporting_pb2.RunReportRequest(
            definition=struct({"source": "leads"}), parameters={"period": "2026-Q4"}
        ),
        format=reporting_pb2.EXPORT_FORMAT_XLSX,
    )


def test_a_file_name_from_the_service_is_made_safe_and_a_missing_type_is_octet_stream(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.stream("ExportReport", chunk(b"x", "", '../"evil" name.csv'))

    response = client.get("/v1/reports/pipeline/export?format=csv", headers=bearer())

    assert response.mimetype == "application/octet-stream"
    assert response.headers["Content-Disposition"] == 'attachment; filename="__evil__name.csv"'


def test_an_export_that_answers_nothing_is_502(client: FlaskClient, bearer: Any, fake: Any) -> None:
    fake.stream("ExportReport")

    response = client.get("/v1/reports/pipeline/export?format=csv", headers=bearer())

    assert response.status_code == 502
    assert response.mimetype == PROBLEM


def test_a_failure_after_the_first_piece_cuts_the_download_short(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    def failing_midway(request: Any, context: grpc.ServicerContext) -> Iterator[reporting_pb2.ExportChunk]:
        yield chunk(b"a,b\r\n", "text/csv; charset=utf-8", "pipeline.csv")
        context.abort(grpc.StatusCode.INTERNAL, "database went away")

    fake.on("ExportReport", failing_midway)

    response = client.get("/v1/reports/pipeline/export?format=csv", headers=bearer())

    assert response.status_code == 200
    pieces = iter(response.response)
    assert next(pieces) == b"a,b\r\n"
    with pytest.raises(StreamBroken, match="INTERNAL"):
        next(pieces)
    response.close()


def test_an_export_gets_the_download_deadline_not_the_short_one(
    make_client: Any, bearer: Any, fake: Any
) -> None:
    def slow(request: Any, context: grpc.ServicerContext) -> Iterator[reporting_pb2.ExportChunk]:
        time.sleep(0.4)
        yield chunk(b"late", "text/csv", "pipeline.csv")

    fake.on("ExportReport", slow)
    client = make_client(rpc_timeout_seconds=0.1, download_rpc_timeout_seconds=5.0)
    impatient = make_client(rpc_timeout_seconds=0.1, download_rpc_timeout_seconds=0.1)

    assert client.get("/v1/reports/pipeline/export?format=csv", headers=bearer()).get_data() == b"late"
    assert impatient.get("/v1/reports/pipeline/export?format=csv", headers=bearer()).status_code == 504


# ---------------------------------------------------------------------------------------------
# The OpenAPI document (validated as a whole in test_gateway_probes_and_openapi)
# ---------------------------------------------------------------------------------------------


def parameter_names(operation: dict[str, Any]) -> list[str]:
    return [p["name"] for p in operation.get("parameters", []) if "name" in p]


def test_the_document_describes_the_run_options_and_the_report_table() -> None:
    document = openapi_document()
    paths, schemas = document["paths"], document["components"]["schemas"]

    run = paths["/v1/reports/{report_id}"]["get"]
    assert parameter_names(run) == [
        "report_id",
        "as_of",
        "viewpoint_user_id",
        "filter.<key>",
        "param.<key>",
        "format",
    ]
    filters = next(p for p in run["parameters"] if p.get("name") == "filter.<key>")
    assert filters["schema"] == {"type": "array", "items": {"type": ["integer", "boolean", "string"]}}
    by_body = paths["/v1/reports:run"]["post"]
    assert by_body["operationId"] == "runReportFromBody"
    assert by_body["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RunReportRequest"
    }
    assert set(by_body["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert schemas["RunReportRequest"]["properties"]["filter_values"]["additionalProperties"] == {
        "$ref": "#/components/schemas/FilterValuesInput"
    }
    assert schemas["ReportRow"]["properties"]["_kind"]["enum"] == [
        "detail",
        "group",
        "subtotal",
        "grand_total",
    ]
    assert {"truncated", "row_limit", "notes", "chart_svg"} <= set(schemas["ReportTable"]["required"])
    assert "decimal" in schemas["ReportColumn"]["properties"]["type"]["enum"]


def test_the_document_describes_streamed_exports_by_media_type() -> None:
    paths = openapi_document()["paths"]

    for operation in (paths["/v1/reports/{report_id}/export"]["get"], paths["/v1/reports:export"]["post"]):
        ok = operation["responses"]["200"]
        assert set(ok["content"]) == {"text/csv", XLSX, "image/svg+xml"}
        assert all(
            media["schema"] == {"type": "string", "format": "binary"} for media in ok["content"].values()
        )
        assert "Content-Disposition" in ok["headers"]
        assert "400" in operation["responses"]
    export = paths["/v1/reports/{report_id}/export"]["get"]
    assert next(p for p in export["parameters"] if p.get("name") == "format")["required"] is True
    assert paths["/v1/reports:export"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ExportReportRequest"
    }


def test_the_document_describes_saved_reports_and_schedules() -> None:
    document = openapi_document()
    paths, schemas = document["paths"], document["components"]["schemas"]

    create = paths["/v1/reports"]["post"]
    assert set(create["responses"]["201"]["headers"]) == {"X-Request-Id", "ETag", "Location"}
    assert set(schemas["CreateReportRequest"]["properties"]) == {
        "title",
        "description",
        "sharing",
        "definition",
    }
    update = paths["/v1/reports/{report_id}"]["put"]
    assert {"$ref": "#/components/parameters/IfMatch"} in update["parameters"]
    assert "report_id" not in schemas["SaveReportRequest"]["properties"]
    assert schemas["ReportDefinition"]["properties"]["definition"]["type"] == ["object", "null"]
    assert "content" not in paths["/v1/reports/{report_id}"]["delete"]["responses"]["204"]
    assert "Location" in paths["/v1/reports/{report_id}/schedules"]["post"]["responses"]["201"]["headers"]
    assert parameter_names(paths["/v1/report-schedules"]["get"]) == ["report_id"]
    assert parameter_names(paths["/v1/report-schedules/{schedule_id}/runs"]["get"]) == [
        "schedule_id",
        "limit",
    ]
    assert "/v1/report-sources" in paths
