"""Worksheets, snapshots and forecast accuracy between the domain and the protobuf contract."""

from __future__ import annotations

from datetime import date

from salesplane.forecasting.v1 import worksheets_pb2
from salesplane_forecasting.adapters.settings_mapping import commit_stage_to_proto
from salesplane_forecasting.adapters.totals_mapping import totals_to_proto
from salesplane_forecasting.domain.worksheets import (
    AccuracyRow,
    ForecastAccuracy,
    ManagerRow,
    ManagerWorksheet,
    RepWorksheet,
    Snapshot,
    SnapshotKind,
    SnapshotRow,
    WorksheetDeal,
)
from salesplane_platform.errors import FieldViolation, InvalidArgument
from salesplane_platform.proto_values import date_to_proto
from salesplane_platform.proto_values import money_message as money

_KIND_TO_PROTO = {
    SnapshotKind.REP: worksheets_pb2.SNAPSHOT_KIND_REP,
    SnapshotKind.MANAGER: worksheets_pb2.SNAPSHOT_KIND_MANAGER,
}
_KIND_FROM_PROTO = {value: kind for kind, value in _KIND_TO_PROTO.items()}


def kind_from_proto(value: worksheets_pb2.SnapshotKind.ValueType, field: str) -> SnapshotKind | None:
    """SNAPSHOT_KIND_UNSPECIFIED is None (each request says what that means); a number the
    contract does not define is InvalidArgument on field (proto3 enums are open)."""
    if value == worksheets_pb2.SNAPSHOT_KIND_UNSPECIFIED:
        return None
    kind = _KIND_FROM_PROTO.get(value)
    if kind is None:
        names = sorted(worksheets_pb2.SnapshotKind.Name(v) for v in _KIND_FROM_PROTO)
        raise InvalidArgument(FieldViolation(field, f"must be one of {names}, got {value}"))
    return kind


def snapshot_to_proto(snapshot: Snapshot) -> worksheets_pb2.ForecastSnapshot:
    figures, currency = snapshot.figures, snapshot.currency
    message = worksheets_pb2.ForecastSnapshot(
        snapshot_id=snapshot.snapshot_id,
        user_id=snapshot.user_id,
        period_id=snapshot.period_id,
        kind=_KIND_TO_PROTO[snapshot.kind],
        committed=snapshot.committed,
        likely=money(figures.likely_minor, currency),
        best=money(figures.best_minor, currency),
        worst=money(figures.worst_minor, currency),
        closed_won=money(figures.closed_won_minor, currency),
        note=snapshot.note,
        author=snapshot.author,
        rows=[_row_to_proto(row, currency) for row in figures.rows],
        changes=list(snapshot.changes),
        sequence=snapshot.sequence,
    )
    if snapshot.quota_minor is not None:
        message.quota.CopyFrom(money(snapshot.quota_minor, currency))
    message.create_time.FromDatetime(snapshot.created_at)
    return message


def worksheet_deal_to_proto(item: WorksheetDeal, currency: str) -> worksheets_pb2.WorksheetDeal:
    deal = item.deal
    message = worksheets_pb2.WorksheetDeal(
        opportunity_id=deal.opportunity_id,
        name=deal.name,
        account_name=deal.account_name,
        sales_stage=deal.sales_stage,
        probability=deal.probability,
        status=str(deal.status),
        likely=money(deal.likely_minor, currency),
        best=money(deal.best_minor, currency),
        worst=money(deal.worst_minor, currency),
        commit_stage=commit_stage_to_proto(deal.commit_stage),
        commit_stage_manual=item.manual,
        opportunity_version=deal.version,
    )
    if deal.currency:
        message.amount.CopyFrom(money(deal.amount_minor, deal.currency))
    # Deals tracked before close dates were kept have none until their next change.
    if deal.close_date != date.min:
        message.expected_close_date.CopyFrom(date_to_proto(deal.close_date))
    return message


def rep_worksheet_to_proto(worksheet: RepWorksheet, currency: str) -> worksheets_pb2.RepWorksheet:
    message = worksheets_pb2.RepWorksheet(
        user_id=worksheet.user_id,
        period_id=worksheet.period_id,
        currency_code=currency,
        deals=[worksheet_deal_to_proto(item, currency) for item in worksheet.deals],
        totals=totals_to_proto(worksheet.totals, currency),
        attainment_basis_points=worksheet.attainment_basis_points,
        changed_since_commit=worksheet.comparison.changed,
        changes_since_commit=list(worksheet.comparison.changes),
        show_likely=worksheet.show_likely,
        show_best=worksheet.show_best,
        show_worst=worksheet.show_worst,
    )
    _fill_quota_and_snapshots(message, worksheet, currency)
    return message


def manager_worksheet_to_proto(worksheet: ManagerWorksheet, currency: str) -> worksheets_pb2.ManagerWorksheet:
    figures = worksheet.figures
    message = worksheets_pb2.ManagerWorksheet(
        user_id=worksheet.user_id,
        period_id=worksheet.period_id,
        currency_code=currency,
        rows=[_manager_row_to_proto(row, currency) for row in worksheet.rows],
        likely=money(figures.likely_minor, currency),
        best=money(figures.best_minor, currency),
        worst=money(figures.worst_minor, currency),
        team=totals_to_proto(worksheet.team, currency),
        changed_since_commit=worksheet.comparison.changed,
        changes_since_commit=list(worksheet.comparison.changes),
    )
    _fill_quota_and_snapshots(message, worksheet, currency)
    return message


def _fill_quota_and_snapshots(
    message: worksheets_pb2.RepWorksheet | worksheets_pb2.ManagerWorksheet,
    worksheet: RepWorksheet | ManagerWorksheet,
    currency: str,
) -> None:
    if worksheet.quota_minor is not None:
        message.quota.CopyFrom(money(worksheet.quota_minor, currency))
    if worksheet.draft is not None:
        message.draft.CopyFrom(snapshot_to_proto(worksheet.draft))
    if worksheet.last_commit is not None:
        message.last_commit.CopyFrom(snapshot_to_proto(worksheet.last_commit))


def accuracy_to_proto(accuracy: ForecastAccuracy, currency: str) -> worksheets_pb2.ForecastAccuracy:
    return worksheets_pb2.ForecastAccuracy(
        user_id=accuracy.user_id,
        period_id=accuracy.period_id,
        period_closed=accuracy.period_closed,
        rows=[_accuracy_row_to_proto(row, currency) for row in accuracy.rows],
        own=_accuracy_row_to_proto(accuracy.own, currency),
        team=_accuracy_row_to_proto(accuracy.team, currency),
        currency_code=currency,
    )


def _row_to_proto(row: SnapshotRow, currency: str) -> worksheets_pb2.SnapshotRow:
    return worksheets_pb2.SnapshotRow(
        key=row.key,
        label=row.label,
        likely=money(row.likely_minor, currency),
        best=money(row.best_minor, currency),
        worst=money(row.worst_minor, currency),
        commit_stage=commit_stage_to_proto(row.commit_stage),
        adjusted=row.adjusted,
    )


def _manager_row_to_proto(row: ManagerRow, currency: str) -> worksheets_pb2.ManagerRow:
    message = worksheets_pb2.ManagerRow(
        user_id=row.user_id,
        display_name=row.display_name,
        own=row.own,
        likely=money(row.likely_minor, currency),
        best=money(row.best_minor, currency),
        worst=money(row.worst_minor, currency),
        committed_after_adjustment=row.committed_after_adjustment,
        closed_won=money(row.closed_won_minor, currency),
    )
    if row.latest_commit is not None:
        message.latest_commit.CopyFrom(snapshot_to_proto(row.latest_commit))
    adjustment = row.adjustment
    if adjustment is not None:
        # Absent where not adjusted, so a client tells "adjusted to zero" from "not adjusted".
        for field, value in (
            ("adjusted_likely", adjustment.likely_minor),
            ("adjusted_best", adjustment.best_minor),
            ("adjusted_worst", adjustment.worst_minor),
        ):
            if value is not None:
                getattr(message, field).CopyFrom(money(value, currency))
    if row.quota_minor is not None:
        message.quota.CopyFrom(money(row.quota_minor, currency))
    return message


def _accuracy_row_to_proto(row: AccuracyRow, currency: str) -> worksheets_pb2.AccuracyRow:
    message = worksheets_pb2.AccuracyRow(
        user_id=row.user_id,
        display_name=row.display_name,
        actual_closed_won=money(row.actual_closed_won_minor, currency),
        difference=money(row.difference_minor, currency),
        accuracy_basis_points=row.accuracy_basis_points,
    )
    if row.commit is not None:
        figures = row.commit.figures
        message.committed_likely.CopyFrom(money(figures.likely_minor, currency))
        message.committed_best.CopyFrom(money(figures.best_minor, currency))
        message.committed_worst.CopyFrom(money(figures.worst_minor, currency))
    if row.quota_minor is not None:
        message.quota.CopyFrom(money(row.quota_minor, currency))
    return message
