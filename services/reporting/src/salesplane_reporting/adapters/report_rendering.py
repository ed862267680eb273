"""A report result as what a scheduled delivery carries (CSV, SVG chart, a small HTML table), and the
delivery itself over SMTP."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from html import escape

from salesplane_platform.errors import Unavailable
from salesplane_platform.money import Money
from salesplane_reporting.adapters.csv_export import column_heading, csv_chunks, fixed_decimal, major_units
from salesplane_reporting.adapters.smtp_mailer import (
    Attachment,
    DeliveryFailed,
    ReportEmail,
    SmtpMailer,
    chart_attachment,
)
from salesplane_reporting.adapters.svg_charts import render_svg
from salesplane_reporting.domain.report import CellValue, Column, ColumnType, ReportResult, ResultRow, RowKind

CSV_CONTENT_TYPE = "text/csv"
# Mail clients drop <style> blocks; inline styles survive.
_TABLE_STYLE = "border-collapse:collapse;font-family:system-ui,sans-serif;font-size:13px"
_CELL_STYLE = "border:1px solid #ccc;padding:4px 8px"
_HEAD_STYLE = _CELL_STYLE + ";background:#f3f3f3"
_NUMERIC = frozenset({ColumnType.INTEGER, ColumnType.MONEY, ColumnType.DECIMAL, ColumnType.PERCENT})


class ReportRendering:
    """The ReportRenderer port: the same CSV and SVG the export API gives."""

    def csv(self, result: ReportResult) -> bytes:
        # A layout with groups or totals says which row is which, as ExportReport does.
        with_kind = any(r.kind is not RowKind.DETAIL for r in result.rows)
        return b"".join(csv_chunks(result.title, result.columns, result.rows, with_row_kind=with_kind))

    def chart_svg(self, result: ReportResult) -> str:
        return render_svg(result.chart) if result.chart is not None else ""

    def html_table(self, result: ReportResult, *, max_rows: int) -> str:
        return html_table(result.columns, result.rows[:max_rows])


def html_table(columns: Sequence[Column], rows: Sequence[ResultRow]) -> str:
    head = "".join(
        f'<th style="{_HEAD_STYLE};text-align:{_align(c)}">{escape(column_heading(c))}</th>' for c in columns
    )
    body = []
    for row in rows:
        weight = "" if row.kind in (RowKind.DETAIL, RowKind.GROUP) else ";font-weight:bold"
        cells = row.cells[: len(columns)] + (None,) * (len(columns) - len(row.cells))
        body.append(
            "<tr>"
            + "".join(
                f'<td style="{_CELL_STYLE};text-align:{_align(c)}{weight}">{escape(display(v, c))}</td>'
                for v, c in zip(cells, columns, strict=True)
            )
            + "</tr>"
        )
    return (
        f'<table style="{_TABLE_STYLE}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def _align(column: Column) -> str:
    return "right" if column.type in _NUMERIC else "left"


def display(value: CellValue, column: Column) -> str:
    """A cell as a reader sees it (the CSV keeps machine-readable values instead)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Money):
        return f"{major_units(value.amount_minor, value.currency)} {value.currency}"
    if isinstance(value, int | Decimal):
        if column.type is ColumnType.PERCENT:
            return f"{fixed_decimal(Decimal(value) * 100, max(column.scale - 2, 0))} %"
        if column.type is ColumnType.DECIMAL:
            return fixed_decimal(value, column.scale)
        return str(value) if isinstance(value, int) else format(value, "f")
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    return value


class SmtpDelivery:
    """The ReportDelivery port over SmtpMailer: the CSV and the chart travel as attachments."""

    def __init__(self, mailer: SmtpMailer) -> None:
        self._mailer = mailer

    def deliver(
        self,
        *,
        recipients: tuple[str, ...],
        subject: str,
        text_body: str,
        html_body: str,
        csv_filename: str,
        csv: bytes,
        chart_svg: str,
    ) -> None:
        attachments = [Attachment(csv_filename, CSV_CONTENT_TYPE, csv)]
        if chart_svg:
            attachments.append(chart_attachment(chart_svg))
        email = ReportEmail(recipients, subject, text_body, html_body, tuple(attachments))
        try:
            self._mailer.send(email)
        except DeliveryFailed as error:
            raise Unavailable(error.reason) from error
