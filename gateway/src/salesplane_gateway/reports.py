"""A ReportResult as JSON rows keyed by column name, or as CSV: the one response the gateway does not
present in its protobuf shape, because a table of typed cells reads best as records."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from flask import Response, jsonify, request
from google.protobuf.message import Message

from salesplane.reporting.v1 import reporting_pb2
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
}
# Cells a spreadsheet would take for a formula (CSV injection); such text gets a leading apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# For a currency the platform does not know; the services only accept known ones.
_DEFAULT_EXPONENT = 2

CellValue = str | int | dict[str, Any] | None


def column_type(column: reporting_pb2.Column) -> str:
    """The JSON name of a column type; an unspecified or unknown type reads as "string"."""
    return COLUMN_TYPES.get(column.type, "string")


def cell_value(cell: reporting_pb2.Cell) -> CellValue:
    kind = cell.WhichOneof("value")
    if kind == "string_value":
        return cell.string_value
    if kind == "integer_value":
        return int(cell.integer_value)
    if kind == "money_value":
        return message_json(cell.money_value)
    return None


def _row_values(row: reporting_pb2.Row, width: int) -> list[CellValue]:
    """One value per column: missing cells are null, surplus cells are dropped."""
    values = [cell_value(cell) for cell in row.cells[:width]]
    return values + [None] * (width - len(values))


def report_json(result: reporting_pb2.ReportResult) -> dict[str, Any]:
    columns = list(result.columns)
    return {
        "report_id": result.report_id,
        "title": result.title,
        "generate_time": result.generate_time.ToJsonString() if result.HasField("generate_time") else None,
        "columns": [{"name": c.name, "title": c.title, "type": column_type(c)} for c in columns],
        "rows": [
            dict(zip((c.name for c in columns), _row_values(row, len(columns)), strict=True))
            for row in result.rows
        ],
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


def _csv_cells(value: CellValue, kind: str) -> list[str]:
    """The CSV cells of one value: a money column spans two cells, amount and currency."""
    if kind == "money":
        if isinstance(value, dict):
            return [major_units(value["amount_minor"], value["currency_code"]), value["currency_code"]]
        return [_csv_scalar(value), ""]
    return [_csv_scalar(value)]


def _csv_scalar(value: CellValue) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return f"{major_units(value['amount_minor'], value['currency_code'])} {value['currency_code']}"
    return _text(value)


def report_csv(result: reporting_pb2.ReportResult) -> str:
    """RFC 4180 CSV (CRLF line ends) with a header row of column titles. A money column becomes two
    columns, "<title>" with the amount in major units ("1234.56") and "<title> currency"."""
    columns = list(result.columns)
    kinds = [column_type(c) for c in columns]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    header: list[str] = []
    for column, kind in zip(columns, kinds, strict=True):
        title = _text(column.title or column.name)
        header.extend([title, f"{title} currency"] if kind == "money" else [title])
    writer.writerow(header)
    for row in result.rows:
        cells: list[str] = []
        for value, kind in zip(_row_values(row, len(columns)), kinds, strict=True):
            cells.extend(_csv_cells(value, kind))
        writer.writerow(cells)
    return out.getvalue()


def csv_filename(report_id: str) -> str:
    """A plain file name for Content-Disposition: no path, no quotes, not hidden."""
    return (re.sub(r"[^A-Za-z0-9._-]", "_", report_id).lstrip(".") or "report") + ".csv"


class ReportPresenter:
    """?format=json (the default) or ?format=csv (an attachment)."""

    query: Mapping[str, dict[str, Any]] = {
        "format": {
            "name": "format",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": list(REPORT_FORMATS), "default": "json"},
            "description": "csv: RFC 4180 text with a header row of column titles; a money column "
            "becomes two, the amount in major units (e.g. 1234.56) and `<title> currency`.",
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
        csv_response.headers["Content-Disposition"] = f'attachment; filename="{csv_filename(name)}"'
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
