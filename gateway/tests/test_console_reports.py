"""The console's Reports screen over the fake upstreams: the list, a run with its run-time filters
and parameters, the table's formats and the service's chart, the downloads streamed from
ExportReport, the builder (preview, save, edit, the service's violations beside their fields) and
the e-mail schedules."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from google.protobuf import json_format, struct_pb2
from google.rpc import code_pb2

from gateway.tests.test_console_pages import sign_in
from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.opportunities.v1 import opportunities_pb2
from salesplane.reporting.v1 import reporting_pb2 as pb

FakeUpstreams = Any
REPORT_ID = "7d4b9a1e-1111-4c7e-8f90-a1b2c3d4e5f6"
CHART = '<svg class="chart" role="img" aria-label="Amount by stage"><rect width="10" height="5"/></svg>'


def _definition(document: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(document)
    return message


DOCUMENT: dict[str, Any] = {
    "source": "opportunities",
    "layout": "summation",
    "dimensions": [{"field": "sales_stage"}],
    "measures": [
        {"name": "deals", "title": "Deals", "aggregate": "count"},
        {"name": "amount", "title": "Amount", "aggregate": "sum", "field": "amount_base"},
    ],
    "filters": {
        "and": [
            {"field": "status", "op": "eq", "values": ["open"]},
            {
                "field": "expected_close_date",
                "op": "within",
                "values": ["this_fiscal_year"],
                "runtime": True,
                "id": "close",
            },
            {"field": "amount_base", "op": "ge", "values": [100000], "runtime": True, "id": "minimum"},
        ]
    },
    "chart": {"kind": "bar", "measure": "amount"},
}


def _sources(fake: FakeUpstreams) -> None:
    fields = [
        pb.SourceField(name="sales_stage", title="Sales stage", type=pb.COLUMN_TYPE_STRING, groupable=True),
        pb.SourceField(name="status", title="Status", type=pb.COLUMN_TYPE_STRING, groupable=True),
        pb.SourceField(
            name="probability", title="Probability %", type=pb.COLUMN_TYPE_INTEGER, groupable=True
        ),
        pb.SourceField(name="amount_base", title="Amount (base)", type=pb.COLUMN_TYPE_MONEY, groupable=True),
        pb.SourceField(
            name="expected_close_date", title="Expected close date", type=pb.COLUMN_TYPE_DATE, groupable=True
        ),
    ]
    fake.reply(
        "ListSources",
        pb.ListSourcesResponse(
            sources=[
                pb.Source(name="opportunities", fields=fields),
                pb.Source(
                    name="attribution",
                    fields=[pb.SourceField(name="campaign", title="Campaign", type=pb.COLUMN_TYPE_STRING)],
                    parameters=["model", "lookback_days", "half_life_days"],
                ),
            ]
        ),
    )
    fake.reply("ListExchangeRates", _rates())


def _rates() -> opportunities_pb2.ListExchangeRatesResponse:
    return opportunities_pb2.ListExchangeRatesResponse(base_currency_code="EUR")


def _result() -> pb.ReportResult:
    result = pb.ReportResult(
        report_id=REPORT_ID,
        title="Open pipeline",
        columns=[
            pb.Column(name="sales_stage", title="Sales stage", type=pb.COLUMN_TYPE_STRING),
            pb.Column(name="deals", title="Deals", type=pb.COLUMN_TYPE_INTEGER),
            pb.Column(name="amount", title="Amount", type=pb.COLUMN_TYPE_MONEY),
            pb.Column(name="win_rate", title="Win rate", type=pb.COLUMN_TYPE_PERCENT, scale=4),
            pb.Column(name="close", title="First close", type=pb.COLUMN_TYPE_DATE),
        ],
        rows=[
            pb.Row(
                kind=pb.ROW_KIND_DETAIL,
                cells=[
                    pb.Cell(string_value="Proposal"),
                    pb.Cell(integer_value=1234),
                    pb.Cell(money_value=Money(currency_code="EUR", amount_minor=123_450)),
                    pb.Cell(decimal_value="0.2500"),
                    pb.Cell(date_value=Date(year=2026, month=12, day=15)),
                ],
            ),
            pb.Row(
                kind=pb.ROW_KIND_GRAND_TOTAL,
                cells=[pb.Cell(string_value="Total"), pb.Cell(integer_value=1234), pb.Cell()],
            ),
        ],
        notes=["Amounts converted to EUR at today's rates."],
        chart_svg=CHART,
    )
    result.generate_time.FromSeconds(1_790_000_000)
    return result


def _saved(fake: FakeUpstreams, **overrides: Any) -> None:
    fields: dict[str, Any] = {
        "id": REPORT_ID,
        "title": "Open pipeline",
        "description": "Mine",
        "owner_user_id": "vp",
        "sharing": "team",
        "definition": _definition(DOCUMENT),
        "version": 3,
        "runtime_filters": ["close", "minimum"],
    }
    fake.reply("GetReport", pb.ReportDefinition(**{**fields, **overrides}))
    fake.reply("RunReport", _result())
    _sources(fake)


def _csrf(client: FlaskClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert found
    return found.group(1)


def _values(entry: pb.FilterValues) -> list[Any]:
    return [json_format.MessageToDict(v) for v in entry.values]


def _struct(message: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(message)


# -- the list and a run --------------------------------------------------------------------------


def test_the_list_shows_built_in_and_saved_reports(client: FlaskClient, fake: FakeUpstreams) -> None:
    sign_in(client, fake, "vp")
    fake.reply(
        "ListReports",
        pb.ListReportsResponse(
            reports=[
                pb.ReportDefinition(id="pipeline_by_stage", title="Pipeline by stage", builtin=True),
                pb.ReportDefinition(id=REPORT_ID, title="Open pipeline", owner_user_id="vp", sharing="team"),
            ]
        ),
    )

    html = client.get("/reports").get_data(as_text=True)

    assert 'href="/reports/pipeline_by_stage"' in html and f'href="/reports/{REPORT_ID}"' in html
    assert "The owner's team" in html
    assert 'href="/reports" aria-current="page"' in html


def test_a_report_runs_with_its_saved_values_and_shows_table_chart_and_downloads(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake, "vp")
    _saved(fake)

    answer = client.get(f"/reports/{REPORT_ID}", headers={"Accept-Language": "en-GB"})

    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    run = fake.last("RunReport")
    assert run.report_id == REPORT_ID and not run.filter_values  # the saved values: nothing overridden
    assert '<figure class="report-chart">' in html and CHART in html
    assert "€1,234.50" in html and "25%" in html and "15 Dec 2026" in html and "1,234" in html
    assert re.search(r'<tr class="total">\s*<th scope="row">Total</th>', html)
    # The run-time filters as a form, with their saved values; a period as a select.
    assert re.search(r'<select id="f-filter.close" name="filter.close"', html)
    assert '<option value="this_fiscal_year" selected>' in html
    assert 'name="filter.minimum" value="1000.00"' in html  # minor units shown as an amount
    assert f'href="/reports/{REPORT_ID}/export?format=csv"' in html
    assert f'href="/reports/{REPORT_ID}/export?format=xlsx"' in html
    assert 'href="/reports/' + REPORT_ID + '/edit"' in html


def test_run_time_values_and_parameters_go_to_the_run_typed_as_their_fields(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake, "vp")
    _saved(fake)

    html = client.get(
        f"/reports/{REPORT_ID}?filter.close=last_fiscal_quarter&filter.minimum=2500.5"
    ).get_data(as_text=True)

    run = fake.last("RunReport")
    assert _values(run.filter_values["close"]) == ["last_fiscal_quarter"]
    assert _values(run.filter_values["minimum"]) == [250050.0]  # minor units of the base currency
    assert "filter.close=last_fiscal_quarter" in html  # the downloads export the same run


def test_a_value_the_console_can_judge_is_refused_beside_its_input_without_a_run(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake, "vp")
    _saved(fake)

    answer = client.get(f"/reports/{REPORT_ID}?filter.minimum=lots")

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert re.search(
        r'id="f-filter.minimum"[^>]*aria-invalid="true"[^>]*aria-describedby="e-filter.minimum"', html
    )
    assert 'id="e-filter.minimum">Enter an amount' in html
    assert fake.requests("RunReport") == []


def test_the_services_problem_with_a_run_time_value_shows_beside_that_input(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake, "vp")
    _saved(fake)
    fake.invalid("RunReport", ("filters.and[1].values[0]", "must be a relative period"))

    answer = client.get(f"/reports/{REPORT_ID}?filter.close=soon")

    assert answer.status_code == 422
    assert 'id="e-filter.close">must be a relative period' in answer.get_data(as_text=True)


def test_a_report_the_user_may_not_run_is_a_page_saying_so(client: FlaskClient, fake: FakeUpstreams) -> None:
    sign_in(client, fake)
    _sources(fake)
    fake.fail("GetReport", code_pb2.NOT_FOUND, "report 'theirs' not found")

    answer = client.get("/reports/theirs")

    assert answer.status_code == 404 and answer.mimetype == "text/html"
    assert fake.last("GetReport").report_id == "theirs"


def test_parameters_of_the_source_are_offered_and_sent(client: FlaskClient, fake: FakeUpstreams) -> None:
    sign_in(client, fake, "vp")
    document = {
        "source": "attribution",
        "layout": "summation",
        "dimensions": [{"field": "campaign"}],
        "measures": [{"name": "n", "aggregate": "count"}],
        "parameters": {"model": "linear"},
    }
    _saved(fake, id="attribution_by_campaign", builtin=True, definition=_definition(document))

    html = client.get("/reports/attribution_by_campaign?param.model=w_shaped").get_data(as_text=True)

    assert dict(fake.last("RunReport").parameters) == {"model": "w_shaped"}
    assert '<option value="w_shaped" selected>W-shaped</option>' in html
    assert "/edit" not in html  # a built-in report is copied, not edited
    assert "/reports/new?from=attribution_by_campaign" in html


# -- downloads -----------------------------------------------------------------------------------


def test_a_download_streams_the_export_with_its_type_and_name(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake, "vp")
    _saved(fake)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    fake.stream(
        "ExportReport",
        pb.ExportChunk(content_type=xlsx, filename="open pipeline.xlsx", data=b"PK"),
        pb.ExportChunk(data=b""),
        pb.ExportChunk(data=b"rest"),
    )

    answer = client.get(f"/reports/{REPORT_ID}/export?format=xlsx&filter.close=last_month")

    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == xlsx
    assert answer.headers["Content-Disposition"] == 'attachment; filename="open_pipeline.xlsx"'
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.get_data() == b"PKrest"
    export = fake.last("ExportReport")
    assert export.format == pb.EXPORT_FORMAT_XLSX and export.run.report_id == REPORT_ID
    assert _values(export.run.filter_values["close"]) == ["last_month"]


def test_a_refused_download_shows_the_report_with_the_error(client: FlaskClient, fake: FakeUpstreams) -> None:
    sign_in(client, fake, "vp")
    _saved(fake)
    fake.invalid("ExportReport", ("filter_values.close", "is not a run-time filter of this report"))

    answer = client.get(f"/reports/{REPORT_ID}/export?format=csv&filter.close=today")

    assert answer.status_code == 422
    assert 'id="e-filter.close">is not a run-time filter' in answer.get_data(as_text=True)


# -- the builder ---------------------------------------------------------------------------------


def _builder_form(**overrides: str) -> dict[str, str]:
    form = {
        "source": "opportunities",
        "layout": "summation",
        "d0_field": "sales_stage",
        "m0_aggregate": "count",
        "m1_aggregate": "sum",
        "m1_field": "amount_base",
        "m1_title": "Amount",
        "f0_field": "probability",
        "f0_op": "ge",
        "f0_value": "40",
        "f0_runtime": "on",
        "chart_kind": "bar",
        "chart_measure": "sum_amount_base",
        "grand_total": "on",
        "title": "Likely deals",
        "sharing": "team",
    }
    return {**form, **overrides}


def test_the_builder_starts_with_a_source(client: FlaskClient, fake: FakeUpstreams) -> None:
    sign_in(client, fake, "vp")
    _sources(fake)

    first = client.get("/reports/new").get_data(as_text=True)
    chosen = client.get("/reports/new?source=opportunities").get_data(as_text=True)

    assert 'name="source"' in first and 'id="f-m0_aggregate"' not in first
    assert 'id="f-m0_aggregate"' in chosen and '<option value="expected_close_date">' in chosen
    assert '<label for="f-d0_field">' in chosen


def test_preview_runs_the_unsaved_definition_and_shows_table_and_chart(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake, "vp")
    _sources(fake)
    fake.reply("RunReport", _result())
    token = _csrf(client, "/reports/new?source=opportunities")

    answer = client.post("/reports/new", data={**_builder_form(), "action": "preview", "csrf_token": token})

    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    run = fake.last("RunReport")
    assert run.report_id == ""
    assert _struct(run.definition) == {
        "source": "opportunities",
        "layout": "summation",
        "dimensions": [{"field": "sales_stage"}],
        "measures": [
            {"name": "count", "aggregate": "count"},
            {"name": "sum_amount_base", "title": "Amount", "aggregate": "sum", "field": "amount_base"},
        ],
        "filters": {"and": [{"field": "probability", "op": "ge", "values": [40.0], "runtime": True}]},
        "subtotals": False,
        "grand_total": True,
        "chart": {"kind": "bar", "measure": "sum_amount_base"},
    }
    assert CHART in html and "€1,234.50" in html
    assert 'name="m0_name" type="text" value="count"' in html  # the made-up name, shown for formulas
    assert fake.requests("CreateReport") == []


def test_the_services_violations_of_a_definition_show_beside_their_fields(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake, "vp")
    _sources(fake)
    fake.invalid(
        "CreateReport",
        ("definition.measures[1].field", "sales_stage is not a number: it cannot be summed"),
        ("definition.filters.and[0].values[0]", "probability takes a whole number"),
        ("definition.chart.measure", "must name one of the measures"),
        ("title", "may be at most 200 characters"),
        ("definition.org_as_of", "must be a date"),
    )
    token = _csrf(client, "/reports/new?source=opportunities")
    # An empty measure row between the two: the definition's measures[1] is the form's row 2.
    form = _builder_form(m1_aggregate="", m1_field="", m2_aggregate="sum", m2_field="sales_stage")

    answer = client.post("/reports/new", data={**form, "action": "save", "csrf_token": token})

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert re.search(r'id="f-m2_field"[^>]*aria-invalid="true"', html)
    assert 'id="e-m2_field">sales_stage is not a number' in html
    assert 'id="e-f0_value">probability takes a whole number' in html
    assert 'id="e-chart_measure">must name one of the measures' in html
    assert 'id="e-title">may be at most 200 characters' in html
    assert "org_as_of: must be a date" in html  # not on the form: said in the form's own error line


def test_a_value_the_builder_can_judge_is_refused_before_any_call(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake, "vp")
    _sources(fake)
    token = _csrf(client, "/reports/new?source=opportunities")

    answer = client.post(
        "/reports/new", data={**_builder_form(f0_value="forty"), "action": "save", "csrf_token": token}
    )

    assert answer.status_code == 422
    assert 'id="e-f0_value">Enter a whole number.' in answer.get_data(as_text=True)
    assert fake.requests("CreateReport") == [] and fake.requests("RunReport") == []


def test_save_creates_the_report_with_its_sharing_and_opens_it(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake, "vp")
    _sources(fake)
    fake.reply("CreateReport", pb.ReportDefinition(id=REPORT_ID, title="Likely deals", version=1))
    token = _csrf(client, "/reports/new?source=opportunities")

    answer = client.post("/reports/new", data={**_builder_form(), "action": "save", "csrf_token": token})

    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/reports/{REPORT_ID}?done=saved"
    saved = fake.last("CreateReport")
    assert (saved.title, saved.sharing) == ("Likely deals", "team")
    assert _struct(saved.definition)["source"] == "opportunities"


def test_editing_fills_the_form_and_saves_at_the_version_read(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake, "vp")
    _saved(fake)
    fake.reply("UpdateReport", pb.ReportDefinition(id=REPORT_ID, version=4))

    html = client.get(f"/reports/{REPORT_ID}/edit").get_data(as_text=True)
    assert 'name="title" type="text" value="Open pipeline"' in html
    assert 'name="f2_value" type="text" value="1000.00"' in html
    assert 'name="version" value="3"' in html
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token
    form = {
        "source": "opportunities",
        "layout": "summation",
        "d0_field": "sales_stage",
        "m0_aggregate": "count",
        "m0_name": "deals",
        "f0_field": "amount_base",
        "f0_op": "ge",
        "f0_value": "1000.00",
        "title": "Open pipeline",
        "sharing": "everyone",
        "version": "3",
        "action": "save",
        "csrf_token": token.group(1),
    }

    answer = client.post(f"/reports/{REPORT_ID}/edit", data=form)

    assert answer.status_code == 303
    update = fake.last("UpdateReport")
    assert (update.report_id, update.expected_version, update.sharing) == (REPORT_ID, 3, "everyone")
    assert _struct(update.definition)["filters"] == {
        "and": [{"field": "amount_base", "op": "ge", "values": [100000.0]}]
    }


def test_a_concurrent_edit_is_explained_and_nothing_saved(client: FlaskClient, fake: FakeUpstreams) -> None:
    sign_in(client, fake, "vp")
    _saved(fake)
    fake.fail("UpdateReport", code_pb2.ABORTED, "report is at version 4, not 3")
    token = _csrf(client, f"/reports/{REPORT_ID}")

    answer = client.post(
        f"/reports/{REPORT_ID}/edit",
        data={**_builder_form(), "version": "3", "action": "save", "csrf_token": token},
    )

    assert answer.status_code == 422
    assert "Someone else changed this report" in answer.get_data(as_text=True)


def test_a_built_in_report_is_copied_into_the_builder(client: FlaskClient, fake: FakeUpstreams) -> None:
    sign_in(client, fake, "vp")
    _saved(fake, id="pipeline_by_stage", title="Pipeline by stage", builtin=True)

    edit = client.get("/reports/pipeline_by_stage/edit")
    html = client.get("/reports/new?from=pipeline_by_stage").get_data(as_text=True)

    assert edit.status_code == 303 and edit.headers["Location"] == "/reports/new?from=pipeline_by_stage"
    assert 'value="Copy of Pipeline by stage"' in html
    assert 'name="m1_name" type="text" value="amount"' in html


def test_a_post_without_the_csrf_token_saves_nothing(client: FlaskClient, fake: FakeUpstreams) -> None:
    sign_in(client, fake, "vp")
    _sources(fake)

    answer = client.post("/reports/new", data={**_builder_form(), "action": "save"})

    assert answer.status_code == 403
    assert fake.requests("CreateReport") == []


# -- schedules -----------------------------------------------------------------------------------


def test_a_schedule_is_created_and_listed(client: FlaskClient, fake: FakeUpstreams) -> None:
    sign_in(client, fake, "vp")
    _saved(fake)
    token = _csrf(client, f"/reports/{REPORT_ID}")

    answer = client.post(
        f"/reports/{REPORT_ID}/schedules",
        data={
            "frequency": "weekly",
            "time_of_day": "08:30",
            "time_zone": "Europe/Warsaw",
            "weekday": "1",
            "recipients": "vp@example.com, cfo@example.com",
            "csrf_token": token,
        },
    )

    assert answer.status_code == 303
    schedule = fake.last("CreateSchedule").schedule
    assert (schedule.report_id, schedule.frequency, schedule.weekday) == (REPORT_ID, pb.FREQUENCY_WEEKLY, 1)
    assert list(schedule.recipients) == ["vp@example.com", "cfo@example.com"]

    listed = pb.ReportSchedule(
        schedule_id="s1",
        report_id=REPORT_ID,
        frequency=pb.FREQUENCY_WEEKLY,
        weekday=1,
        time_of_day="08:30",
        time_zone="Europe/Warsaw",
        recipients=["vp@example.com"],
        active=True,
    )
    fake.reply("ListSchedules", pb.ListSchedulesResponse(schedules=[listed]))
    html = client.get(f"/reports/{REPORT_ID}").get_data(as_text=True)
    assert "Weekly" in html and "Monday" in html and "at 08:30 (Europe/Warsaw)" in html
    assert f'action="/reports/{REPORT_ID}/schedules/s1/delete"' in html
    assert fake.last("ListSchedules").report_id == REPORT_ID


def test_a_refused_schedule_shows_the_services_problem_beside_the_field(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake, "vp")
    _saved(fake)
    fake.invalid("CreateSchedule", ("schedule.time_zone", "is not a known time zone"))
    token = _csrf(client, f"/reports/{REPORT_ID}")

    answer = client.post(
        f"/reports/{REPORT_ID}/schedules",
        data={
            "frequency": "daily",
            "time_of_day": "08:30",
            "time_zone": "Mars/Olympus",
            "recipients": "vp@example.com",
            "csrf_token": token,
        },
    )

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert 'id="e-time_zone">is not a known time zone' in html
    assert 'value="Mars/Olympus"' in html


def test_a_schedule_without_recipients_is_refused_before_any_call(
    client: FlaskClient, fake: FakeUpstreams
) -> None:
    sign_in(client, fake, "vp")
    _saved(fake)
    token = _csrf(client, f"/reports/{REPORT_ID}")

    answer = client.post(
        f"/reports/{REPORT_ID}/schedules",
        data={"frequency": "monthly", "day_of_month": "40", "time_of_day": "08:00", "csrf_token": token},
    )

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert 'id="e-recipients"' in html and 'id="e-day_of_month"' in html
    assert fake.requests("CreateSchedule") == []


def test_deleting_a_schedule_and_a_report(client: FlaskClient, fake: FakeUpstreams) -> None:
    sign_in(client, fake, "vp")
    _saved(fake)
    token = _csrf(client, f"/reports/{REPORT_ID}")

    unscheduled = client.post(f"/reports/{REPORT_ID}/schedules/s1/delete", data={"csrf_token": token})
    deleted = client.post(f"/reports/{REPORT_ID}/delete", data={"csrf_token": token})

    assert unscheduled.status_code == 303 and fake.last("DeleteSchedule").schedule_id == "s1"
    assert deleted.headers["Location"] == "/reports?done=deleted"
    assert fake.last("DeleteReport").report_id == REPORT_ID
