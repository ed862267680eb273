"""Use cases of the inspection thresholds: everyone reads them (they explain every flag);
administrators change them, with optimistic concurrency on the stored version."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

from salesplane_forecasting.domain.inspection import settings as inspection_settings
from salesplane_forecasting.domain.inspection.settings import InspectionSettings
from salesplane_forecasting.domain.inspection.thresholds import InspectionThresholds, validate
from salesplane_forecasting.service_layer.unit_of_work import ForecastingUnitOfWork
from salesplane_platform.errors import Conflict, PermissionDenied
from salesplane_platform.identity import Identity


def get_inspection_settings(*, uow: ForecastingUnitOfWork) -> InspectionSettings:
    """The stored thresholds, or the defaults at version 0."""
    with uow:
        return uow.inspection_settings.load()


def update_inspection_settings(
    *,
    thresholds: InspectionThresholds,
    expected_version: int | None,
    caller: Identity,
    uow: ForecastingUnitOfWork,
) -> InspectionSettings:
    """Replace the thresholds. expected_version None: whatever is stored; otherwise Conflict unless it
    is the stored version (0 being the never-saved defaults). InvalidArgument lists every value out
    of range ("thresholds.<field>")."""
    ensure_may_change_inspection_settings(caller)
    validate(thresholds)
    with uow.acting_for(caller.subject):
        # Locked so concurrent administrators queue behind each other and see each other's change.
        existing = uow.inspection_settings.load(for_update=True)
        if expected_version is not None and existing.version != expected_version:
            raise Conflict(
                f"the inspection settings are at version {existing.version}, not {expected_version}"
            )
        changed = inspection_settings.changed(existing, thresholds, by=caller.subject, at=datetime.now(UTC))
        if changed is None:
            return existing
        uow.inspection_settings.save(changed)
        uow.audit(
            action="InspectionSettingsChanged",
            subject_type="inspection_settings",
            subject_id="settings",
            state={"version": changed.version, "thresholds": asdict(thresholds)},
        )
        uow.commit()
        return changed


def ensure_may_change_inspection_settings(caller: Identity) -> None:
    """PermissionDenied unless caller is an administrator (checked before the request is mapped, so a
    non-administrator learns nothing about what was malformed)."""
    if not caller.is_admin:
        raise PermissionDenied("only administrators change the inspection settings")
