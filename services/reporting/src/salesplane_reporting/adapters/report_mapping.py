"""Translation between the domain and the reporting API's protobuf messages."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from google.protobuf import json_format, struct_pb2

from salesplane.common.v1.common_pb2 import Date as DateMessage
from salesplane.common.v1.common_pb2 import Money as MoneyMessage
from salesplane.reporting.v1 import reporting_pb2
from salesplane_platform.errors import FieldViolation, InvalidArgument
from salesplane_platform.money import Money
from salesplane_reporting.domain.catalogue import CATALOGUE, SOURCE_PARAMETERS
from salesplane_reporting.domain.report import (
    CellValue,
    Column,
    ColumnType,
    ReportDefinitionSummary,
    ResultRow,
    RowKind,
)
from salesplane_reporting.domain.run_options import RunOptions, runtime_filter_ids

COLUMN_TYPES = {
    ColumnType.STRING: reporting_pb2.COLUMN_TYPE_STRING,
    ColumnType.INTEGER: reporting_pb2.COLUMN_TYPE_INTEGER,
    ColumnType.MONEY: reporting_pb2.COLUMN_TYPE_MONEY,
    ColumnType.DATE: reporting_pb2.COLUMN_TYPE_DATE,
    ColumnType.TIMESTAMP: reporting_pb2.COLUMN_TYPE_TIMESTAMP,
    ColumnType.BOOLEAN: reporting_pb2.COLUMN_TYPE_BOOLEAN,
    ColumnType.DECIMAL: reporting_pb2.COLUMN_TYPE_DECIMAL,
    ColumnType.PERCENT: reporting_pb2.COLUMN_TYPE_PERCENT,
}
ROW_KINDS = {
    RowKind.DETAIL: reporting_pb2.ROW_KIND_DETAIL,
    RowKind.GROUP: reporting_pb2.ROW_KIND_GROUP,
    RowKind.SUBTOTAL: reporting_pb2.ROW_KIND_SUBTOTAL,
    RowKind.GRAND_TOTAL: reporting_pb2.ROW_KIND_GRAND_TOTAL,
}


def struct_to_dict(message: struct_pb2.Struct, field: str = "definition") -> dict[str, Any]:
    document: dict[str, Any] = _json_of(message, field)
    return document


def _json_of(message: struct_pb2.Struct | struct_pb2.Value, field: str) -> Any:
    # A protobuf Value may hold NaN or an infinity, which JSON cannot: json_format refuses them
    # with ValueError, which was answered INTERNAL (UNKNOWN from ExportReport).
    try:
        return json_format.MessageToDict(message)
    except ValueError as error:
        raise InvalidArgument(
            FieldViolation(field, "numbers must be finite: NaN and infinities have no JSON form")
        ) from error


def dict_to_struct(document: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(dict(document))
    return message


def definition_to_proto(
    summary: ReportDefinitionSummary, document: Mapping[str, Any] | None = None, version: int = 0
) -> reporting_pb2.ReportDefinition:
    message = reporting_pb2.ReportDefinition(
        id=summary.id,
        title=summary.title,
        description=summary.description,
        builtin=summary.builtin,
        owner_user_id=summary.owner_user_id,
        sharing=summary.sharing,
        version=version,
    )
    if document is not None:
        message.definition.CopyFrom(dict_to_struct(document))
        message.runtime_filters.extend(runtime_filter_ids(document))
    return message


def run_options_from_proto(request: reporting_pb2.RunReportRequest) -> RunOptions:
    values = {
        key: [_json_of(v, f"filter_values[{key}]") for v in entry.values]
        for key, entry in request.filter_values.items()
    }
    return RunOptions(
        filter_values=values,
        parameters=dict(request.parameters),
        as_of=request.as_of or None,
        viewpoint=request.viewpoint_user_id or None,
    )


def column_to_proto(column: Column) -> reporting_pb2.Column:
    return reporting_pb2.Column(
        name=column.name, title=column.title, type=COLUMN_TYPES[column.type], scale=column.scale
    )


def cell_to_proto(value: CellValue) -> reporting_pb2.Cell:
    if value is None:
        return reporting_pb2.Cell()
    if isinstance(value, bool):
        return reporting_pb2.Cell(bool_value=value)
    if isinstance(value, Money):
        return reporting_pb2.Cell(
            money_value=MoneyMessage(currency_code=value.currency, amount_minor=value.amount_minor)
        )
    if isinstance(value, int):
        return reporting_pb2.Cell(integer_value=value)
    if isinstance(value, Decimal):
        return reporting_pb2.Cell(decimal_value=format(value, "f"))
    if isinstance(value, datetime):
        cell = reporting_pb2.Cell()
        cell.timestamp_value.FromDatetime(value)
        return cell
    if isinstance(value, date):
        return reporting_pb2.Cell(date_value=DateMessage(year=value.year, month=value.month, day=value.day))
    return reporting_pb2.Cell(string_value=str(value))


def row_to_proto(row: ResultRow) -> reporting_pb2.Row:
    return reporting_pb2.Row(
        cells=[cell_to_proto(c) for c in row.cells], kind=ROW_KINDS[row.kind], level=row.level
    )


def sources_to_proto() -> reporting_pb2.ListSourcesResponse:
    return reporting_pb2.ListSourcesResponse(
        sources=[
            reporting_pb2.Source(
                name=source.value,
                fields=[
                    reporting_pb2.SourceField(
                        name=f.name, title=f.title, type=COLUMN_TYPES[f.reported_type], groupable=f.groupable
                    )
                    for f in fields
                ],
                parameters=list(SOURCE_PARAMETERS.get(source, ())),
            )
            for source, fields in CATALOGUE.items()
        ]
    )
