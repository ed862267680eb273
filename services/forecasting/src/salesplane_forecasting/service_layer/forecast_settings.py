"""Use cases of the forecast settings: everyone reads them and the fiscal periods they define;
administrators change them, and a change that moves deals between periods or stages recomputes
every rollup in the same transaction."""

from __future__ import annotations

from datetime import UTC, date, datetime

from salesplane_forecasting.adapters import settings_store
from salesplane_forecasting.adapters.hierarchy import lock_hierarchy
from salesplane_forecasting.adapters.outbox_events import record_settings_changed
from salesplane_forecasting.adapters.rollup_store import rebuild_rollups
from salesplane_forecasting.domain import forecast_settings
from salesplane_forecasting.domain.forecast_settings import ForecastSettings
from salesplane_forecasting.domain.periods import Period
from salesplane_platform.errors import Conflict, FieldViolation, InvalidArgument, PermissionDenied
from salesplane_platform.identity import Identity
from salesplane_platform.unit_of_work import SqlUnitOfWork


def get_settings(*, uow: SqlUnitOfWork) -> ForecastSettings:
    with uow:
        return settings_store.load(uow.session)


def update_settings(
    *,
    values: ForecastSettings,
    expected_version: int | None,
    caller: Identity,
    uow: SqlUnitOfWork,
    base_currency: str = "",
) -> ForecastSettings:
    """Replace the settings with values (their version and updated_at are ignored).

    expected_version None: whatever is stored; otherwise Conflict unless it is the stored version
    (0 being the never-saved defaults). base_currency only fills the event's currency_code."""
    ensure_may_change_settings(caller)
    forecast_settings.validate(values)
    with uow:
        session = uow.session
        # Locked so concurrent administrators queue behind each other and see each other's change.
        existing = settings_store.load(session, for_update=True)
        if expected_version is not None and existing.version != expected_version:
            raise Conflict(f"the forecast settings are at version {existing.version}, not {expected_version}")
        changed = forecast_settings.apply(existing, values, datetime.now(UTC))
        if changed is None:
            return existing
        recompute = existing.affects_contributions(changed)
        if recompute:
            # Before the save, so no consumer batch or reorganisation is half-way through placing
            # deals under the old calendar or ranges when the rebuild below re-places all of them.
            lock_hierarchy(session, exclusive=True)
        settings_store.save(session, changed, updated_by=caller.subject)
        if recompute:
            # After the save: the rebuild reads the settings in force from this transaction.
            rebuild_rollups(session, recompute_contributions=True)
        record_settings_changed(uow, changed, base_currency=base_currency, actor=caller.subject)
        uow.commit()
        return changed


def ensure_may_change_settings(caller: Identity) -> None:
    """PermissionDenied unless caller is an administrator (entry points check it before mapping the
    request, so a non-administrator learns nothing about what was malformed)."""
    if not caller.is_admin:
        raise PermissionDenied("only administrators change the forecast settings")


def list_periods(*, fiscal_year: int, uow: SqlUnitOfWork, today: date) -> list[Period]:
    """The quarters and months of fiscal_year (0: the one today is in) under the stored calendar."""
    with uow:
        calendar = settings_store.load(uow.session).calendar
    year = fiscal_year or calendar.fiscal_year_of(today)
    # year_periods rejects years outside the calendar's range as InvalidArgument on "fiscal_year".
    return calendar.year_periods(year)


def period_of_date(*, day: date | None, uow: SqlUnitOfWork) -> tuple[Period, Period]:
    """The fiscal quarter and the calendar month day falls in under the stored calendar.

    day None (an unset or impossible date in the request) is InvalidArgument on "date"."""
    if day is None:
        raise InvalidArgument(FieldViolation("date", "must be a valid date"))
    with uow:
        calendar = settings_store.load(uow.session).calendar
    quarter_id, month_id = calendar.periods_of(day)
    return calendar.period(quarter_id), calendar.period(month_id)
