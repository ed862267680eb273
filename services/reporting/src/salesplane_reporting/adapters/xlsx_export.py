"""A report result as an Excel workbook (.xlsx): a "Report" sheet of typed cells and an "About" sheet
saying when it was made and what a reader must know. Written with XlsxWriter in constant_memory mode,
which flushes each row to a temporary file as the next begins, so a large result is never held."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import xlsxwriter

from salesplane_platform.money import Money, format_minor
from salesplane_reporting.adapters.csv_export import (
    column_heading,
    currency_exponent,
    fixed_decimal,
    major_units,
    utc_naive,
)
from salesplane_reporting.domain.report import CellValue, Column, ColumnType, ResultRow, RowKind

REPORT_SHEET = "Report"
ABOUT_SHEET = "About"
# Excel's last row is 1,048,576; the title and header rows come first.
_FIRST_DATA_ROW = 2
MAX_DATA_ROWS = 1_048_576 - _FIRST_DATA_ROW
# Widths come from the header and this many rows: the rest stream past without being measured twice.
_WIDTH_SAMPLE_ROWS = 200
_MIN_WIDTH = 8
_MAX_WIDTH = 60
_DATE_FORMAT = "yyyy-mm-dd"
_TIMESTAMP_FORMAT = "yyyy-mm-dd hh:mm:ss"
_PERCENT_FORMAT = "0.00%"
_BOLD_KINDS = (RowKind.SUBTOTAL, RowKind.GRAND_TOTAL)


def money_format(currency_code: str) -> str:
    """'#,##0.00 "EUR"': the currency's own decimals (none for JPY, three for KWD) and its code."""
    exponent = currency_exponent(currency_code)
    decimals = "." + "0" * exponent if exponent else ""
    return f'#,##0{decimals} "{currency_code}"'


def _decimal_format(scale: int) -> str:
    return "#,##0." + "0" * scale if scale > 0 else "#,##0"


def money_number(value: Money) -> float:
    """The amount in major units as the double nearest the exact decimal.

    Excel stores every number as a double, so the float is made only at the end, from the exact
    decimal (integer minor units -> Decimal), never by dividing floats: a double holds 15 significant
    digits, so the cell is exact to the cent below 10^13 major units of a two-decimal currency, more
    than any real amount. One column is enough: the exact minor units are in the CSV export."""
    return float(Decimal(major_units(value.amount_minor, value.currency)))


class _Formats:
    """One workbook Format per distinct set of properties: Excel caps a file at 64,000 formats, and
    a Format made per cell would also grow with the rows."""

    def __init__(self, workbook: Any) -> None:
        self._workbook = workbook
        self._cache: dict[tuple[tuple[str, Any], ...], Any] = {}

    def get(self, **properties: Any) -> Any:
        given = {name: value for name, value in properties.items() if value}
        if not given:
            return None
        key = tuple(sorted(given.items()))
        if key not in self._cache:
            self._cache[key] = self._workbook.add_format(given)
        return self._cache[key]


def _display_width(value: CellValue, column: Column) -> int:
    """About how many characters Excel shows for a value in its number format."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return 5
    if isinstance(value, Money):
        return len(format_minor(value.amount_minor, value.currency)) + 1 + len(value.currency)
    if isinstance(value, int | Decimal):
        if column.type is ColumnType.PERCENT:
            return len(fixed_decimal(Decimal(value) * 100, 2)) + 1
        text = fixed_decimal(value, column.scale) if column.type is ColumnType.DECIMAL else str(value)
        return len(text) + len(text) // 3
    if isinstance(value, datetime):
        return len(_TIMESTAMP_FORMAT)
    if isinstance(value, date):
        return len(_DATE_FORMAT)
    return max((len(line) for line in value.splitlines()), default=0)


def _write_cell(
    sheet: Any,
    formats: _Formats,
    row_number: int,
    column_number: int,
    value: CellValue,
    column: Column,
    *,
    bold: bool,
    indent: int,
) -> None:
    # Dispatch on the value, not only the column: a group's label or a total's "Total" may sit in a
    # column of any type. Text goes through write_string only, so "=1+1" stays text, not a formula.
    def style(num_format: str = "") -> Any:
        return formats.get(bold=bold, indent=indent, num_format=num_format)

    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(row_number, column_number, value, style())
    elif isinstance(value, Money):
        sheet.write_number(
            row_number, column_number, money_number(value), style(money_format(value.currency))
        )
    elif isinstance(value, int | Decimal):
        if column.type is ColumnType.PERCENT:
            num_format = _PERCENT_FORMAT
        elif column.type is ColumnType.DECIMAL:
            num_format = _decimal_format(column.scale)
        else:
            num_format = ""
        sheet.write_number(row_number, column_number, float(value), style(num_format))
    elif isinstance(value, datetime):
        # Excel has no time zones: the sheet shows UTC wall time, as the About sheet says.
        sheet.write_datetime(row_number, column_number, utc_naive(value), style(_TIMESTAMP_FORMAT))
    elif isinstance(value, date):
        sheet.write_datetime(row_number, column_number, value, style(_DATE_FORMAT))
    else:
        sheet.write_string(row_number, column_number, value, style())


def _write_about(
    sheet: Any, formats: _Formats, title: str, generated_at: datetime, notes: Sequence[str]
) -> None:
    bold = formats.get(bold=True)
    sheet.write_string(0, 0, "Report", bold)
    sheet.write_string(0, 1, title)
    sheet.write_string(1, 0, "Generated (UTC)", bold)
    sheet.write_datetime(1, 1, generated_at, formats.get(num_format=_TIMESTAMP_FORMAT))
    sheet.write_string(2, 0, "Times", bold)
    sheet.write_string(2, 1, "All dates and times are in UTC.")
    if notes:
        sheet.write_string(4, 0, "Notes", bold)
        for offset, note in enumerate(notes):
            sheet.write_string(5 + offset, 0, note)
    # Notes are sentences: they run on across the empty cells to their right.
    sheet.set_column(0, 0, 18)
    sheet.set_column(1, 1, 24)


def xlsx_bytes(
    title: str,
    columns: Sequence[Column],
    rows: Iterable[ResultRow],
    *,
    notes: Sequence[str] = (),
    generated_at: datetime | None = None,
) -> bytes:
    """The report as .xlsx bytes: on "Report" a bold title row, a bold header row with a filter and
    the panes frozen below it, then one row per result row (subtotals and the grand total bold,
    details under a group indented by their level); on "About" the time it was generated (UTC) and
    the notes, one a row. Raises ValueError for more rows than a worksheet holds (1,048,574)."""
    columns = list(columns)
    made_at = utc_naive(generated_at if generated_at is not None else datetime.now(UTC))
    with tempfile.TemporaryDirectory(prefix="salesplane-xlsx-") as directory:
        path = Path(directory) / "report.xlsx"
        # constant_memory needs a file on disk (in_memory off); tmpdir keeps XlsxWriter's row files
        # in the same directory, so everything is removed with it, even if writing fails.
        workbook = xlsxwriter.Workbook(
            str(path), {"constant_memory": True, "in_memory": False, "tmpdir": directory}
        )
        try:
            workbook.set_properties({"title": title, "created": made_at})
            formats = _Formats(workbook)
            report = workbook.add_worksheet(REPORT_SHEET)
            about = workbook.add_worksheet(ABOUT_SHEET)
            _write_report(report, formats, title, columns, rows)
            _write_about(about, formats, title, made_at, notes)
        finally:
            workbook.close()
        return path.read_bytes()


def _write_report(
    sheet: Any, formats: _Formats, title: str, columns: list[Column], rows: Iterable[ResultRow]
) -> None:
    """Writes the Report sheet in row order: constant_memory allows no going back."""
    bold = formats.get(bold=True)
    sheet.write_string(0, 0, title, bold)
    # Bold text and the filter button take room beyond the characters.
    widths = [len(column_heading(column)) + 4 for column in columns]
    for number, column in enumerate(columns):
        sheet.write_string(1, number, column_heading(column), bold)

    row_number = _FIRST_DATA_ROW - 1
    for index, row in enumerate(rows):
        if index >= MAX_DATA_ROWS:
            raise ValueError(f"a worksheet holds at most {MAX_DATA_ROWS} rows below its header")
        row_number = _FIRST_DATA_ROW + index
        row_bold = row.kind in _BOLD_KINDS
        # An indent on the first cell, not set_row's outline level: XlsxWriter keeps every set_row
        # call's details until the file is closed, which would grow with the rows.
        indent = row.level if row.kind is RowKind.DETAIL and row.level > 0 else 0
        for number, (value, column) in enumerate(zip(row.cells, columns, strict=False)):
            _write_cell(
                sheet,
                formats,
                row_number,
                number,
                value,
                column,
                bold=row_bold,
                indent=indent if number == 0 else 0,
            )
            if index < _WIDTH_SAMPLE_ROWS:
                shown = _display_width(value, column) + (2 * indent if number == 0 else 0)
                widths[number] = max(widths[number], shown + 1)

    # Column widths, the filter and the frozen panes are sheet settings written when the file is
    # closed, so they may follow the rows even in constant_memory mode.
    for number, width in enumerate(widths):
        sheet.set_column(number, number, max(_MIN_WIDTH, min(_MAX_WIDTH, width)))
    if columns:
        sheet.autofilter(1, 0, row_number, len(columns) - 1)
    sheet.freeze_panes(_FIRST_DATA_ROW, 0)
