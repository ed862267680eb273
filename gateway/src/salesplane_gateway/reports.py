"""A ReportResult as JSON rows keyed by column name, or as CSV: the one response the gateway does not
present in its protobuf shape, because a table of typed cells reads best as records. Each JSON row
also says what it is (`_kind`: detail, group, subtotal or grand_total) and how deep (`_level`)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from flask import Response, jsonify, request
from google.protobuf.message import Message

from salesplane.reporting.v1 import reporting_pb2
from salesplane_gateway.downloads import attachment, safe_filename
from salesplane_gateway.json_values import date_json
from salesplane_gateway.proto_to_json import message_json
from salesplane_platform.money import CURRENCY_EXPONENTS

if TYPE_CHECKING:
    from salesplane_gateway.json_to_proto import JsonDecoder
    from salesplane_gateway.openapi_components import Components
    from salesplane_gateway.routing import Route

REPORT_FORMATS = ("json", "csv")

COLUMN_TYPES: dict[int, str] = {
    reporting_pb2.COLUMN_TYPE_STRING: "string",
    reporting_pb2.COLUMN_TYPE_INTEGER: "integer",
    reporting_pb2.COLUMN_TYPE_MONEY: "money",
    reporting_pb2.COLUMN_TYPE_DATE: "date",
    reporting_pb2.COLUMN_TYPE_TIMESTAMP: "timestamp",
    reporting_pb2.COLUMN_TYPE_BOOLEAN: "boolean",
    reporting_pb2.COLUMN_TYPE_DECIMAL: "decimal",
    reporting_pb2.COLUMN_TYPE_PERCENT: "percent",
}
# An unspecified kind is a detail row (what a service that knows no groups sends).
ROW_KINDS: dict[int, str] = {
    reporting_pb2.ROW_KIND_DETAIL: "detail",
    reporting_pb2.ROW_KIND_GROUP: "group",
    reporting_pb2.ROW_KIND_SUBTOTAL: "subtotal",
    reporting_pb2.ROW_KIND_GRAND_TOTAL: "grand_total",
}
# The "row type" column of the CSV, as the reporting service's own CSV export writes it, so that a
# report reads the same whichever of the two wrote it.
CSV_ROW_TYPE = "row type"
_CSV_ROW_KINDS = {**ROW_KINDS, reporting_pb2.ROW_KIND_GRAND_TOTAL: "total"}
# Members of every JSON row besides the columns.
ROW_KIND_MEMBER, ROW_LEVEL_MEMBER = "_kind", "_level"
# Cells a spreadsheet would take for a formula (CSV injection); such text gets a leading apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# What a decimal cell holds; anything else is treated as text.
_DECIMAL = re.compile(r"^-?\d+(?:\.\d+)?$")
# For a currency the platform does not know; the services only accept known ones.
_DEFAULT_EXPONENT = 2

CellValue = str | int | bool | dict[str, Any] | None


def column_type(column: reporting_pb2.Column) -> str:
    """The JSON name of a column type; an unspecified or unknown type reads as "string"."""
    return COLUMN_TYPES.get(column.type, "string")


def row_kind(row: reporting_pb2.Row) -> str:
    return ROW_KINDS.get(row.kind, "detail")


def cell_value(cell: reporting_pb2.Cell) -> CellValue:
    """A cell as JSON: dates YYYY-MM-DD, timestamps RFC 3339 in UTC, decimals as their exact text
    (never a float), money as {currency_code, amount_minor}."""
    kind = cell.WhichOneof("value")
    if kind == "string_value":
        return cell.string_value
    if kind == "integer_value":
        return int(cell.integer_value)
    if kind == "money_value":
        return message_json(cell.money_value)
    if kind == "date_value":
        return date_json(cell.date_value)
    if kind == "timestamp_value":
        return cell.timestamp_value.ToJsonString()
    if kind == "bool_value":
        return bool(cell.bool_value)
    if kind == "decimal_value":
        return cell.decimal_value
    return None


def _row_cells(row: reporting_pb2.Row, width: int) -> list[reporting_pb2.Cell]:
    """One cell per column: missing cells are empty, surplus cells are dropped."""
    cells = list(row.cells[:width])
    return cells + [reporting_pb2.Cell() for _ in range(width - len(cells))]


def report_json(result: reporting_pb2.ReportResult) -> dict[str, Any]:
    columns = list(result.columns)
    names = [c.name for c in columns]
    return {
        "report_id": result.report_id,
        "title": result.title,
        "generate_time": result.generate_time.ToJsonString() if result.HasField("generate_time") else None,
        "columns": [
            {"name": c.name, "title": c.title, "type": column_type(c), "scale": c.scale} for c in columns
        ],
        "rows": [
            {
                **dict(zip(names, (cell_value(c) for c in _row_cells(row, len(columns))), strict=True)),
                ROW_KIND_MEMBER: row_kind(row),
                ROW_LEVEL_MEMBER: row.level,
            }
            for row in result.rows
        ],
        "truncated": result.truncated,
        "row_limit": result.row_limit,
        "notes": list(result.notes),
        "chart_svg": result.chart_svg,
    }


def major_units(amount_minor: int, currency_code: str) -> str:
    """An exact decimal in the currency's major unit: ("EUR", 123456) -> "1234.56"; no floats."""
    exponent = CURRENCY_EXPONENTS.get(currency_code, _DEFAULT_EXPONENT)
    if exponent == 0:
        return str(amount_minor)
    whole, fraction = divmod(abs(amount_minor), 10**exponent)
    sign = "-" if amount_minor < 0 else ""
    return f"{sign}{whole}.{fraction:0{exponent}d}"


def _text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def _csv_cells(cell: reporting_pb2.Cell, kind: str) -> list[str]:
    """The CSV cells of one cell: a money column spans two, amount and currency."""
    if kind == "money":
        if cell.HasField("money_value"):
            money = cell.money_value
            return [major_units(money.amount_minor, money.currency_code), money.currency_code]
        return [_csv_text(cell), ""]
    return [_csv_text(cell)]


def _csv_text(cell: reporting_pb2.Cell) -> str:
    # By the cell's kind, not the column's: a group's label or a total's "Total" may sit in any column.
    kind = cell.WhichOneof("value")
    if kind == "money_value":
        money = cell.money_value
        return f"{major_units(money.amount_minor, money.currency_code)} {money.currency_code}"
    if kind == "decimal_value" and _DECIMAL.match(cell.decimal_value):
        return cell.decimal_value  # "-0.25" is a number, not a formula
    if kind == "bool_value":
        return "true" if cell.bool_value else "false"
    value = cell_value(cell)
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return _text(str(value))


def report_csv(result: reporting_pb2.ReportResult) -> str:
    """RFC 4180 CSV (CRLF line ends) with a header row of column titles. A money column becomes two
    columns, "<title>" with the amount in major units ("1234.56") and "<title> currency"; decimals
    are their exact text, dates YYYY-MM-DD, timestamps RFC 3339 in UTC, booleans true or false. When
    some row is not a detail row, a first column "row type" says what each is (detail, group,
    subtotal, total)."""
    columns = list(result.columns)
    kinds = [column_type(c) for c in columns]
    with_row_type = any(row_kind(row) != "detail" for row in result.rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    header = [CSV_ROW_TYPE] if with_row_type else []
    for column, kind in zip(columns, kinds, strict=True):
        title = _text(column.title or column.name)
        header.extend([title, f"{title} currency"] if kind == "money" else [title])
    writer.writerow(header)
    for row in result.rows:
        cells = [_CSV_ROW_KINDS.get(row.kind, "detail")] if with_row_type else []
        for cell, kind in zip(_row_cells(row, len(columns)), kinds, strict=True):
            cells.extend(_csv_cells(cell, kind))
        writer.writerow(cells)
    return out.getvalue()


def csv_filename(report_id: str) -> str:
    """A plain file name for Content-Disposition: no path, no quotes, not hidden."""
    return safe_filename(report_id, "report") + ".csv"


class ReportPresenter:
    """?format=json (the default) or ?format=csv (an attachment)."""

    query: Mapping[str, dict[str, Any]] = {
        "format": {
            "name": "format",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": list(REPORT_FORMATS), "default": "json"},
            "description": "csv: RFC 4180 text with a header row of column titles; a money column "
            "becomes two, the amount in major units (e.g. 1234.56) and `<title> currency`; decimals "
            "and percentages are their exact text (0.2500 is 25 %), dates YYYY-MM-DD, timestamps RFC "
            "3339 in UTC, booleans true or false. When some row is a group, subtotal or total row, a "
            "first column `row type` says what each row is (detail, group, subtotal, total).",
        }
    }

    def check_query(self, decoder: JsonDecoder) -> None:
        if request.args.getlist("format") not in ([], ["json"], ["csv"]):
            decoder.fail("format", f"must be one of {list(REPORT_FORMATS)}, given once")

    def present(self, route: Route, response: Message) -> Response:
        result = cast(reporting_pb2.ReportResult, response)
        if request.args.get("format", "json") == "json":
            return jsonify(report_json(result))
        csv_response = Response(report_csv(result), mimetype="text/csv")
        name = result.report_id or (request.view_args or {}).get("report_id", "")
        csv_response.headers["Content-Disposition"] = attachment(csv_filename(name))
        return csv_response

    def responses(self, route: Route, components: Components) -> dict[str, Any]:
        return {
            "200": {
                "description": "The report result.",
                "headers": {
                    **components.request_id_header(),
                    "Content-Disposition": {
                        "schema": {"type": "string"},
                        "description": "With format=csv: attachment; filename=<report_id>.csv",
                    },
                },
                "content": {
                    "application/json": {"schema": components.static_schema("ReportTable")},
                    "text/csv": {"schema": {"type": "string"}},
                },
            }
        }
