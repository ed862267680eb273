"""The stored inspection thresholds: what an administrator set, at which revision, or the defaults."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from salesplane_forecasting.domain.inspection.thresholds import DEFAULT_THRESHOLDS, InspectionThresholds


@dataclass(frozen=True)
class InspectionSettings:
    thresholds: InspectionThresholds
    # 0: never saved (the defaults); each saved change adds one.
    version: int = 0
    updated_by: str = ""
    updated_at: datetime | None = None


DEFAULT_INSPECTION_SETTINGS = InspectionSettings(DEFAULT_THRESHOLDS)


def changed(
    existing: InspectionSettings, thresholds: InspectionThresholds, *, by: str, at: datetime
) -> InspectionSettings | None:
    """The next revision with these thresholds, or None when they are what is stored already."""
    if thresholds == existing.thresholds:
        return None
    return InspectionSettings(thresholds, existing.version + 1, by, at)
