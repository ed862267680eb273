"""Report exporters: streamed CSV read back with the csv module, XLSX read back with openpyxl."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import openpyxl
import pytest

from salesplane_platform.money import Money
from salesplane_reporting.adapters.csv_export import csv_chunks
from salesplane_reporting.adapters.xlsx_export import xlsx_bytes
from salesplane_reporting.domain.report import CellValue, Column, ColumnType, ResultRow, RowKind

GENERATED = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)

STAGE = Column("stage", "Stage", ColumnType.STRING)
DEALS = Column("deals", "Deals", ColumnType.INTEGER)
AMOUNT = Column("amount", "Amount", ColumnType.MONEY)
WIN_RATE = Column("win_rate", "Win rate", ColumnType.PERCENT, scale=4)
AVERAGE = Column("average", "Average", ColumnType.DECIMAL, scale=2)
CLOSES = Column("closes", "Closes", ColumnType.DATE)
UPDATED = Column("updated", "Updated", ColumnType.TIMESTAMP)
WON = Column("won", "Won", ColumnType.BOOLEAN)


def detail(*cells: CellValue, level: int = 0) -> ResultRow:
    return ResultRow(RowKind.DETAIL, cells, level)


def read_csv(columns: list[Column], rows: list[ResultRow], *, with_row_kind: bool = False) -> list[list[str]]:
    data = b"".join(csv_chunks("Pipeline", columns, rows, with_row_kind=with_row_kind))
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def read_xlsx(data: bytes, *, read_only: bool = False) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data), read_only=read_only)


# CSV


def test_csv_header_holds_the_titles_and_a_money_column_splits_into_amount_and_currency() -> None:
    table = read_csv([STAGE, AMOUNT, DEALS], [detail("Won", Money("EUR", 123456), 3)])

    assert table == [["Stage", "Amount", "Amount currency", "Deals"], ["Won", "1234.56", "EUR", "3"]]


@pytest.mark.parametrize(
    ("money", "amount"),
    [
        (Money("EUR", 123456), "1234.56"),
        (Money("EUR", 5), "0.05"),
        (Money("EUR", -5), "-0.05"),
        (Money("EUR", -123456), "-1234.56"),
        (Money("JPY", 1234), "1234"),
        (Money("JPY", -1234), "-1234"),
        (Money("KWD", 1234567), "1234.567"),
        (Money("KWD", -1), "-0.001"),
        (Money("EUR", 10**16 + 1), "100000000000000.01"),
    ],
)
def test_csv_money_is_exact_in_major_units_for_each_currency_exponent(money: Money, amount: str) -> None:
    table = read_csv([AMOUNT], [detail(money)])

    assert table[1] == [amount, money.currency]


def test_csv_empty_money_cell_leaves_both_of_its_columns_empty() -> None:
    assert read_csv([AMOUNT], [detail(None)])[1] == ["", ""]


def test_csv_writes_percent_and_decimal_at_the_column_scale_iso_dates_utc_times_and_booleans() -> None:
    columns = [WIN_RATE, AVERAGE, CLOSES, UPDATED, UPDATED, WON, WON, STAGE]
    row = detail(
        Decimal("0.25"),
        Decimal("1E+3"),
        date(2031, 3, 1),
        datetime(2031, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=2))),
        datetime(2031, 3, 1, 12, 30, 0, 250000),
        True,
        False,
        None,
    )

    assert read_csv(columns, [row])[1] == [
        "0.2500",
        "1000.00",
        "2031-03-01",
        "2031-03-01T12:30:00Z",
        "2031-03-01T12:30:00.250000Z",
        "true",
        "false",
        "",
    ]


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_csv_text_a_spreadsheet_would_run_as_a_formula_gets_a_leading_apostrophe(text: str) -> None:
    assert read_csv([STAGE], [detail(text)])[1] == ["'" + text]


def test_csv_numbers_and_ordinary_text_are_not_guarded_but_a_formula_like_title_is() -> None:
    columns = [Column("x", "=HYPERLINK()", ColumnType.STRING), DEALS, AVERAGE, AMOUNT]
    table = read_csv(columns, [detail("a-b", -5, Decimal("-0.50"), Money("EUR", -100))])

    assert table == [
        ["'=HYPERLINK()", "Deals", "Average", "Amount", "Amount currency"],
        ["a-b", "-5", "-0.50", "-1.00", "EUR"],
    ]


def test_csv_lines_end_with_crlf_and_awkward_text_is_quoted_as_rfc_4180_says() -> None:
    data = b"".join(csv_chunks("Pipeline", [STAGE], [detail('Zürich, "north"\nline two')]))

    assert data == b'Stage\r\n"Z\xc3\xbcrich, ""north""\nline two"\r\n'


def test_csv_missing_cells_are_empty_and_surplus_cells_are_dropped() -> None:
    table = read_csv([STAGE, DEALS], [detail("Won"), detail("Lost", 1, "surplus")])

    assert table[1:] == [["Won", ""], ["Lost", "1"]]


def test_csv_row_type_column_comes_first_only_when_asked_for() -> None:
    rows = [
        ResultRow(RowKind.GROUP, ("Won", 2)),
        detail("a", 1, level=1),
        ResultRow(RowKind.SUBTOTAL, ("Won", 2), 1),
        ResultRow(RowKind.GRAND_TOTAL, ("Total", 2)),
    ]

    with_kind = read_csv([STAGE, DEALS], rows, with_row_kind=True)
    without_kind = read_csv([STAGE, DEALS], rows)

    assert [line[0] for line in with_kind] == ["row type", "group", "detail", "subtotal", "total"]
    assert without_kind[0] == ["Stage", "Deals"]
    assert all(len(line) == 2 for line in without_kind)


def test_csv_twelve_hundred_rows_come_in_three_chunks_of_at_most_five_hundred_rows() -> None:
    rows = [detail(f"r{n}", n) for n in range(1200)]

    chunks = list(csv_chunks("Pipeline", [STAGE, DEALS], rows, chunk_rows=500))

    assert [chunk.count(b"\r\n") for chunk in chunks] == [501, 500, 200]
    table = list(csv.reader(io.StringIO(b"".join(chunks).decode(), newline="")))
    assert len(table) == 1201
    assert table[-1] == ["r1199", "1199"]


def test_csv_rows_are_pulled_from_the_source_only_as_each_chunk_is_asked_for() -> None:
    pulled = 0

    def source() -> Iterator[ResultRow]:
        nonlocal pulled
        for n in range(1200):
            pulled += 1
            yield detail(f"r{n}", n)

    chunks = csv_chunks("Pipeline", [STAGE, DEALS], source(), chunk_rows=500)
    assert pulled == 0
    next(chunks)
    assert pulled == 500
    next(chunks)
    assert pulled == 1000


def test_csv_first_chunk_is_ready_before_a_failing_source_is_read_past_it() -> None:
    def source() -> Iterator[ResultRow]:
        for n in range(500):
            yield detail(f"r{n}", n)
        raise AssertionError("read past the first chunk")

    chunks = csv_chunks("Pipeline", [STAGE, DEALS], source(), chunk_rows=500)

    assert next(chunks).count(b"\r\n") == 501
    with pytest.raises(AssertionError, match="read past"):
        next(chunks)


def test_csv_an_empty_result_is_one_chunk_holding_the_header() -> None:
    assert list(csv_chunks("Pipeline", [STAGE, AMOUNT], [])) == [b"Stage,Amount,Amount currency\r\n"]


def test_csv_a_chunk_size_below_one_is_refused_at_the_call() -> None:
    with pytest.raises(ValueError, match="chunk_rows"):
        csv_chunks("Pipeline", [STAGE], [], chunk_rows=0)


# XLSX


def test_xlsx_report_sheet_has_a_bold_title_and_a_bold_frozen_filtered_header() -> None:
    data = xlsx_bytes("Pipeline", [STAGE, DEALS, AMOUNT], [detail("Won", 3, Money("EUR", 100))])

    sheet = read_xlsx(data)["Report"]
    assert sheet["A1"].value == "Pipeline"
    assert sheet["A1"].font.b
    assert [cell.value for cell in sheet[2]] == ["Stage", "Deals", "Amount"]
    assert all(cell.font.b for cell in sheet[2])
    assert sheet.freeze_panes == "A3"
    assert sheet.auto_filter.ref == "A2:C3"
    assert [cell.value for cell in sheet[3]] == ["Won", 3, 1]
    assert not sheet["A3"].font.b


@pytest.mark.parametrize(
    ("money", "value", "number_format"),
    [
        (Money("EUR", 123456), 1234.56, '#,##0.00 "EUR"'),
        (Money("EUR", -123456), -1234.56, '#,##0.00 "EUR"'),
        (Money("JPY", 1234), 1234, '#,##0 "JPY"'),
        (Money("KWD", 1234567), 1234.567, '#,##0.000 "KWD"'),
        (Money("EUR", 1), 0.01, '#,##0.00 "EUR"'),
    ],
)
def test_xlsx_money_is_a_number_in_major_units_formatted_with_its_currency_code(
    money: Money, value: float, number_format: str
) -> None:
    cell = read_xlsx(xlsx_bytes("Pipeline", [AMOUNT], [detail(money)]))["Report"]["A3"]

    assert cell.data_type == "n"
    assert cell.value == value
    assert cell.number_format == number_format


def test_xlsx_percent_decimal_date_timestamp_boolean_and_integer_cells_are_typed_and_formatted() -> None:
    columns = [WIN_RATE, AVERAGE, CLOSES, UPDATED, WON, DEALS]
    row = detail(
        Decimal("0.2500"),
        Decimal("12.50"),
        date(2031, 3, 1),
        datetime(2031, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=2))),
        True,
        42,
    )

    cells = read_xlsx(xlsx_bytes("Pipeline", columns, [row]))["Report"][3]

    assert [cell.value for cell in cells] == [
        0.25,
        12.5,
        datetime(2031, 3, 1),
        datetime(2031, 3, 1, 12, 30),
        True,
        42,
    ]
    assert [cell.number_format for cell in cells] == [
        "0.00%",
        "#,##0.00",
        "yyyy-mm-dd",
        "yyyy-mm-dd hh:mm:ss",
        "General",
        "General",
    ]
    assert [cell.data_type for cell in cells] == ["n", "n", "d", "d", "b", "n"]


def test_xlsx_subtotal_and_grand_total_rows_are_bold_and_details_under_a_group_are_indented() -> None:
    rows = [
        ResultRow(RowKind.GROUP, ("Won", 2)),
        detail("a", 1, level=1),
        detail("b", 1, level=2),
        ResultRow(RowKind.SUBTOTAL, ("Won", 2), 1),
        ResultRow(RowKind.GRAND_TOTAL, ("Total", 2)),
    ]

    sheet = read_xlsx(xlsx_bytes("Pipeline", [STAGE, DEALS], rows))["Report"]

    assert [bool(sheet.cell(row, 1).font.b) for row in range(3, 8)] == [False, False, False, True, True]
    assert [bool(sheet.cell(row, 2).font.b) for row in range(3, 8)] == [False, False, False, True, True]
    assert [sheet.cell(row, 1).alignment.indent for row in range(3, 8)] == [0, 1, 2, 0, 0]


def test_xlsx_text_that_looks_like_a_formula_stays_a_string_cell() -> None:
    sheet = read_xlsx(xlsx_bytes("=1+1", [STAGE], [detail("=1+1"), detail("@SUM(A1)")]))["Report"]

    for ref in ("A1", "A3", "A4"):
        assert sheet[ref].data_type == "s"
    assert [sheet["A1"].value, sheet["A3"].value, sheet["A4"].value] == ["=1+1", "=1+1", "@SUM(A1)"]


def test_xlsx_about_sheet_holds_the_utc_generation_time_and_one_note_a_row() -> None:
    notes = ["Amounts converted to EUR at the rates of 2031-01-01.", "Probabilities rounded half-even."]
    generated = datetime(2031, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1)))

    workbook = read_xlsx(xlsx_bytes("Pipeline", [STAGE], [], notes=notes, generated_at=generated))

    assert workbook.sheetnames == ["Report", "About"]
    about = workbook["About"]
    assert about["A2"].value == "Generated (UTC)"
    assert about["B2"].value == datetime(2031, 1, 2, 3, 4, 5)
    assert about["B2"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert [about.cell(row, 1).value for row in range(6, 8)] == notes
    assert about.cell(8, 1).value is None


def test_xlsx_columns_are_wide_enough_for_their_header_and_sampled_values() -> None:
    long_name = "Mediterranean enterprise accounts"
    sheet = read_xlsx(xlsx_bytes("Pipeline", [STAGE, DEALS], [detail(long_name, 1)]))["Report"]

    assert sheet.column_dimensions["A"].width >= len(long_name)
    assert 8 <= sheet.column_dimensions["B"].width < 20


def test_xlsx_twenty_thousand_rows_export_in_order() -> None:
    rows = (detail(f"r{n}", n, Money("EUR", n)) for n in range(20_000))

    data = xlsx_bytes("Pipeline", [STAGE, DEALS, AMOUNT], rows, generated_at=GENERATED)

    sheet = read_xlsx(data, read_only=True)["Report"]
    values = [tuple(row) for row in sheet.iter_rows(min_row=3, values_only=True)]
    assert len(values) == 20_000
    assert values[0] == ("r0", 0, 0)
    assert values[-1] == ("r19999", 19_999, 199.99)
