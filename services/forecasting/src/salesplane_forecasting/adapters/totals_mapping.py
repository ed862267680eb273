"""Forecast totals between the domain and the protobuf contract."""

from __future__ import annotations

from salesplane.forecasting.v1 import forecasting_pb2
from salesplane_forecasting.domain.amounts import weighted_minor
from salesplane_forecasting.domain.contributions import Totals
from salesplane_platform.proto_values import money_message as money


def totals_to_proto(totals: Totals, currency: str) -> forecasting_pb2.ForecastTotals:
    return forecasting_pb2.ForecastTotals(
        closed_won=money(totals.won_minor, currency),
        included_likely=money(totals.included_likely_minor, currency),
        included_best=money(totals.included_best_minor, currency),
        included_worst=money(totals.included_worst_minor, currency),
        upside_likely=money(totals.upside_likely_minor, currency),
        upside_best=money(totals.upside_best_minor, currency),
        upside_worst=money(totals.upside_worst_minor, currency),
        pipeline=money(totals.pipeline_minor, currency),
        weighted_pipeline=money(weighted_minor(totals.weighted_percent_minor), currency),
        won_count=totals.won_count,
        open_count=totals.open_count,
        included_count=totals.included_count,
        upside_count=totals.upside_count,
        forecast_likely=money(totals.forecast_likely_minor, currency),
        forecast_best=money(totals.forecast_best_minor, currency),
        forecast_worst=money(totals.forecast_worst_minor, currency),
    )
