"""Inspection thresholds: documented defaults, every range at its bounds, all violations at once."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from salesplane_forecasting.domain.inspection import thresholds
from salesplane_forecasting.domain.inspection.thresholds import (
    DEFAULT_THRESHOLDS,
    RANGES,
    InspectionThresholds,
)
from salesplane_platform.errors import InvalidArgument

NAMES = [spec.name for spec in fields(InspectionThresholds)]


def violations(value: InspectionThresholds) -> dict[str, list[str]]:
    with pytest.raises(InvalidArgument) as raised:
        thresholds.validate(value)
    found: dict[str, list[str]] = {}
    for violation in raised.value.violations:
        found.setdefault(violation.field, []).append(violation.description)
    return found


def test_the_defaults_are_the_documented_ones_and_valid():
    thresholds.validate(DEFAULT_THRESHOLDS)
    assert DEFAULT_THRESHOLDS.low_p_quota_bp == 5_000
    assert DEFAULT_THRESHOLDS.stalled_percentile == 75
    assert DEFAULT_THRESHOLDS.trailing_periods == 4
    assert DEFAULT_THRESHOLDS.default_coverage_needed_bp == 30_000
    assert DEFAULT_THRESHOLDS.no_change_days == 14
    assert DEFAULT_THRESHOLDS.slipping_lookback_days == 28
    assert DEFAULT_THRESHOLDS.movement_lookback_days == 7
    assert DEFAULT_THRESHOLDS.unlikely_max_stage_order is None


def test_every_field_has_a_range():
    assert set(RANGES) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_each_threshold_accepts_its_bounds_and_rejects_one_beyond(name):
    low, high = RANGES[name]
    for accepted in (low, high):
        value = replace(DEFAULT_THRESHOLDS, **{name: accepted})
        # Raising a lower bound past its partner is a different rule, tested below.
        partner_ok = not (
            (name == "default_coverage_needed_bp" and accepted > DEFAULT_THRESHOLDS.max_coverage_needed_bp)
            or (name == "max_coverage_needed_bp" and accepted < DEFAULT_THRESHOLDS.default_coverage_needed_bp)
            or (name == "bias_min_periods" and accepted > DEFAULT_THRESHOLDS.trailing_periods)
            or (name == "trailing_periods" and accepted < DEFAULT_THRESHOLDS.bias_min_periods)
        )
        if partner_ok:
            thresholds.validate(value)
    for rejected in (low - 1, high + 1):
        found = violations(replace(DEFAULT_THRESHOLDS, **{name: rejected}))
        assert f"must be a whole number {low}..{high}" in found[f"thresholds.{name}"][0]


def test_every_out_of_range_value_is_reported_at_once():
    everything_wrong = InspectionThresholds(**{name: RANGES[name][1] + 1 for name in NAMES})
    assert set(violations(everything_wrong)) == {f"thresholds.{name}" for name in NAMES}


@pytest.mark.parametrize("bad", [True, 0.5, "14", None])
def test_a_threshold_must_be_a_whole_number(bad):
    found = violations(replace(DEFAULT_THRESHOLDS, no_change_days=bad))
    assert list(found) == ["thresholds.no_change_days"]


def test_only_the_early_stage_order_may_be_unset():
    thresholds.validate(replace(DEFAULT_THRESHOLDS, unlikely_max_stage_order=None))
    thresholds.validate(replace(DEFAULT_THRESHOLDS, unlikely_max_stage_order=2))
    assert (
        "or unset"
        in violations(replace(DEFAULT_THRESHOLDS, unlikely_max_stage_order=-1))[
            "thresholds.unlikely_max_stage_order"
        ][0]
    )


def test_the_default_coverage_needed_may_not_exceed_its_cap():
    found = violations(
        replace(DEFAULT_THRESHOLDS, default_coverage_needed_bp=50_000, max_coverage_needed_bp=40_000)
    )
    assert found == {
        "thresholds.default_coverage_needed_bp": ["must be at most max_coverage_needed_bp (40000)"]
    }
    thresholds.validate(
        replace(DEFAULT_THRESHOLDS, default_coverage_needed_bp=40_000, max_coverage_needed_bp=40_000)
    )


def test_bias_needs_no_more_periods_than_the_window_holds():
    found = violations(replace(DEFAULT_THRESHOLDS, bias_min_periods=5, trailing_periods=4))
    assert list(found) == ["thresholds.bias_min_periods"]


def test_field_paths_follow_the_given_prefix():
    with pytest.raises(InvalidArgument) as raised:
        thresholds.validate(replace(DEFAULT_THRESHOLDS, stalled_percentile=0), prefix="settings.inspection")
    assert [v.field for v in raised.value.violations] == ["settings.inspection.stalled_percentile"]
