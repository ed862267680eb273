"""Forecast settings: the fiscal calendar and the forecast ranges that give open deals a commit stage.

The ranges classify OPEN deals only, by their probability: a won deal always counts as closed and a
lost one never counts, whatever the ranges say. The ranges cover every probability 0..100 exactly
once. Two schemes fix the stages (include / exclude, include / upside / exclude, include always on
top and exclude at the bottom); a custom scheme has up to ten named ranges of any stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from salesplane_forecasting.domain.periods import FiscalCalendar
from salesplane_platform.errors import FieldViolation, InvalidArgument, Validator
from salesplane_platform.text_rules import check_text

MIN_PROBABILITY = 0
MAX_PROBABILITY = 100
MAX_RANGE_NAME = 40
MAX_CUSTOM_RANGES = 10


class CommitStage(StrEnum):
    INCLUDE = "include"
    UPSIDE = "upside"
    EXCLUDE = "exclude"


class RangeScheme(StrEnum):
    TWO_BUCKETS = "two_buckets"
    THREE_BUCKETS = "three_buckets"
    CUSTOM = "custom"


@dataclass(frozen=True)
class ForecastRange:
    name: str
    # Both bounds inclusive, 0..100.
    min_probability: int
    max_probability: int
    commit_stage: CommitStage

    def contains(self, probability: int) -> bool:
        return self.min_probability <= probability <= self.max_probability


@dataclass(frozen=True)
class ForecastSettings:
    fiscal_year_start_month: int
    scheme: RangeScheme
    ranges: tuple[ForecastRange, ...]
    show_likely: bool
    show_best: bool
    show_worst: bool
    # 0: never saved, i.e. the defaults.
    version: int = 0
    updated_at: datetime | None = None
    # Raised by apply(), taken by the unit of work on commit; no part of the settings' value.
    events: list[ForecastSettingsChanged] = field(default_factory=list, compare=False, repr=False)

    @property
    def calendar(self) -> FiscalCalendar:
        return FiscalCalendar(self.fiscal_year_start_month)

    def commit_stage_for(self, probability: int) -> CommitStage:
        """The stage of an OPEN deal with this probability (won and lost deals do not use ranges)."""
        stage = self._stage_or_none(probability)
        if stage is None:
            raise InvalidArgument(
                FieldViolation("probability", f"no forecast range covers probability {probability}")
            )
        return stage

    def affects_contributions(self, other: ForecastSettings) -> bool:
        """Whether switching between self and other moves any deal to another period or stage."""
        return self.fiscal_year_start_month != other.fiscal_year_start_month or any(
            self._stage_or_none(p) != other._stage_or_none(p)
            for p in range(MIN_PROBABILITY, MAX_PROBABILITY + 1)
        )

    def _stage_or_none(self, probability: int) -> CommitStage | None:
        if not MIN_PROBABILITY <= probability <= MAX_PROBABILITY:
            return None
        return next((r.commit_stage for r in self.ranges if r.contains(probability)), None)


def two_buckets(include_from: int) -> tuple[ForecastRange, ...]:
    """Include include_from..100 and Exclude 0..include_from-1."""
    if not MIN_PROBABILITY < include_from <= MAX_PROBABILITY:
        raise InvalidArgument(FieldViolation("include_from", "must be 1..100 so both ranges are non-empty"))
    return (
        ForecastRange("Include", include_from, MAX_PROBABILITY, CommitStage.INCLUDE),
        ForecastRange("Exclude", MIN_PROBABILITY, include_from - 1, CommitStage.EXCLUDE),
    )


def three_buckets(include_from: int, upside_from: int) -> tuple[ForecastRange, ...]:
    """Include include_from..100, Upside upside_from..include_from-1, Exclude 0..upside_from-1."""
    check = Validator()
    if check.require(
        MIN_PROBABILITY + 1 < include_from <= MAX_PROBABILITY,
        "include_from",
        "must be 2..100 so all three ranges are non-empty",
    ):
        check.require(
            MIN_PROBABILITY < upside_from < include_from,
            "upside_from",
            f"must be 1..{include_from - 1} so all three ranges are non-empty",
        )
    check.raise_if_invalid()
    return (
        ForecastRange("Include", include_from, MAX_PROBABILITY, CommitStage.INCLUDE),
        ForecastRange("Upside", upside_from, include_from - 1, CommitStage.UPSIDE),
        ForecastRange("Exclude", MIN_PROBABILITY, upside_from - 1, CommitStage.EXCLUDE),
    )


DEFAULT_SETTINGS = ForecastSettings(
    fiscal_year_start_month=1,
    scheme=RangeScheme.THREE_BUCKETS,
    ranges=three_buckets(70, 40),
    show_likely=True,
    show_best=True,
    show_worst=True,
)

# The stages each fixed scheme has, from the top range (containing 100) to the bottom one (containing 0).
_FIXED_STAGES = {
    RangeScheme.TWO_BUCKETS: (CommitStage.INCLUDE, CommitStage.EXCLUDE),
    RangeScheme.THREE_BUCKETS: (CommitStage.INCLUDE, CommitStage.UPSIDE, CommitStage.EXCLUDE),
}


def validate(settings: ForecastSettings) -> None:
    """Raise InvalidArgument listing every violation, with request field paths ("settings.ranges[1]...")."""
    check = Validator()
    month = settings.fiscal_year_start_month
    check.require(
        not isinstance(month, bool) and isinstance(month, int) and 1 <= month <= 12,
        "settings.fiscal_year_start_month",
        "must be a month 1..12",
    )
    check.require(
        settings.show_likely or settings.show_best or settings.show_worst,
        "settings.show_likely",
        "at least one of show_likely, show_best and show_worst must be set",
    )
    scheme_known = check.require(
        isinstance(settings.scheme, RangeScheme),
        "settings.range_scheme",
        f"must be one of {[s.value for s in RangeScheme]}",
    )
    well_formed = [_check_range(check, index, r) for index, r in enumerate(settings.ranges)]
    _check_names(check, settings.ranges)
    _check_coverage(check, [r for r, ok in zip(settings.ranges, well_formed, strict=True) if ok])
    if scheme_known:
        _check_scheme(check, settings.scheme, settings.ranges)
    check.raise_if_invalid()


def apply(
    existing: ForecastSettings, new_values: ForecastSettings, now: datetime, *, currency_code: str = ""
) -> ForecastSettings | None:
    """The settings after the change (new_values having passed validate), or None when nothing changed.
    currency_code only fills the event's currency (the base currency; the settings hold none).

    Range names are trimmed and the ranges ordered from the highest probabilities down, so the same
    ranges listed in another order are no change.
    """
    changed = replace(
        new_values,
        ranges=tuple(
            sorted(
                (replace(r, name=r.name.strip()) for r in new_values.ranges),
                key=lambda r: (r.max_probability, r.min_probability),
                reverse=True,
            )
        ),
        version=existing.version,
        updated_at=existing.updated_at,
    )
    if changed == existing:
        return None
    new = replace(changed, version=existing.version + 1, updated_at=now, events=[])
    new.events.append(ForecastSettingsChanged(replace(new, events=[]), currency_code))
    return new


@dataclass(frozen=True)
class ForecastSettingsChanged:
    settings: ForecastSettings
    # The base currency the event names (the settings themselves have no currency).
    currency_code: str


def _check_range(check: Validator, index: int, forecast_range: ForecastRange) -> bool:
    """Check one range's own fields; return whether its bounds are usable for the coverage check."""
    field = f"settings.ranges[{index}]"
    check_text(check, f"{field}.name", forecast_range.name.strip(), MAX_RANGE_NAME, required=True)
    check.require(
        isinstance(forecast_range.commit_stage, CommitStage),
        f"{field}.commit_stage",
        f"must be one of {[s.value for s in CommitStage]}",
    )
    low, high = forecast_range.min_probability, forecast_range.max_probability
    low_ok = check.require(
        MIN_PROBABILITY <= low <= MAX_PROBABILITY, f"{field}.min_probability", "must be 0..100"
    )
    high_ok = check.require(
        MIN_PROBABILITY <= high <= MAX_PROBABILITY, f"{field}.max_probability", "must be 0..100"
    )
    ordered = not (low_ok and high_ok) or check.require(
        low <= high, f"{field}.max_probability", f"must be at least min_probability ({low})"
    )
    return low_ok and high_ok and ordered


def _check_names(check: Validator, ranges: tuple[ForecastRange, ...]) -> None:
    first_index: dict[str, int] = {}
    for index, forecast_range in enumerate(ranges):
        key = forecast_range.name.strip().casefold()
        if not key:
            continue
        if key in first_index:
            check.fail(
                f"settings.ranges[{index}].name",
                f"{forecast_range.name.strip()!r} is already the name of ranges[{first_index[key]}]"
                " (names are compared ignoring case)",
            )
        else:
            first_index[key] = index


def _check_coverage(check: Validator, ranges: list[ForecastRange]) -> None:
    covered = [0] * (MAX_PROBABILITY + 1)
    for forecast_range in ranges:
        for probability in range(forecast_range.min_probability, forecast_range.max_probability + 1):
            covered[probability] += 1
    uncovered = [p for p, count in enumerate(covered) if count == 0]
    overlapping = [p for p, count in enumerate(covered) if count > 1]
    check.require(
        not uncovered,
        "settings.ranges",
        f"every probability 0..100 must be in a range; not covered: {_spans(uncovered)}",
    )
    check.require(
        not overlapping,
        "settings.ranges",
        f"every probability must be in only one range; in more than one: {_spans(overlapping)}",
    )


def _check_scheme(check: Validator, scheme: RangeScheme, ranges: tuple[ForecastRange, ...]) -> None:
    if scheme is RangeScheme.CUSTOM:
        check.require(
            1 <= len(ranges) <= MAX_CUSTOM_RANGES,
            "settings.ranges",
            f"a custom scheme has 1..{MAX_CUSTOM_RANGES} ranges, got {len(ranges)}",
        )
        return
    stages = _FIXED_STAGES[scheme]
    by_stage = {r.commit_stage: (index, r) for index, r in enumerate(ranges)}
    if not check.require(
        len(ranges) == len(stages) and set(by_stage) == set(stages),
        "settings.ranges",
        f"the {scheme.value} scheme has exactly one range of each stage "
        f"{[s.value for s in stages]}, got {[str(r.commit_stage) for r in ranges]}",
    ):
        return
    index, top = by_stage[stages[0]]
    check.require(
        top.max_probability == MAX_PROBABILITY,
        f"settings.ranges[{index}].max_probability",
        f"the {stages[0].value} range must reach 100",
    )
    index, bottom = by_stage[stages[-1]]
    check.require(
        bottom.min_probability == MIN_PROBABILITY,
        f"settings.ranges[{index}].min_probability",
        f"the {stages[-1].value} range must start at 0",
    )


def _spans(probabilities: list[int]) -> str:
    """[1, 2, 3, 7] -> "1-3, 7"."""
    spans: list[str] = []
    start = previous = probabilities[0] if probabilities else 0
    for probability in probabilities[1:]:
        if probability != previous + 1:
            spans.append(_span(start, previous))
            start = probability
        previous = probability
    if probabilities:
        spans.append(_span(start, previous))
    return ", ".join(spans)


def _span(start: int, end: int) -> str:
    return str(start) if start == end else f"{start}-{end}"
