"""Routes of ForecastingService: live pipeline rollups."""

from __future__ import annotations

from salesplane.forecasting.v1 import forecasting_pb2
from salesplane_gateway.routing import Route, Service

FORECASTING = Service(forecasting_pb2, "ForecastingService", upstream="forecasting")

FORECASTING_ROUTES = (
    Route(
        "GET",
        "/v1/rollups/{user_id}",
        FORECASTING.rpc("GetRollup"),
        "Pipeline totals of a user (and their team) for a period",
        query={"period": "period_id"},
        required_query=("period",),
    ),
)
