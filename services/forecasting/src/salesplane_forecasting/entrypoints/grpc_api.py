"""gRPC entry point of forecasting's rollups and probabilistic forecast."""

from __future__ import annotations

import grpc
from sqlalchemy.orm import Session, sessionmaker

from salesplane.forecasting.v1 import forecasting_pb2, forecasting_pb2_grpc
from salesplane_forecasting.adapters.totals_mapping import attainment_basis_points, totals_to_proto
from salesplane_forecasting.service_layer import queries
from salesplane_platform.errors import FieldViolation, InvalidArgument
from salesplane_platform.grpc_interceptor import current_caller
from salesplane_platform.money import round_half_up_div
from salesplane_platform.proto_values import money_message as money

_SCOPES = {
    forecasting_pb2.FORECAST_SCOPE_UNSPECIFIED: None,
    forecasting_pb2.FORECAST_SCOPE_OWN: queries.SCOPE_OWN,
    forecasting_pb2.FORECAST_SCOPE_TEAM: queries.SCOPE_TEAM,
}
_SCOPE_TO_PROTO = {name: value for value, name in _SCOPES.items() if name}
_METHODS = {
    "exact": forecasting_pb2.DISTRIBUTION_METHOD_EXACT,
    "discretized": forecasting_pb2.DISTRIBUTION_METHOD_DISCRETIZED,
}


class ForecastingServicer(forecasting_pb2_grpc.ForecastingServiceServicer):
    def __init__(self, sessions: sessionmaker[Session], base_currency: str) -> None:
        self._sessions = sessions
        self._currency = base_currency

    def GetRollup(
        self, request: forecasting_pb2.GetRollupRequest, context: grpc.ServicerContext
    ) -> forecasting_pb2.Rollup:
        rollup = queries.get_rollup(
            user_id=request.user_id,
            period_id=request.period_id,
            caller=current_caller(),
            sessions=self._sessions,
        )
        currency = self._currency
        message = forecasting_pb2.Rollup(
            user_id=rollup.user_id,
            period_id=rollup.period_id,
            lines=[
                forecasting_pb2.RollupLine(
                    currency_code=line.currency,
                    opportunity_count=line.opportunity_count,
                    amount=money(line.amount_minor, line.currency),
                    weighted_amount=money(round_half_up_div(line.weighted_percent_minor, 100), line.currency),
                )
                for line in rollup.currency_lines
            ],
            currency_code=currency,
            own=totals_to_proto(rollup.own, currency),
            team=totals_to_proto(rollup.team, currency),
            attainment_basis_points=attainment_basis_points(rollup.attained_minor, rollup.quota_minor),
            has_reports=rollup.has_reports,
        )
        if rollup.quota_minor is not None:
            message.quota.CopyFrom(money(rollup.quota_minor, currency))
        if rollup.updated_at is not None:
            message.update_time.FromDatetime(rollup.updated_at)
        return message

    def GetProbabilisticForecast(
        self, request: forecasting_pb2.GetProbabilisticForecastRequest, context: grpc.ServicerContext
    ) -> forecasting_pb2.ProbabilisticForecast:
        if request.scope not in _SCOPES:
            raise InvalidArgument(
                FieldViolation("scope", "must be FORECAST_SCOPE_OWN or FORECAST_SCOPE_TEAM")
            )
        forecast = queries.get_probabilistic_forecast(
            user_id=request.user_id,
            period_id=request.period_id,
            scope=_SCOPES[request.scope],
            caller=current_caller(),
            sessions=self._sessions,
        )
        result = forecast.distribution
        currency = self._currency
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

    def RebuildRollups(
        self, request: forecasting_pb2.RebuildRollupsRequest, context: grpc.ServicerContext
    ) -> forecasting_pb2.RebuildRollupsResponse:
        rows = queries.rebuild_rollups(caller=current_caller(), sessions=self._sessions)
        return forecasting_pb2.RebuildRollupsResponse(rollup_rows=rows)
