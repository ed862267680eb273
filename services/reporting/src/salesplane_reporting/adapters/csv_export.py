"""A report result as streamed CSV: RFC 4180 (CRLF), UTF-8, in chunks of rows, for results too large
to hold. The conventions (money split in two columns, major units, the formula guard) are the
gateway's, so a report reads the same whichever of the two wrote it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from salesplane_platform.money import CURRENCY_EXPONENTS, Money
from salesplane_reporting.domain.report import CellValue, Column, ColumnType, ResultRow, RowKind

# Cells a spreadsheet would take for a formula (CSV injection); such text gets a leading apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# For a currency the platform does not know; Money only holds known ones, but a column may not.
_DEFAULT_EXPONENT = 2

ROW_KIND_LABELS = {
    RowKind.DETAIL: "detail",
    RowKind.GROUP: "group",
    RowKind.SUBTOTAL: "subtotal",
    RowKind.GRAND_TOTAL: "total",
}


def currency_exponent(currency_code: str) -> int:
    return CURRENCY_EXPONENTS.get(currency_code, _DEFAULT_EXPONENT)


def major_units(amount_minor: int, currency_code: str) -> str:
    """An exact decimal in the currency's major unit: ("EUR", 123456) -> "1234.56"; no floats."""
    exponent = currency_exponent(currency_code)
    if exponent == 0:
        return str(amount_minor)
    whole, fraction = divmod(abs(amount_minor), 10**exponent)
    sign = "-" if amount_minor < 0 else ""
    return f"{sign}{whole}.{fraction:0{exponent}d}"


def column_heading(column: Column) -> str:
    return column.title or column.name


def fixed_decimal(value: Decimal | int, scale: int) -> str:
    """Exactly `scale` digits after the point, never an exponent ("1E+3" reads as text elsewhere).
    Cells are already rounded half-even to the column's scale; this keeps their trailing zeros."""
    quantum = Decimal(1).scaleb(-max(scale, 0))
    return format(Decimal(value).quantize(quantum, rounding=ROUND_HALF_EVEN), "f")


def utc_naive(value: datetime) -> datetime:
    """The UTC wall time of a timestamp; a naive one is taken to be UTC already."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None)


def _text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def _scalar(value: CellValue, column: Column) -> str:
    # Dispatch on the value first: a group's label or a total's "Total" may sit in any column.
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Money):
        return f"{major_units(value.amount_minor, value.currency)} {value.currency}"
    if isinstance(value, int | Decimal):
        if column.type in (ColumnType.DECIMAL, ColumnType.PERCENT):
            return fixed_decimal(value, column.scale)
        return str(value) if isinstance(value, int) else format(value, "f")
    if isinstance(value, datetime):
        return utc_naive(value).isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return _text(value)


def _cells(value: CellValue, column: Column) -> list[str]:
    """The CSV cells of one value: a money column spans two cells, amount and currency."""
    if column.type is ColumnType.MONEY:
        if isinstance(value, Money):
            return [major_units(value.amount_minor, value.currency), value.currency]
        return [_scalar(value, column), ""]
    return [_scalar(value, column)]


def _header(columns: Sequence[Column], with_row_kind: bool) -> list[str]:
    header = ["row type"] if with_row_kind else []
    for column in columns:
        title = _text(column_heading(column))
        header.extend([title, f"{title} currency"] if column.type is ColumnType.MONEY else [title])
    return header


def _record(row: ResultRow, columns: Sequence[Column], with_row_kind: bool) -> list[str]:
    record = [ROW_KIND_LABELS[row.kind]] if with_row_kind else []
    # One value per column, as the gateway does: missing cells are empty, surplus cells dropped.
    values = row.cells[: len(columns)]
    values += (None,) * (len(columns) - len(values))
    for value, column in zip(values, columns, strict=True):
        record.extend(_cells(value, column))
    return record


def csv_chunks(
    title: str,
    columns: Sequence[Column],
    rows: Iterable[ResultRow],
    *,
    chunk_rows: int = 500,
    with_row_kind: bool = False,
) -> Iterator[bytes]:
    """The report as UTF-8 CSV bytes, the header with the first `chunk_rows` rows, then `chunk_rows`
    rows a chunk; rows are pulled only as each chunk is asked for. `with_row_kind` adds a first
    column "row type" (detail, group, subtotal, total): the caller knows whether the layout has
    groups or totals, a stream cannot look ahead to find out. `title` is not written: a line above
    the header would break every reader that takes the first line for the column names."""
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    # Checked here, not in the generator, so a bad argument fails at the call and not at first read.
    return _chunks(list(columns), rows, chunk_rows, with_row_kind)


def _chunks(
    columns: list[Column], rows: Iterable[ResultRow], chunk_rows: int, with_row_kind: bool
) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(_header(columns, with_row_kind))
    pending = 0
    for row in rows:
        writer.writerow(_record(row, columns, with_row_kind))
        pending += 1
        # Yield as soon as a chunk is full, before pulling the next row from the source.
        if pending == chunk_rows:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending or buffer.tell():
        yield buffer.getvalue().encode("utf-8")
