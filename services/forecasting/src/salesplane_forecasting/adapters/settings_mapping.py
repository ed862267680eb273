"""Forecast settings, commit stages and periods between the domain and the protobuf contract."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from salesplane.forecasting.v1 import settings_pb2
from salesplane_forecasting.domain.forecast_settings import (
    CommitStage,
    ForecastRange,
    ForecastSettings,
    RangeScheme,
)
from salesplane_forecasting.domain.periods import Period, PeriodKind
from salesplane_platform.errors import FieldViolation, InvalidArgument, Validator
from salesplane_platform.proto_values import date_to_proto

# A generated enum's value type (a NewType of int per enum).
_EnumValue = TypeVar("_EnumValue", bound=int)

_STAGE_TO_PROTO = {
    CommitStage.INCLUDE: settings_pb2.COMMIT_STAGE_INCLUDE,
    CommitStage.UPSIDE: settings_pb2.COMMIT_STAGE_UPSIDE,
    CommitStage.EXCLUDE: settings_pb2.COMMIT_STAGE_EXCLUDE,
}
_STAGE_FROM_PROTO = {value: stage for stage, value in _STAGE_TO_PROTO.items()}

_SCHEME_TO_PROTO = {
    RangeScheme.TWO_BUCKETS: settings_pb2.RANGE_SCHEME_TWO_BUCKETS,
    RangeScheme.THREE_BUCKETS: settings_pb2.RANGE_SCHEME_THREE_BUCKETS,
    RangeScheme.CUSTOM: settings_pb2.RANGE_SCHEME_CUSTOM,
}
_SCHEME_FROM_PROTO = {value: scheme for scheme, value in _SCHEME_TO_PROTO.items()}

_PERIOD_KIND_TO_PROTO = {
    PeriodKind.QUARTER: settings_pb2.PERIOD_KIND_QUARTER,
    PeriodKind.MONTH: settings_pb2.PERIOD_KIND_MONTH,
}


def commit_stage_to_proto(stage: CommitStage | None) -> settings_pb2.CommitStage.ValueType:
    """None (no stage: follow the ranges, or not an open deal) is COMMIT_STAGE_UNSPECIFIED."""
    return settings_pb2.COMMIT_STAGE_UNSPECIFIED if stage is None else _STAGE_TO_PROTO[stage]


def commit_stage_from_proto(value: settings_pb2.CommitStage.ValueType, field: str) -> CommitStage | None:
    """COMMIT_STAGE_UNSPECIFIED is None; a value the contract does not define is InvalidArgument on
    field (proto3 enums are open, so any int can arrive)."""
    if value == settings_pb2.COMMIT_STAGE_UNSPECIFIED:
        return None
    stage = _STAGE_FROM_PROTO.get(value)
    if stage is None:
        raise InvalidArgument(FieldViolation(field, _unknown_stage(value)))
    return stage


def settings_to_proto(settings: ForecastSettings, currency_code: str) -> settings_pb2.ForecastSettings:
    message = settings_pb2.ForecastSettings(
        fiscal_year_start_month=settings.fiscal_year_start_month,
        range_scheme=_SCHEME_TO_PROTO[settings.scheme],
        ranges=[
            settings_pb2.ForecastRange(
                name=r.name,
                min_probability=r.min_probability,
                max_probability=r.max_probability,
                commit_stage=commit_stage_to_proto(r.commit_stage),
            )
            for r in settings.ranges
        ],
        show_likely=settings.show_likely,
        show_best=settings.show_best,
        show_worst=settings.show_worst,
        version=settings.version,
        currency_code=currency_code,
    )
    # The defaults were never saved, so they have no time of change.
    if settings.updated_at is not None:
        message.update_time.FromDatetime(settings.updated_at)
    return message


def settings_from_proto(message: settings_pb2.ForecastSettings) -> ForecastSettings:
    """The requested values (version, update_time and currency_code are the server's and ignored).

    Enum values are checked here, all at once, because the domain types cannot hold them; every
    other rule is the domain's validate()."""
    check = Validator()
    scheme = _SCHEME_FROM_PROTO.get(message.range_scheme)
    check.require(
        scheme is not None,
        "settings.range_scheme",
        f"must be one of {sorted(settings_pb2.RangeScheme.Name(v) for v in _SCHEME_FROM_PROTO)}, "
        f"got {_enum_name(settings_pb2.RangeScheme.Name, message.range_scheme)}",
    )
    ranges: list[ForecastRange] = []
    for index, r in enumerate(message.ranges):
        field = f"settings.ranges[{index}].commit_stage"
        stage = _STAGE_FROM_PROTO.get(r.commit_stage)
        if stage is None:
            # A range must name its stage; UNSPECIFIED only means "follow the ranges" elsewhere.
            check.fail(field, _unknown_stage(r.commit_stage))
            continue
        ranges.append(ForecastRange(r.name, r.min_probability, r.max_probability, stage))
    check.raise_if_invalid()
    assert scheme is not None  # checked above
    return ForecastSettings(
        fiscal_year_start_month=message.fiscal_year_start_month,
        scheme=scheme,
        ranges=tuple(ranges),
        show_likely=message.show_likely,
        show_best=message.show_best,
        show_worst=message.show_worst,
    )


def period_to_proto(period: Period) -> settings_pb2.Period:
    return settings_pb2.Period(
        period_id=period.period_id,
        kind=_PERIOD_KIND_TO_PROTO[period.kind],
        fiscal_year=period.fiscal_year,
        quarter=period.quarter,
        start_date=date_to_proto(period.start),
        end_date=date_to_proto(period.end),
        parent_period_id=period.parent_id or "",
    )


def _unknown_stage(value: settings_pb2.CommitStage.ValueType) -> str:
    return (
        f"must be one of {sorted(settings_pb2.CommitStage.Name(v) for v in _STAGE_FROM_PROTO)}, "
        f"got {_enum_name(settings_pb2.CommitStage.Name, value)}"
    )


def _enum_name(name: Callable[[_EnumValue], str], value: _EnumValue) -> str:
    """name is an enum's Name (each generated enum has its own value type, so take the function)."""
    try:
        return name(value)
    except ValueError:  # a number the contract does not (yet) name
        return str(value)
