"""The inspection thresholds in SQL: one row (id "inspection"); no row means the defaults.

Stored as a JSON object by field name. Fields missing from it (a threshold added after the row was
saved) take their defaults, and unknown ones (a threshold since removed) are ignored, so the row
survives changes of InspectionThresholds without a migration."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any, cast

from sqlalchemy import CursorResult, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from salesplane_forecasting.adapters.tables import inspection_settings
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
    if settings.version == 1:
        # A savepoint keeps the transaction usable when another first save won the primary key.
        try:
            with session.begin_nested():
                session.execute(insert(inspection_settings).values(id=ROW_ID, **values))
        except IntegrityError:
            raise concurrent from None
        return
    result = cast(
        CursorResult[Any],
        session.execute(
            update(inspection_settings)
            .where(inspection_settings.c.id == ROW_ID, inspection_settings.c.version == settings.version - 1)
            .values(**values)
        ),
    )
    if result.rowcount != 1:
        raise concurrent
