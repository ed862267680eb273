"""Use cases on the configuration deals depend on: sales stages and exchange rates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from salesplane_opportunities.domain.access import ensure_admin
from salesplane_opportunities.domain.exchange_rates import (
    MAX_RATE_FRACTION_DIGITS,
    ExchangeRate,
    dates_governed_by,
    parse_rate,
)
from salesplane_opportunities.domain.opportunity_inputs import EARLIEST_CLOSE_DATE, LATEST_CLOSE_DATE
from salesplane_opportunities.domain.sales_stages import (
    SalesStage,
    SalesStageCatalog,
    compare_catalogs,
    validate_stages,
)
from salesplane_opportunities.service_layer.unit_of_work import OpportunitiesUnitOfWork
from salesplane_platform.errors import (
    Conflict,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    Validator,
)
from salesplane_platform.identity import Identity
from salesplane_platform.money import is_currency


@dataclass(frozen=True)
class ExchangeRates:
    base_currency: str
    rates: list[ExchangeRate]


def list_sales_stages(*, uow: OpportunitiesUnitOfWork) -> SalesStageCatalog:
    """The configured sales stages in order, with their revision."""
    with uow:
        return uow.sales_stages.current()


def replace_sales_stages(
    *,
    stages: Sequence[SalesStage],
    expected_revision: int,
    caller: Identity,
    uow: OpportunitiesUnitOfWork,
) -> SalesStageCatalog:
    """Admin: replace the ordered stage list; open deals following a changed default follow it."""
    validate_stages(stages)
    if expected_revision < 0:
        raise InvalidArgument(FieldViolation("expected_revision", "must not be negative (0: any revision)"))
    ensure_admin(caller, "replace the sales stages")
    now = datetime.now(UTC)
    with uow.acting_for(caller.subject):
        uow.hold_configuration(exclusive=True)
        current = uow.sales_stages.current()
        if expected_revision and expected_revision != current.revision:
            raise Conflict(f"the sales stages are at revision {current.revision}, not {expected_revision}")
        if current.stages == tuple(stages):
            return current
        difference = compare_catalogs(current, SalesStageCatalog(stages))
        _ensure_unused(uow, difference.removed, "remove")
        _ensure_unused(uow, difference.reflagged, "change the won / lost flags of")
        replaced = uow.sales_stages.replace(stages)
        if difference.new_defaults:
            for opportunity in uow.opportunities.open_following_stages(list(difference.new_defaults)):
                read_version = opportunity.version
                if opportunity.follow_stage_default(replaced, now=now):
                    uow.opportunities.save(opportunity, read_version=read_version)
        uow.commit()
    return replaced


def list_exchange_rates(*, currency: str, uow: OpportunitiesUnitOfWork) -> ExchangeRates:
    """Every rate (of one currency, if given) to the base currency, by currency and date."""
    if currency and not is_currency(currency):
        raise InvalidArgument(FieldViolation("currency_code", "must be empty or an ISO 4217 currency code"))
    with uow:
        return ExchangeRates(uow.base_currency, uow.exchange_rates.list(uow.base_currency, currency or None))


def set_exchange_rate(
    *,
    currency: str,
    rate: str,
    effective_from: date | None,
    caller: Identity,
    uow: OpportunitiesUnitOfWork,
) -> ExchangeRate:
    """Admin: set the rate of a currency from a date on, and revalue the deals it now governs."""
    check = Validator()
    if not is_currency(currency):
        check.fail("currency_code", "must be an ISO 4217 currency code")
    elif currency == uow.base_currency:
        check.fail("currency_code", f"is the base currency {currency}; its rate is always 1")
    check.require(
        parse_rate(rate) is not None,
        "rate",
        f"must be a positive decimal such as 1.0850, with at most {MAX_RATE_FRACTION_DIGITS} "
        "fractional and 12 integer digits",
    )
    check.require(
        effective_from is not None and EARLIEST_CLOSE_DATE <= effective_from <= LATEST_CLOSE_DATE,
        "effective_from",
        f"must be a date between {EARLIEST_CLOSE_DATE} and {LATEST_CLOSE_DATE}",
    )
    check.raise_if_invalid()
    assert effective_from is not None
    ensure_admin(caller, "set exchange rates")
    now = datetime.now(UTC)
    with uow.acting_for(caller.subject):
        uow.hold_configuration(exclusive=True)
        known = uow.exchange_rates.list(uow.base_currency, currency)
        same_date = next((r for r in known if r.effective_from == effective_from), None)
        if same_date is not None and same_date.rate == rate:
            return same_date
        new = ExchangeRate.put_in_effect(
            currency=currency,
            base_currency=uow.base_currency,
            rate=rate,
            effective_from=effective_from,
            set_at=now,
            replacing=same_date,
        )
        uow.exchange_rates.put(new)
        start, end = dates_governed_by(new, known)
        for opportunity in uow.opportunities.in_currency_closing(currency, start, end):
            read_version = opportunity.version
            if opportunity.revalue(new.applied, uow.converter, now=now):
                uow.opportunities.save(opportunity, read_version=read_version)
        uow.commit()
    return new


def _ensure_unused(uow: OpportunitiesUnitOfWork, stage_names: Sequence[str], action: str) -> None:
    if not stage_names:
        return
    in_use = uow.opportunities.count_in_stages(stage_names)
    if in_use:
        described = ", ".join(f"{name!r} ({count} opportunities)" for name, count in sorted(in_use.items()))
        raise FailedPrecondition(
            f"cannot {action} sales stages still in use: {described}; move those opportunities first",
            reason="SALES_STAGE_IN_USE",
        )
