"""The report renderers on hand-built ReportResults (no server)."""

from __future__ import annotations

import csv
import io

from salesplane.common.v1.common_pb2 import Money
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
