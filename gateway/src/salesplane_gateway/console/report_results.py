"""A ReportResult as the console shows it: each cell formatted by its own kind in the reader's
language (money with its currency, dates, percentages), numeric columns right-aligned, subtotal and
total rows named in words as well as in bold, and the reporting service's chart SVG.

Shared by the Reports and Marketing screens: both show reports the reporting service ran."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from babel.numbers import format_decimal, format_percent
from markupsafe import Markup

from salesplane.reporting.v1 import reporting_pb2
from salesplane_gateway.console import localisation
from salesplane_gateway.console.localisation import gettext

_NUMERIC = frozenset(
    {
        reporting_pb2.COLUMN_TYPE_INTEGER,
        reporting_pb2.COLUMN_TYPE_MONEY,
        reporting_pb2.COLUMN_TYPE_DECIMAL,
        reporting_pb2.COLUMN_TYPE_PERCENT,
    }
)
_KINDS = {
    reporting_pb2.ROW_KIND_GROUP: "group",
    reporting_pb2.ROW_KIND_SUBTOTAL: "subtotal",
    reporting_pb2.ROW_KIND_GRAND_TOTAL: "total",
}
# The engine labels its grand-total row with this English word; the console says it in the
# reader's language.
_ENGINE_TOTAL = "Total"


@dataclass(frozen=True)
class ShownColumn:
    title: str
    numeric: bool


@dataclass(frozen=True)
class ShownRow:
    # detail, group, subtotal or total.
    kind: str
    level: int
    cells: tuple[str, ...]


@dataclass(frozen=True)
class ShownReport:
    report_id: str
    title: str
    columns: tuple[ShownColumn, ...]
    rows: tuple[ShownRow, ...]
    notes: tuple[str, ...]
    truncated: bool
    row_limit: int
    # The service's own rendering; empty when the definition has no chart.
    chart: Markup
    generated: str


def shown_report(result: reporting_pb2.ReportResult) -> ShownReport:
    columns = list(result.columns)
    rows = []
    for row in result.rows:
        cells = list(row.cells[: len(columns)])
        cells += [reporting_pb2.Cell() for _ in range(len(columns) - len(cells))]
        texts = [cell_text(cell, column) for cell, column in zip(cells, columns, strict=True)]
        kind = _KINDS.get(row.kind, "detail")
        if kind == "total" and texts and texts[0] == _ENGINE_TOTAL:
            texts[0] = gettext("Total")
        rows.append(ShownRow(kind, row.level, tuple(texts)))
    return ShownReport(
        report_id=result.report_id,
        title=result.title,
        columns=tuple(ShownColumn(c.title or c.name, c.type in _NUMERIC) for c in columns),
        rows=tuple(rows),
        notes=tuple(result.notes),
        truncated=result.truncated,
        row_limit=result.row_limit,
        # Rendered by the reporting service from the report's own data (labels escaped there), the
        # same SVG its e-mails carry.
        chart=Markup(result.chart_svg),
        generated=(
            localisation.moment(result.generate_time.ToDatetime()) if result.HasField("generate_time") else ""
        ),
    )


def cell_text(cell: reporting_pb2.Cell, column: reporting_pb2.Column) -> str:
    """By the cell's own kind (a group's label or a total's word may sit in any column); decimals
    and percentages with the column's scale."""
    kind = cell.WhichOneof("value")
    if kind == "string_value":
        return cell.string_value
    if kind == "integer_value":
        return localisation.number(cell.integer_value)
    if kind == "money_value":
        return localisation.money(cell.money_value.amount_minor, cell.money_value.currency_code)
    if kind == "date_value":
        value = cell.date_value
        return localisation.calendar_date(date(value.year, value.month, value.day)) if value.year else ""
    if kind == "timestamp_value":
        return localisation.moment(cell.timestamp_value.ToDatetime())
    if kind == "bool_value":
        return gettext("Yes") if cell.bool_value else gettext("No")
    if kind == "decimal_value":
        return _decimal(cell.decimal_value, column)
    return ""


def _decimal(text: str, column: reporting_pb2.Column) -> str:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    locale = localisation.current_locale().babel
    if column.type == reporting_pb2.COLUMN_TYPE_PERCENT:
        # A fraction with `scale` digits: 0.2500 is 25 %, shown with the digits the scale leaves.
        digits = max(column.scale - 2, 0)
        pattern = "#,##0" + ("." + "#" * digits if digits else "") + "%"
        return format_percent(value, format=pattern, locale=locale)
    pattern = "#,##0" + ("." + "0" * column.scale if column.scale > 0 else "")
    return format_decimal(value, format=pattern, locale=locale, decimal_quantization=True)
