"""The report renderers on hand-built ReportResults (no server)."""

from __future__ import annotations

import csv
import io

from google.protobuf.timestamp_pb2 import Timestamp

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.reporting.v1 import reporting_pb2
from salesplane_gateway.reports import csv_filename, major_units, report_csv, report_json

STRING, INTEGER, MONEY = (
    reporting_pb2.COLUMN_TYPE_STRING,
    reporting_pb2.COLUMN_TYPE_INTEGER,
    reporting_pb2.COLUMN_TYPE_MONEY,
)


def column(name: str, kind: int, title: str = "") -> reporting_pb2.Column:
    return reporting_pb2.Column(name=name, title=title or name.title(), type=kind)


def text(value: str) -> reporting_pb2.Cell:
    return reporting_pb2.Cell(string_value=value)


def integer(value: int) -> reporting_pb2.Cell:
    return reporting_pb2.Cell(integer_value=value)


def money(currency: str, minor: int) -> reporting_pb2.Cell:
    return reporting_pb2.Cell(money_value=Money(currency_code=currency, amount_minor=minor))


def parsed(result: reporting_pb2.ReportResult) -> list[list[str]]:
    return list(csv.reader(io.StringIO(report_csv(result), newline="")))


def test_csv_has_a_header_of_titles_and_one_line_per_row_with_crlf() -> None:
    result = reporting_pb2.ReportResult(
        columns=[column("owner", STRING, "Owner"), column("deals", INTEGER, "Open deals")],
        rows=[reporting_pb2.Row(cells=[text("alice"), integer(3)])],
    )

    assert report_csv(result) == "Owner,Open deals\r\nalice,3\r\n"


def test_a_money_column_becomes_an_exact_major_unit_amount_and_a_currency_column() -> None:
    result = reporting_pb2.ReportResult(
        columns=[column("amount", MONEY, "Amount")],
        rows=[
            reporting_pb2.Row(cells=[money("EUR", 123456)]),
            reporting_pb2.Row(cells=[money("JPY", 5000)]),
            reporting_pb2.Row(cells=[money("KWD", -1005)]),
            reporting_pb2.Row(cells=[money("EUR", 10**16 + 1)]),
            reporting_pb2.Row(cells=[money("EUR", 5)]),
        ],
    )

    assert parsed(result) == [
        ["Amount", "Amount currency"],
        ["1234.56", "EUR"],
        ["5000", "JPY"],
        ["-1.005", "KWD"],
        ["100000000000000.01", "EUR"],
        ["0.05", "EUR"],
    ]


def test_commas_quotes_and_line_breaks_are_quoted() -> None:
    result = reporting_pb2.ReportResult(
        columns=[column("name", STRING)],
        rows=[reporting_pb2.Row(cells=[text('Acme, "Inc."\nEurope')])],
    )

    assert report_csv(result) == 'Name\r\n"Acme, ""Inc.""\nEurope"\r\n'
    assert parsed(result)[1] == ['Acme, "Inc."\nEurope']


def test_text_that_a_spreadsheet_would_run_as_a_formula_is_defused() -> None:
    result = reporting_pb2.ReportResult(
        columns=[column("name", STRING), column("delta", INTEGER)],
        rows=[reporting_pb2.Row(cells=[text('=HYPERLINK("http://evil")'), integer(-3)])],
    )

    assert parsed(result)[1] == ['\'=HYPERLINK("http://evil")', "-3"]


def test_missing_and_unset_cells_are_empty_and_surplus_cells_are_dropped() -> None:
    result = reporting_pb2.ReportResult(
        columns=[column("a", STRING), column("b", MONEY), column("c", INTEGER)],
        rows=[
            reporting_pb2.Row(cells=[reporting_pb2.Cell()]),
            reporting_pb2.Row(cells=[text("x"), money("EUR", 1), integer(1), text("surplus")]),
        ],
    )

    assert parsed(result) == [["A", "B", "B currency", "C"], ["", "", "", ""], ["x", "0.01", "EUR", "1"]]


def test_a_report_without_rows_is_just_the_header() -> None:
    result = reporting_pb2.ReportResult(columns=[column("a", STRING)])

    assert report_csv(result) == "A\r\n"


def test_json_rows_are_keyed_by_column_name_with_typed_values() -> None:
    result = reporting_pb2.ReportResult(
        report_id="r",
        title="R",
        columns=[column("a", STRING), column("b", MONEY), column("c", INTEGER), column("d", 0)],
        rows=[reporting_pb2.Row(cells=[text("x"), money("EUR", 2**62), integer(-1)])],
    )

    rendered = report_json(result)

    assert rendered["columns"][3] == {"name": "d", "title": "D", "type": "string", "scale": 0}
    assert rendered["rows"] == [
        {
            "a": "x",
            "b": {"currency_code": "EUR", "amount_minor": 2**62},
            "c": -1,
            "d": None,
            "_kind": "detail",
            "_level": 0,
        }
    ]
    assert rendered["generate_time"] is None


def test_major_units_never_goes_through_floats() -> None:
    assert major_units(9_007_199_254_740_993, "EUR") == "90071992547409.93"
    assert major_units(-5, "EUR") == "-0.05"
    assert major_units(0, "CLF") == "0.0000"


def test_the_csv_file_name_is_safe() -> None:
    assert csv_filename('../etc/"passwd"') == "_etc__passwd_.csv"
    assert csv_filename("") == "report.csv"
    assert csv_filename("..") == "report.csv"


DATE, TIMESTAMP, BOOLEAN, DECIMAL, PERCENT = (
    reporting_pb2.COLUMN_TYPE_DATE,
    reporting_pb2.COLUMN_TYPE_TIMESTAMP,
    reporting_pb2.COLUMN_TYPE_BOOLEAN,
    reporting_pb2.COLUMN_TYPE_DECIMAL,
    reporting_pb2.COLUMN_TYPE_PERCENT,
)


def typed_cells() -> list[reporting_pb2.Cell]:
    instant = Timestamp()
    instant.FromJsonString("2026-09-21T16:13:20.250+02:00")
    return [
        reporting_pb2.Cell(date_value=Date(year=2026, month=3, day=9)),
        reporting_pb2.Cell(timestamp_value=instant),
        reporting_pb2.Cell(bool_value=False),
        reporting_pb2.Cell(decimal_value="-90071992547409.9300"),
        reporting_pb2.Cell(decimal_value="0.2500"),
    ]


def typed_columns() -> list[reporting_pb2.Column]:
    return [
        column("closed", DATE),
        column("seen", TIMESTAMP),
        column("won", BOOLEAN),
        reporting_pb2.Column(name="exact", title="Exact", type=DECIMAL, scale=4),
        reporting_pb2.Column(name="share", title="Share", type=PERCENT, scale=4),
    ]


def test_json_cells_of_the_new_types_are_iso_dates_utc_timestamps_booleans_and_decimal_strings() -> None:
    result = reporting_pb2.ReportResult(
        columns=typed_columns(), rows=[reporting_pb2.Row(cells=typed_cells())]
    )

    rendered = report_json(result)

    assert rendered["rows"] == [
        {
            "closed": "2026-03-09",
            "seen": "2026-09-21T14:13:20.250Z",
            "won": False,
            "exact": "-90071992547409.9300",
            "share": "0.2500",
            "_kind": "detail",
            "_level": 0,
        }
    ]
    assert [c["type"] for c in rendered["columns"]] == ["date", "timestamp", "boolean", "decimal", "percent"]
    assert rendered["columns"][3]["scale"] == 4


def test_json_rows_say_their_kind_and_level_and_the_result_its_limits_notes_and_chart() -> None:
    result = reporting_pb2.ReportResult(
        columns=[column("owner", STRING)],
        rows=[
            reporting_pb2.Row(cells=[text("EMEA")], kind=reporting_pb2.ROW_KIND_GROUP),
            reporting_pb2.Row(cells=[text("alice")], kind=reporting_pb2.ROW_KIND_DETAIL, level=1),
            reporting_pb2.Row(cells=[text("Subtotal")], kind=reporting_pb2.ROW_KIND_SUBTOTAL, level=1),
            reporting_pb2.Row(cells=[text("Total")], kind=reporting_pb2.ROW_KIND_GRAND_TOTAL),
            reporting_pb2.Row(cells=[text("old service")]),  # no kind: a detail row
        ],
        truncated=True,
        row_limit=5,
        notes=["Converted to EUR at the rates of 2026-09-21."],
        chart_svg="<svg/>",
    )

    rendered = report_json(result)

    assert [(r["_kind"], r["_level"]) for r in rendered["rows"]] == [
        ("group", 0),
        ("detail", 1),
        ("subtotal", 1),
        ("grand_total", 0),
        ("detail", 0),
    ]
    assert (rendered["truncated"], rendered["row_limit"], rendered["chart_svg"]) == (True, 5, "<svg/>")
    assert rendered["notes"] == ["Converted to EUR at the rates of 2026-09-21."]


def test_csv_writes_the_new_types_as_text_and_never_defuses_a_negative_decimal() -> None:
    result = reporting_pb2.ReportResult(
        columns=typed_columns(), rows=[reporting_pb2.Row(cells=typed_cells())]
    )

    assert parsed(result) == [
        ["Closed", "Seen", "Won", "Exact", "Share"],
        ["2026-03-09", "2026-09-21T14:13:20.250Z", "false", "-90071992547409.9300", "0.2500"],
    ]


def test_a_decimal_cell_that_is_not_a_number_is_defused_like_text() -> None:
    result = reporting_pb2.ReportResult(
        columns=[column("exact", DECIMAL)],
        rows=[reporting_pb2.Row(cells=[reporting_pb2.Cell(decimal_value="=1+1")])],
    )

    assert parsed(result)[1] == ["'=1+1"]


def test_csv_gets_a_leading_row_type_column_only_when_some_row_is_not_a_detail_row() -> None:
    columns = [column("owner", STRING, "Owner"), column("amount", MONEY, "Amount")]
    detail_only = reporting_pb2.ReportResult(
        columns=columns, rows=[reporting_pb2.Row(cells=[text("alice"), money("EUR", 100)])]
    )
    grouped = reporting_pb2.ReportResult(
        columns=columns,
        rows=[
            reporting_pb2.Row(cells=[text("EMEA")], kind=reporting_pb2.ROW_KIND_GROUP),
            reporting_pb2.Row(cells=[text("alice"), money("EUR", 100)], kind=reporting_pb2.ROW_KIND_DETAIL),
            reporting_pb2.Row(
                cells=[text("Subtotal"), money("EUR", 100)], kind=reporting_pb2.ROW_KIND_SUBTOTAL
            ),
            reporting_pb2.Row(
                cells=[text("Total"), money("EUR", 100)], kind=reporting_pb2.ROW_KIND_GRAND_TOTAL
            ),
        ],
    )

    assert parsed(detail_only) == [["Owner", "Amount", "Amount currency"], ["alice", "1.00", "EUR"]]
    assert parsed(grouped) == [
        ["row type", "Owner", "Amount", "Amount currency"],
        ["group", "EMEA", "", ""],
        ["detail", "alice", "1.00", "EUR"],
        ["subtotal", "Subtotal", "1.00", "EUR"],
        ["total", "Total", "1.00", "EUR"],
    ]
