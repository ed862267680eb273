"""The inspection thresholds in SQL: one row (id "inspection"); no row means the defaults.

Stored as a JSON object by field name. Fields missing from it (a threshold added after the row was
saved) take their defaults, and unknown ones (a threshold since removed) are ignored, so the row
survives changes of InspectionThresholds without a migration."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from salesplane_forecasting.adapters.tables import inspection_settings
from salesplane_forecasting.adapters.versioned_row import save_versioned_row
from salesplane_forecasting.domain.inspection.settings import DEFAULT_INSPECTION_SETTINGS, InspectionSettings
from salesplane_forecasting.domain.inspection.thresholds import InspectionThresholds
from salesplane_platform.db import as_utc
from salesplane_platform.errors import Conflict

ROW_ID = "inspection"
_FIELDS = {spec.name for spec in fields(InspectionThresholds)}


def load(session: Session, *, for_update: bool = False) -> InspectionSettings:
    statement = select(inspection_settings).where(inspection_settings.c.id == ROW_ID)
    if for_update:
        statement = statement.with_for_update()
    row = session.execute(statement).one_or_none()
    if row is None:
        return DEFAULT_INSPECTION_SETTINGS
    stored: dict[str, Any] = json.loads(row.thresholds)
    return InspectionSettings(
        thresholds=InspectionThresholds(**{k: v for k, v in stored.items() if k in _FIELDS}),
        version=row.version,
        updated_by=row.updated_by,
        updated_at=as_utc(row.updated_at),
    )


def save(session: Session, settings: InspectionSettings) -> None:
    """Store settings at settings.version; Conflict when the stored version is not the one before."""
    if settings.updated_at is None:
        raise ValueError("saved settings carry the time of their change")
    values = {
        "thresholds": json.dumps(asdict(settings.thresholds), sort_keys=True),
        "version": settings.version,
        "updated_by": settings.updated_by,
        "updated_at": settings.updated_at,
    }
    concurrent = Conflict("the inspection settings were changed concurrently; read them again and retry")
    save_versioned_row(session, inspection_settings, ROW_ID, settings.version, values, concurrent)
