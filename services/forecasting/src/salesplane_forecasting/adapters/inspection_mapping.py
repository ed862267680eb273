"""The pipeline inspection between its domain results and the InspectionService messages."""

from __future__ import annotations

from dataclasses import fields
from fractions import Fraction

from salesplane.forecasting.v1 import inspection_pb2
from salesplane_forecasting.domain.inspection.deal_flags import DealFlag
from salesplane_forecasting.domain.inspection.rep_flags import RepFlag
from salesplane_forecasting.domain.inspection.settings import InspectionSettings
from salesplane_forecasting.domain.inspection.thresholds import InspectionThresholds
from salesplane_forecasting.domain.inspection.wording import basis_points_of
from salesplane_forecasting.service_layer.inspection import (
    FlaggedDeal,
    InspectedRow,
    RepDeals,
    SinceRecorded,
    TeamInspection,
)
from salesplane_platform.proto_values import date_to_proto, money_message

_OPTIONAL = {"unlikely_max_stage_order"}


def settings_to_proto(settings: InspectionSettings) -> inspection_pb2.InspectionSettings:
    message = inspection_pb2.InspectionSettings(
        thresholds=thresholds_to_proto(settings.thresholds),
        version=settings.version,
        updated_by=settings.updated_by,
    )
    if settings.updated_at is not None:
        message.update_time.FromDatetime(settings.updated_at)
    return message


def thresholds_to_proto(thresholds: InspectionThresholds) -> inspection_pb2.InspectionThresholds:
    values = {spec.name: getattr(thresholds, spec.name) for spec in fields(thresholds)}
    return inspection_pb2.InspectionThresholds(**{k: v for k, v in values.items() if v is not None})


def thresholds_from_proto(message: inspection_pb2.InspectionThresholds) -> InspectionThresholds:
    """Every field as sent (0 included: validate says which are out of range); the optional stage
    order unset when absent."""
    values: dict[str, int | None] = {}
    for spec in fields(InspectionThresholds):
        if spec.name in _OPTIONAL and not message.HasField(spec.name):  # type: ignore[arg-type]
            values[spec.name] = None
        else:
            values[spec.name] = getattr(message, spec.name)
    return InspectionThresholds(**values)  # type: ignore[arg-type]


def team_to_proto(team: TeamInspection, currency: str) -> inspection_pb2.TeamInspection:
    message = inspection_pb2.TeamInspection(
        manager_user_id=team.manager_user_id,
        period_id=team.period.period_id,
        team=row_to_proto(team.team, currency),
        rows=[row_to_proto(row, currency) for row in team.rows],
    )
    message.inspect_time.FromDatetime(team.inspected_at)
    return message


def rep_to_proto(rep: RepDeals, currency: str) -> inspection_pb2.RepInspection:
    message = inspection_pb2.RepInspection(
        user_id=rep.user_id,
        period_id=rep.period.period_id,
        row=row_to_proto(rep.inspection, currency),
        deals=[_deal(deal, currency) for deal in rep.deals],
    )
    message.inspect_time.FromDatetime(rep.inspected_at)
    return message


def row_to_proto(row: InspectedRow, currency: str) -> inspection_pb2.InspectionRow:
    measured, figures = row.inspection, row.inspection.figures

    message = inspection_pb2.InspectionRow(
        user_id=row.user_id,
        display_name=row.display_name,
        team=row.as_team,
        closed_won=money_message(figures.closed_won_minor, currency),
        live_forecast=money_message(figures.live_forecast_minor, currency),
        pipeline=money_message(figures.pipeline_minor, currency),
        expected=money_message(figures.expected_minor, currency),
        coverage_needed_bp=basis_points_of(measured.coverage_needed),
        elapsed_bp=basis_points_of(measured.elapsed_share),
        pushed_out=money_message(figures.pushed_out_minor, currency),
        flags=[_rep_flag(flag, currency) for flag in measured.flags],
        money_at_risk=money_message(sum(f.money_at_risk_minor for f in measured.flags), currency),
    )
    if row.flagged_deal_count is not None:
        message.flagged_deal_count = row.flagged_deal_count
    if figures.quota_minor is not None:
        message.quota.CopyFrom(money_message(figures.quota_minor, currency))
    if figures.committed_minor is not None:
        message.committed.CopyFrom(money_message(figures.committed_minor, currency))
    if measured.coverage is not None:
        message.coverage_bp = basis_points_of(measured.coverage)
    if measured.pacing is not None:
        message.pacing_bp = basis_points_of(measured.pacing)
    if figures.p_quota is not None:
        message.p_quota_bp = basis_points_of(Fraction(figures.p_quota))
    if measured.gap_minor is not None:
        message.gap.CopyFrom(money_message(measured.gap_minor, currency))
    since = row.since_commit
    if since is not None:
        message.since_commit.closed_won.CopyFrom(money_message(since.closed_won_minor, currency))
        message.since_commit.live_forecast_vs_committed.CopyFrom(
            money_message(since.live_forecast_vs_committed_minor, currency)
        )
        if since.quota_minor is not None:
            message.since_commit.quota.CopyFrom(money_message(since.quota_minor, currency))
        message.since_commit.commit_time.FromDatetime(since.committed_at)
    if row.since_lookback is not None:
        message.since_lookback.CopyFrom(_since_recorded(row.since_lookback, currency))
    return message


def _since_recorded(since: SinceRecorded, currency: str) -> inspection_pb2.MovementSinceRecorded:
    moved = since.movement
    message = inspection_pb2.MovementSinceRecorded(
        closed_won=money_message(moved.closed_won_minor, currency),
        live_forecast=money_message(moved.live_forecast_minor, currency),
        pipeline=money_message(moved.pipeline_minor, currency),
        expected=money_message(moved.expected_minor, currency),
    )
    message.record_time.FromDatetime(since.recorded_at)
    if moved.quota_minor is not None:
        message.quota.CopyFrom(money_message(moved.quota_minor, currency))
    if moved.committed_minor is not None:
        message.committed.CopyFrom(money_message(moved.committed_minor, currency))
    if moved.p_quota_bp is not None:
        message.p_quota_bp = moved.p_quota_bp
    return message


def _rep_flag(flag: RepFlag, currency: str) -> inspection_pb2.RiskFlag:
    return inspection_pb2.RiskFlag(
        kind=flag.kind.value,
        reason=flag.reason,
        numbers=dict(flag.numbers),
        money_at_risk=money_message(flag.money_at_risk_minor, currency),
    )


def _deal(flagged: FlaggedDeal, currency: str) -> inspection_pb2.FlaggedDeal:
    deal = flagged.deal
    return inspection_pb2.FlaggedDeal(
        opportunity_id=deal.opportunity_id,
        name=deal.name,
        account_name=deal.account_name,
        sales_stage=deal.sales_stage,
        probability=deal.probability,
        close_date=date_to_proto(deal.close_date),
        amount=money_message(deal.likely_minor, currency),
        money_at_stake=money_message(flagged.money_at_stake_minor, currency),
        flags=[_deal_flag(flag) for flag in flagged.flags],
    )


def _deal_flag(flag: DealFlag) -> inspection_pb2.DealFlag:
    return inspection_pb2.DealFlag(kind=flag.kind.value, reason=flag.reason, numbers=dict(flag.numbers))
