"""The inspection's rows as InspectionService messages: movement since the recorded figures."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from salesplane_forecasting.adapters.inspection_mapping import row_to_proto
from salesplane_forecasting.domain.inspection.rep_figures import RepFigures, movement
from salesplane_forecasting.domain.inspection.rep_flags import inspect_rep
from salesplane_forecasting.domain.inspection.thresholds import DEFAULT_THRESHOLDS
from salesplane_forecasting.service_layer.inspection import InspectedRow, SinceRecorded

NOW = datetime(2026, 11, 16, tzinfo=UTC)
WEEK_AGO = datetime(2026, 11, 9, 6, 30, tzinfo=UTC)
CURRENT = RepFigures(
    user_id="ann",
    currency="EUR",
    quota_minor=100_000_00,
    closed_won_minor=50_000_00,
    committed_minor=None,
    live_forecast_minor=90_000_00,
    pipeline_minor=200_000_00,
    expected_minor=95_000_00,
    p_quota=0.6,
)


def row(since: SinceRecorded | None) -> InspectedRow:
    inspection = inspect_rep(
        CURRENT,
        period_start=datetime(2026, 10, 1, tzinfo=UTC),
        period_end=datetime(2027, 1, 1, tzinfo=UTC),
        now=NOW,
        thresholds=DEFAULT_THRESHOLDS,
    )
    return InspectedRow("ann", "Ann", False, inspection, None, 0, since)


def test_movement_since_the_recorded_figures_is_served_with_the_records_time():
    earlier = replace(
        CURRENT, quota_minor=None, closed_won_minor=40_000_00, pipeline_minor=210_000_00, p_quota=0.45
    )
    message = row_to_proto(row(SinceRecorded(WEEK_AGO, movement(earlier, CURRENT))), "EUR").since_lookback

    assert message.record_time.ToDatetime(UTC) == WEEK_AGO
    assert (message.closed_won.amount_minor, message.pipeline.amount_minor) == (10_000_00, -10_000_00)
    assert message.closed_won.currency_code == "EUR"
    assert message.p_quota_bp == 1_500
    # No quota a week ago and nothing committed either time: unset, not zero.
    assert not message.HasField("quota") and not message.HasField("committed")


def test_without_a_record_the_movement_is_unset():
    assert not row_to_proto(row(None), "EUR").HasField("since_lookback")
