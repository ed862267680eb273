"""Routes of ForecastingService (rollups, the probabilistic forecast) and ForecastSettingsService (the
forecast settings and the fiscal calendar). Both are served by the forecasting service, as are
QuotaService, WorksheetService and InspectionService (routes_quotas, routes_worksheets,
routes_inspection): their routes name the "forecasting" upstream, so they reach its target
(SALESPLANE_FORECASTING_TARGET)."""

from __future__ import annotations

from salesplane.forecasting.v1 import forecasting_pb2, settings_pb2
from salesplane_gateway.routing import JsonBody, Route, Service

FORECASTING = Service(forecasting_pb2, "ForecastingService", upstream="forecasting")
SETTINGS = Service(settings_pb2, "ForecastSettingsService", upstream="forecasting")

FORECASTING_ROUTES = (
    Route(
        "GET",
        "/v1/rollups/{user_id}",
        FORECASTING.rpc("GetRollup"),
        "Pipeline and forecast totals of a user (and their team) for a period",
        query={"period": "period_id"},
        required_query=("period",),
    ),
    Route(
        "GET",
        "/v1/forecasts/{user_id}/distribution",
        FORECASTING.rpc("GetProbabilisticForecast"),
        "The probabilistic forecast of a user (or their team) for a period",
        query={"period": "period_id", "scope": "scope"},
        required_query=("period",),
    ),
    Route(
        "POST",
        "/v1/rollups:rebuild",
        FORECASTING.rpc("RebuildRollups"),
        "Recompute every rollup (admin)",
        body=JsonBody(),
    ),
)

SETTINGS_ROUTES = (
    Route(
        "GET",
        "/v1/forecast-settings",
        SETTINGS.rpc("GetForecastSettings"),
        "The forecast settings: fiscal year start and forecast ranges",
        etag="version",
    ),
    Route(
        "PUT",
        "/v1/forecast-settings",
        SETTINGS.rpc("UpdateForecastSettings"),
        "Replace the forecast settings (admin)",
        body=JsonBody("settings"),
        if_match="expected_version",
        etag="version",
    ),
    Route(
        "GET",
        "/v1/periods",
        SETTINGS.rpc("ListPeriods"),
        "The fiscal quarters and months of a fiscal year",
        query={"fiscal_year": "fiscal_year"},
    ),
    Route(
        "GET",
        "/v1/periods:of-date",
        SETTINGS.rpc("GetPeriodOfDate"),
        "The fiscal quarter and month a date falls in",
        query={"date": "date"},
        required_query=("date",),
    ),
)
