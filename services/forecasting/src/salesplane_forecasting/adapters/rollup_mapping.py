"""Live rollups and the probabilistic forecast between the domain and the protobuf contract."""

from __future__ import annotations

from salesplane.forecasting.v1 import forecasting_pb2
from salesplane_forecasting.adapters.totals_mapping import totals_to_proto
from salesplane_forecasting.domain.amounts import weighted_minor
from salesplane_forecasting.domain.rollups import CurrencyLine, ForecastScope, ProbabilisticForecast, Rollup
from salesplane_platform.errors import FieldViolation, InvalidArgument
from salesplane_platform.proto_values import money_message as money

_SCOPE_TO_PROTO = {
    ForecastScope.OWN: forecasting_pb2.FORECAST_SCOPE_OWN,
    ForecastScope.TEAM: forecasting_pb2.FORECAST_SCOPE_TEAM,
}
_SCOPE_FROM_PROTO = {value: scope for scope, value in _SCOPE_TO_PROTO.items()}
_METHODS = {
    "exact": forecasting_pb2.DISTRIBUTION_METHOD_EXACT,
    "discretized": forecasting_pb2.DISTRIBUTION_METHOD_DISCRETIZED,
}


def scope_from_proto(value: forecasting_pb2.ForecastScope.ValueType) -> ForecastScope | None:
    """FORECAST_SCOPE_UNSPECIFIED is None (the use case picks by the user's reports); a number the
    contract does not define is InvalidArgument on scope (proto3 enums are open)."""
    if value == forecasting_pb2.FORECAST_SCOPE_UNSPECIFIED:
        return None
    scope = _SCOPE_FROM_PROTO.get(value)
    if scope is None:
        raise InvalidArgument(FieldViolation("scope", "must be FORECAST_SCOPE_OWN or FORECAST_SCOPE_TEAM"))
    return scope


def rollup_to_proto(rollup: Rollup, currency: str) -> forecasting_pb2.Rollup:
    message = forecasting_pb2.Rollup(
        user_id=rollup.user_id,
        period_id=rollup.period_id,
        lines=[_line_to_proto(line) for line in rollup.currency_lines],
        currency_code=currency,
        own=totals_to_proto(rollup.own, currency),
        team=totals_to_proto(rollup.team, currency),
        attainment_basis_points=rollup.attainment_basis_points,
        has_reports=rollup.has_reports,
    )
    if rollup.quota_minor is not None:
        message.quota.CopyFrom(money(rollup.quota_minor, currency))
    if rollup.updated_at is not None:
        message.update_time.FromDatetime(rollup.updated_at)
    return message


def probabilistic_forecast_to_proto(
    forecast: ProbabilisticForecast, currency: str
) -> forecasting_pb2.ProbabilisticForecast:
    result = forecast.distribution
    message = forecasting_pb2.ProbabilisticForecast(
        user_id=forecast.user_id,
        period_id=forecast.period_id,
        scope=_SCOPE_TO_PROTO[forecast.scope],
        closed_won=money(result.closed_won_minor, currency),
        expected=money(result.expected_minor, currency),
        p10=money(result.p10_minor, currency),
        p50=money(result.p50_minor, currency),
        p90=money(result.p90_minor, currency),
        probability_of_reaching_quota=result.probability_of_reaching_quota or 0.0,
        open_deal_count=result.open_deal_count,
        method=_METHODS[result.method],
        max_error=money(result.max_error_minor, currency),
    )
    if forecast.quota_minor is not None:
        message.quota.CopyFrom(money(forecast.quota_minor, currency))
    return message


def _line_to_proto(line: CurrencyLine) -> forecasting_pb2.RollupLine:
    return forecasting_pb2.RollupLine(
        currency_code=line.currency,
        opportunity_count=line.opportunity_count,
        amount=money(line.amount_minor, line.currency),
        weighted_amount=money(weighted_minor(line.weighted_percent_minor), line.currency),
    )
