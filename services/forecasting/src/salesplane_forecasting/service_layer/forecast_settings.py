"""Use cases of the forecast settings: everyone reads them and the fiscal periods they define;
administrators change them, and a change that moves deals between periods or stages recomputes
every rollup in the same transaction."""

from __future__ import annotations

from datetime import UTC, date, datetime

from salesplane_forecasting.domain import forecast_settings
from salesplane_forecasting.domain.forecast_settings import ForecastSettings
from salesplane_forecasting.domain.periods import Period
from salesplane_forecasting.service_layer.unit_of_work import ForecastingUnitOfWork
from salesplane_platform.errors import Conflict, FieldViolation, InvalidArgument, PermissionDenied
from salesplane_platform.identity import Identity


def get_settings(*, uow: ForecastingUnitOfWork) -> ForecastSettings:
    with uow:
        return uow.settings.load()


def update_settings(
    *,
    values: ForecastSettings,
    expected_version: int | None,
    caller: Identity,
    uow: ForecastingUnitOfWork,
    base_currency: str = "",
) -> ForecastSettings:
    """Replace the settings with values (their version and updated_at are ignored).

    expected_version None: whatever is stored; otherwise Conflict unless it is the stored version
    (0 being the never-saved defaults). base_currency only fills the event's currency_code."""
    ensure_may_change_settings(caller)
    forecast_settings.validate(values)
    with uow.acting_for(caller.subject):
        # Locked so concurrent administrators queue behind each other and see each other's change.
        existing = uow.settings.load(for_update=True)
        if expected_version is not None and existing.version != expected_version:
            raise Conflict(f"the forecast settings are at version {existing.version}, not {expected_version}")
        changed = forecast_settings.apply(existing, values, datetime.now(UTC), currency_code=base_currency)
        if changed is None:
            return existing
        recompute = existing.affects_contributions(changed)
        if recompute:
            # Before the save, so no consumer batch or reorganisation is half-way through placing
            # deals under the old calendar or ranges when the rebuild below re-places all of them.
            uow.hierarchy.lock(exclusive=True)
        uow.settings.save(changed, updated_by=caller.subject)
        if recompute:
            # After the save: the rebuild reads the settings in force from this transaction.
            uow.rollups.rebuild(recompute_contributions=True)
        uow.commit()
        return changed


def ensure_may_change_settings(caller: Identity) -> None:
    """PermissionDenied unless caller is an administrator (entry points check it before mapping the
    request, so a non-administrator learns nothing about what was malformed)."""
    if not caller.is_admin:
        raise PermissionDenied("only administrators change the forecast settings")


def list_periods(*, fiscal_year: int, uow: ForecastingUnitOfWork, today: date) -> list[Period]:
    """The quarters and months of fiscal_year (0: the one today is in) under the stored calendar."""
    with uow:
        calendar = uow.settings.load().calendar
    year = fiscal_year or calendar.fiscal_year_of(today)
    # year_periods rejects years outside the calendar's range as InvalidArgument on "fiscal_year".
    return calendar.year_periods(year)


def period_of_date(*, day: date | None, uow: ForecastingUnitOfWork) -> tuple[Period, Period]:
    """The fiscal quarter and the calendar month day falls in under the stored calendar.

    day None (an unset or impossible date in the request) is InvalidArgument on "date"."""
    if day is None:
        raise InvalidArgument(FieldViolation("date", "must be a valid date"))
    with uow:
        calendar = uow.settings.load().calendar
    quarter_id, month_id = calendar.periods_of(day)
    return calendar.period(quarter_id), calendar.period(month_id)
