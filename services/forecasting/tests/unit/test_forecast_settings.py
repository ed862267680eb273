"""Forecast settings: ranges covering 0..100 once, scheme rules, versions only on real changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesplane_forecasting.domain import forecast_settings
from salesplane_forecasting.domain.forecast_settings import (
    DEFAULT_SETTINGS,
    CommitStage,
    ForecastRange,
    ForecastSettings,
    RangeScheme,
    three_buckets,
    two_buckets,
)
from salesplane_forecasting.domain.periods import FiscalCalendar
from salesplane_platform.errors import InvalidArgument

NOW = datetime(2026, 11, 26, tzinfo=UTC)
INCLUDE, UPSIDE, EXCLUDE = CommitStage.INCLUDE, CommitStage.UPSIDE, CommitStage.EXCLUDE


def custom(*ranges: ForecastRange, **overrides: object) -> ForecastSettings:
    return replace(DEFAULT_SETTINGS, scheme=RangeScheme.CUSTOM, ranges=ranges, **overrides)  # type: ignore[arg-type]


def violations(settings: ForecastSettings) -> dict[str, list[str]]:
    with pytest.raises(InvalidArgument) as raised:
        forecast_settings.validate(settings)
    found: dict[str, list[str]] = {}
    for violation in raised.value.violations:
        found.setdefault(violation.field, []).append(violation.description)
    return found


def test_the_defaults_are_three_buckets_over_a_january_year_showing_every_amount():
    assert DEFAULT_SETTINGS.scheme is RangeScheme.THREE_BUCKETS
    assert DEFAULT_SETTINGS.ranges == (
        ForecastRange("Include", 70, 100, INCLUDE),
        ForecastRange("Upside", 40, 69, UPSIDE),
        ForecastRange("Exclude", 0, 39, EXCLUDE),
    )
    assert DEFAULT_SETTINGS.fiscal_year_start_month == 1
    assert DEFAULT_SETTINGS.calendar == FiscalCalendar(1)
    assert DEFAULT_SETTINGS.show_likely and DEFAULT_SETTINGS.show_best and DEFAULT_SETTINGS.show_worst
    assert DEFAULT_SETTINGS.version == 0 and DEFAULT_SETTINGS.updated_at is None
    forecast_settings.validate(DEFAULT_SETTINGS)


@pytest.mark.parametrize(
    ("probability", "stage"),
    [(100, INCLUDE), (70, INCLUDE), (69, UPSIDE), (40, UPSIDE), (39, EXCLUDE), (0, EXCLUDE)],
)
def test_an_open_deals_stage_is_that_of_the_range_containing_its_probability(probability, stage):
    assert DEFAULT_SETTINGS.commit_stage_for(probability) is stage


@pytest.mark.parametrize("probability", [-1, 101])
def test_a_probability_outside_0_to_100_has_no_stage(probability):
    with pytest.raises(InvalidArgument, match="probability"):
        DEFAULT_SETTINGS.commit_stage_for(probability)


def test_two_buckets_split_at_the_include_threshold():
    assert two_buckets(60) == (
        ForecastRange("Include", 60, 100, INCLUDE),
        ForecastRange("Exclude", 0, 59, EXCLUDE),
    )
    forecast_settings.validate(
        replace(DEFAULT_SETTINGS, scheme=RangeScheme.TWO_BUCKETS, ranges=two_buckets(1))
    )
    forecast_settings.validate(
        replace(DEFAULT_SETTINGS, scheme=RangeScheme.TWO_BUCKETS, ranges=two_buckets(100))
    )


@pytest.mark.parametrize(("include_from", "upside_from"), [(100, 1), (2, 1), (50, 10)])
def test_three_buckets_built_from_thresholds_are_valid(include_from, upside_from):
    ranges = three_buckets(include_from, upside_from)
    forecast_settings.validate(replace(DEFAULT_SETTINGS, ranges=ranges))
    assert [r.commit_stage for r in ranges] == [INCLUDE, UPSIDE, EXCLUDE]


@pytest.mark.parametrize(("include_from", "upside_from"), [(0, 0), (101, 50), (50, 50), (50, 0), (1, 1)])
def test_thresholds_leaving_a_bucket_empty_are_rejected(include_from, upside_from):
    with pytest.raises(InvalidArgument):
        three_buckets(include_from, upside_from)


@pytest.mark.parametrize("include_from", [0, 101])
def test_a_two_bucket_threshold_leaving_a_bucket_empty_is_rejected(include_from):
    with pytest.raises(InvalidArgument, match="include_from"):
        two_buckets(include_from)


def test_a_gap_names_the_uncovered_probabilities():
    settings = custom(ForecastRange("High", 50, 100, INCLUDE), ForecastRange("Low", 0, 39, EXCLUDE))
    assert violations(settings) == {
        "settings.ranges": ["every probability 0..100 must be in a range; not covered: 40-49"]
    }


def test_an_overlap_names_the_doubly_covered_probabilities():
    settings = custom(
        ForecastRange("High", 50, 100, INCLUDE),
        ForecastRange("Low", 0, 50, EXCLUDE),
        ForecastRange("Odd", 70, 72, UPSIDE),
    )
    assert violations(settings) == {
        "settings.ranges": ["every probability must be in only one range; in more than one: 50, 70-72"]
    }


def test_every_violation_is_reported_at_once_with_its_field_path():
    settings = ForecastSettings(
        fiscal_year_start_month=13,
        scheme=RangeScheme.CUSTOM,
        ranges=(
            ForecastRange("", 0, 50, INCLUDE),
            ForecastRange("x" * 41, 60, 55, EXCLUDE),
            ForecastRange("Bad\nname", -1, 101, UPSIDE),
        ),
        show_likely=False,
        show_best=False,
        show_worst=False,
    )
    assert set(violations(settings)) == {
        "settings.fiscal_year_start_month",
        "settings.show_likely",
        "settings.ranges[0].name",
        "settings.ranges[1].name",
        "settings.ranges[1].max_probability",
        "settings.ranges[2].name",
        "settings.ranges[2].min_probability",
        "settings.ranges[2].max_probability",
        "settings.ranges",
    }


def test_custom_range_names_are_unique_ignoring_case():
    settings = custom(ForecastRange("Commit", 50, 100, INCLUDE), ForecastRange(" commit ", 0, 49, EXCLUDE))
    assert list(violations(settings)) == ["settings.ranges[1].name"]


def test_a_custom_scheme_may_use_any_stages_in_any_order():
    forecast_settings.validate(
        custom(
            ForecastRange("Long shot", 0, 9, UPSIDE),
            ForecastRange("Pipeline", 10, 49, EXCLUDE),
            ForecastRange("Best case", 50, 89, UPSIDE),
            ForecastRange("Commit", 90, 100, INCLUDE),
        )
    )
    forecast_settings.validate(custom(ForecastRange("Everything", 0, 100, INCLUDE)))


def test_a_custom_scheme_has_one_to_ten_ranges():
    assert "settings.ranges" in violations(custom())
    tens = [ForecastRange(f"R{i}", i * 10, i * 10 + 9, INCLUDE) for i in range(10)]
    eleven = (*tens, ForecastRange("Top", 100, 100, INCLUDE))
    assert violations(custom(*eleven)) == {"settings.ranges": ["a custom scheme has 1..10 ranges, got 11"]}
    forecast_settings.validate(custom(*eleven[:9], ForecastRange("Top", 90, 100, INCLUDE)))


def test_two_buckets_need_include_on_top_and_exclude_at_the_bottom():
    upside_down = replace(
        DEFAULT_SETTINGS,
        scheme=RangeScheme.TWO_BUCKETS,
        ranges=(ForecastRange("Include", 0, 49, INCLUDE), ForecastRange("Exclude", 50, 100, EXCLUDE)),
    )
    assert violations(upside_down) == {
        "settings.ranges[0].max_probability": ["the include range must reach 100"],
        "settings.ranges[1].min_probability": ["the exclude range must start at 0"],
    }


@pytest.mark.parametrize(
    "ranges",
    [
        (ForecastRange("Include", 50, 100, INCLUDE), ForecastRange("Other", 0, 49, UPSIDE)),
        (ForecastRange("Include", 50, 100, INCLUDE), ForecastRange("Again", 0, 49, INCLUDE)),
        three_buckets(70, 40),
        two_buckets(50)[:1],
    ],
)
def test_two_buckets_are_exactly_one_include_and_one_exclude_range(ranges):
    settings = replace(DEFAULT_SETTINGS, scheme=RangeScheme.TWO_BUCKETS, ranges=ranges)
    assert "settings.ranges" in violations(settings)


def test_three_buckets_are_exactly_include_upside_and_exclude_with_upside_in_the_middle():
    upside_on_top = (
        ForecastRange("Include", 40, 69, INCLUDE),
        ForecastRange("Upside", 70, 100, UPSIDE),
        ForecastRange("Exclude", 0, 39, EXCLUDE),
    )
    assert violations(replace(DEFAULT_SETTINGS, ranges=upside_on_top)) == {
        "settings.ranges[0].max_probability": ["the include range must reach 100"]
    }
    assert "settings.ranges" in violations(replace(DEFAULT_SETTINGS, ranges=two_buckets(50)))


def test_an_unknown_scheme_or_stage_is_rejected():
    settings = replace(
        DEFAULT_SETTINGS,
        scheme="weird",  # type: ignore[arg-type]
        ranges=(ForecastRange("All", 0, 100, "maybe"),),  # type: ignore[arg-type]
    )
    assert set(violations(settings)) == {"settings.range_scheme", "settings.ranges[0].commit_stage"}


def test_one_shown_amount_is_enough():
    forecast_settings.validate(replace(DEFAULT_SETTINGS, show_likely=False, show_best=False))


def test_applying_the_same_values_changes_nothing():
    assert forecast_settings.apply(DEFAULT_SETTINGS, DEFAULT_SETTINGS, NOW) is None


def test_applying_a_change_bumps_the_version_and_stamps_the_time():
    saved = forecast_settings.apply(DEFAULT_SETTINGS, replace(DEFAULT_SETTINGS, show_worst=False), NOW)
    assert saved is not None
    assert saved.version == 1 and saved.updated_at == NOW and not saved.show_worst
    later = datetime(2026, 12, 1, tzinfo=UTC)
    again = forecast_settings.apply(saved, replace(saved, fiscal_year_start_month=2), later)
    assert again is not None and again.version == 2 and again.updated_at == later


def test_the_same_ranges_in_another_order_or_with_padded_names_are_no_change():
    include, upside, exclude = DEFAULT_SETTINGS.ranges
    shuffled = replace(
        DEFAULT_SETTINGS,
        ranges=(exclude, replace(include, name="  Include "), upside),
        version=7,
        updated_at=NOW,
    )
    assert forecast_settings.apply(DEFAULT_SETTINGS, shuffled, NOW) is None


def test_applied_ranges_are_ordered_from_the_highest_probabilities_down():
    include, upside, exclude = DEFAULT_SETTINGS.ranges
    saved = forecast_settings.apply(
        DEFAULT_SETTINGS, replace(DEFAULT_SETTINGS, ranges=(exclude, upside, include), show_best=False), NOW
    )
    assert saved is not None and saved.ranges == DEFAULT_SETTINGS.ranges


def test_only_the_fiscal_start_and_the_stages_of_probabilities_affect_contributions():
    renamed = replace(
        DEFAULT_SETTINGS,
        scheme=RangeScheme.CUSTOM,
        ranges=(
            ForecastRange("Commit", 70, 100, INCLUDE),
            ForecastRange("Best case", 55, 69, UPSIDE),
            ForecastRange("Maybe", 40, 54, UPSIDE),
            ForecastRange("Pipeline", 0, 39, EXCLUDE),
        ),
        show_best=False,
        version=3,
    )
    assert not DEFAULT_SETTINGS.affects_contributions(renamed)
    assert DEFAULT_SETTINGS.affects_contributions(replace(DEFAULT_SETTINGS, fiscal_year_start_month=4))
    assert DEFAULT_SETTINGS.affects_contributions(replace(DEFAULT_SETTINGS, ranges=three_buckets(71, 40)))
    assert DEFAULT_SETTINGS.affects_contributions(
        replace(DEFAULT_SETTINGS, scheme=RangeScheme.TWO_BUCKETS, ranges=two_buckets(70))
    )


@given(st.integers(2, 100).flatmap(lambda top: st.tuples(st.just(top), st.integers(1, top - 1))))
def test_three_buckets_give_each_probability_the_stage_of_its_threshold(thresholds):
    include_from, upside_from = thresholds
    settings = replace(DEFAULT_SETTINGS, ranges=three_buckets(include_from, upside_from))
    forecast_settings.validate(settings)
    for probability in range(101):
        expected = (
            INCLUDE if probability >= include_from else UPSIDE if probability >= upside_from else EXCLUDE
        )
        assert settings.commit_stage_for(probability) is expected
