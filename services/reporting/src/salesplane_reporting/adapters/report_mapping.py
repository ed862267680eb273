"""Translation between the domain and the protobuf contracts (the events consumed, the API served)."""

from __future__ import annotations

from salesplane.common.v1.common_pb2 import Money as MoneyMessage
from salesplane.leads.v1 import leads_pb2
from salesplane.opportunities.v1 import opportunities_pb2
from salesplane.reporting.v1 import reporting_pb2
from salesplane_platform.money import Money
from salesplane_platform.proto_values import date_from_proto
from salesplane_reporting.domain.read_models import LeadView, OpportunityView
from salesplane_reporting.domain.report import CellValue, Column, ColumnType, ReportDefinition, ReportResult

_COLUMN_TYPES = {
    ColumnType.STRING: reporting_pb2.COLUMN_TYPE_STRING,
    ColumnType.INTEGER: reporting_pb2.COLUMN_TYPE_INTEGER,
    ColumnType.MONEY: reporting_pb2.COLUMN_TYPE_MONEY,
}
_LEAD_STATUS_PREFIX = "LEAD_STATUS_"


def opportunity_view_from_proto(message: opportunities_pb2.Opportunity, *, version: int) -> OpportunityView:
    return OpportunityView(
        id=message.id,
        owner_user_id=message.owner_user_id,
        sales_stage=message.sales_stage,
        amount_minor=message.amount.amount_minor,
        currency=message.amount.currency_code,
        probability=message.probability,
        expected_close_date=date_from_proto(message.expected_close_date),
        version=version,
    )


def _lead_status(value: leads_pb2.LeadStatus.ValueType) -> str:
    """ "new", "assigned", ...; "unknown" for a status newer than the contract we were built with."""
    if value not in leads_pb2.LeadStatus.values():
        return "unknown"
    return leads_pb2.LeadStatus.Name(value).removeprefix(_LEAD_STATUS_PREFIX).lower()


def lead_view_from_proto(message: leads_pb2.Lead, *, version: int) -> LeadView:
    return LeadView(
        id=message.id,
        status=_lead_status(message.status),
        lead_source_id=message.lead_source_id,
        version=version,
    )


def definition_to_proto(definition: ReportDefinition) -> reporting_pb2.ReportDefinition:
    return reporting_pb2.ReportDefinition(
        id=definition.id, title=definition.title, description=definition.description
    )


def _column_to_proto(column: Column) -> reporting_pb2.Column:
    return reporting_pb2.Column(name=column.name, title=column.title, type=_COLUMN_TYPES[column.type])


def _cell_to_proto(column: Column, value: CellValue) -> reporting_pb2.Cell:
    if column.type is ColumnType.MONEY and isinstance(value, Money):
        return reporting_pb2.Cell(
            money_value=MoneyMessage(currency_code=value.currency, amount_minor=value.amount_minor)
        )
    if column.type is ColumnType.INTEGER and isinstance(value, int) and not isinstance(value, bool):
        return reporting_pb2.Cell(integer_value=value)
    if column.type is ColumnType.STRING and isinstance(value, str):
        return reporting_pb2.Cell(string_value=value)
    raise TypeError(f"column {column.name} ({column.type.value}) cannot hold {value!r}")


def result_to_proto(result: ReportResult) -> reporting_pb2.ReportResult:
    message = reporting_pb2.ReportResult(
        report_id=result.definition.id,
        title=result.definition.title,
        columns=[_column_to_proto(c) for c in result.columns],
        rows=[
            reporting_pb2.Row(cells=[_cell_to_proto(c, v) for c, v in zip(result.columns, row, strict=True)])
            for row in result.rows
        ],
    )
    message.generate_time.FromDatetime(result.generated_at)
    return message
