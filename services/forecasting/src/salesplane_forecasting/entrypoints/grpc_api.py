"""gRPC entry point of forecasting."""

from __future__ import annotations

import grpc
from sqlalchemy.orm import Session, sessionmaker

from salesplane.common.v1.common_pb2 import Money
from salesplane.forecasting.v1 import forecasting_pb2, forecasting_pb2_grpc
from salesplane_forecasting.service_layer import queries
from salesplane_platform.grpc_interceptor import current_caller
from salesplane_platform.money import round_half_up_div


class ForecastingServicer(forecasting_pb2_grpc.ForecastingServiceServicer):
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def GetRollup(
        self, request: forecasting_pb2.GetRollupRequest, context: grpc.ServicerContext
    ) -> forecasting_pb2.Rollup:
        rollup = queries.get_rollup(
            user_id=request.user_id,
            period_id=request.period_id,
            caller=current_caller(),
            sessions=self._sessions,
        )
        message = forecasting_pb2.Rollup(
            user_id=rollup.user_id,
            period_id=rollup.period_id,
            lines=[
                forecasting_pb2.RollupLine(
                    currency_code=line.currency,
                    opportunity_count=line.opportunity_count,
                    amount=Money(currency_code=line.currency, amount_minor=line.amount_minor),
                    weighted_amount=Money(
                        currency_code=line.currency,
                        amount_minor=round_half_up_div(line.weighted_percent_minor, 100),
                    ),
                )
                for line in rollup.lines
            ],
        )
        if rollup.updated_at is not None:
            message.update_time.FromDatetime(rollup.updated_at)
        return message
