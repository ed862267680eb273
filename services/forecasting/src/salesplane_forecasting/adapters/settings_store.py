"""The forecast settings in SQL: one row (id "settings"); no row means the defaults."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from salesplane_forecasting.adapters.tables import forecast_settings
from salesplane_forecasting.adapters.versioned_row import save_versioned_row
from salesplane_forecasting.domain.forecast_settings import (
    DEFAULT_SETTINGS,
    CommitStage,
    ForecastRange,
    ForecastSettings,
    RangeScheme,
)
from salesplane_platform.db import as_utc
from salesplane_platform.errors import Conflict

SETTINGS_ROW_ID = "settings"


def load(session: Session, *, for_update: bool = False) -> ForecastSettings:
    """The settings in force, from one SELECT (the event consumer calls this on every batch).

    for_update locks the row so that concurrent administrators take turns instead of the later one
    failing on the version guard; with no row yet there is nothing to lock, and the primary key
    decides between two first saves."""
    statement = select(forecast_settings).where(forecast_settings.c.id == SETTINGS_ROW_ID)
    if for_update:
        statement = statement.with_for_update()
    row = session.execute(statement).one_or_none()
    return DEFAULT_SETTINGS if row is None else _settings(row)


def save(session: Session, settings: ForecastSettings, *, updated_by: str) -> None:
    """Store settings at settings.version; Conflict when the stored version is not the one before."""
    if settings.updated_at is None:
        raise ValueError("saved settings carry the time of their change")
    values = {
        "fiscal_year_start_month": settings.fiscal_year_start_month,
        "range_scheme": settings.scheme.value,
        "ranges": json.dumps([_range_to_json(r) for r in settings.ranges]),
        "show_likely": settings.show_likely,
        "show_best": settings.show_best,
        "show_worst": settings.show_worst,
        "version": settings.version,
        "updated_by": updated_by,
        "updated_at": settings.updated_at,
    }
    concurrent = Conflict("the forecast settings were changed concurrently; read them again and retry")
    save_versioned_row(session, forecast_settings, SETTINGS_ROW_ID, settings.version, values, concurrent)


def _range_to_json(forecast_range: ForecastRange) -> dict[str, Any]:
    return {
        "name": forecast_range.name,
        "min_probability": forecast_range.min_probability,
        "max_probability": forecast_range.max_probability,
        "commit_stage": forecast_range.commit_stage.value,
    }


def _range_from_json(document: dict[str, Any]) -> ForecastRange:
    return ForecastRange(
        name=document["name"],
        min_probability=document["min_probability"],
        max_probability=document["max_probability"],
        commit_stage=CommitStage(document["commit_stage"]),
    )


def _settings(row: Row) -> ForecastSettings:  # type: ignore[type-arg]
    return ForecastSettings(
        fiscal_year_start_month=row.fiscal_year_start_month,
        scheme=RangeScheme(row.range_scheme),
        ranges=tuple(_range_from_json(document) for document in json.loads(row.ranges)),
        show_likely=row.show_likely,
        show_best=row.show_best,
        show_worst=row.show_worst,
        version=row.version,
        updated_at=as_utc(row.updated_at),
    )
