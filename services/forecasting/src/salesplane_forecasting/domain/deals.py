"""An opportunity as forecasting knows it, and where it counts under the forecast settings."""

from __future__ import annotations

import functools
from datetime import date
from typing import NamedTuple

from salesplane_forecasting.domain.contributions import STATUS_OPEN, Contribution, DealStatus, measures_of
from salesplane_forecasting.domain.forecast_settings import CommitStage, ForecastSettings
from salesplane_forecasting.domain.periods import FiscalCalendar


class Deal(NamedTuple):
    # Named tuples, not frozen dataclasses: the consumer makes several per consumed event, and a frozen
    # dataclass's __init__ (one object.__setattr__ per field) cost more than the work they carry.
    opportunity_id: str
    version: int
    owner_user_id: str
    status: DealStatus
    close_date: date
    # The deal's own currency and amount.
    currency: str
    amount_minor: int
    probability: int
    name: str
    account_name: str
    sales_stage: str
    # Likely (amount), best and worst case in the base currency.
    likely_minor: int
    best_minor: int
    worst_minor: int
    # Where it counts: set by `placed` under the settings in force when it was applied.
    quarter_id: str = ""
    month_id: str = ""
    commit_stage: CommitStage | None = None

    def placed(self, settings: ForecastSettings, override: CommitStage | None) -> Deal:
        """The deal with its periods and its commit stage (the rep's choice, else the ranges')."""
        quarter_id, month_id = _periods_of(settings.fiscal_year_start_month, self.close_date)
        stage = None
        if self.status == STATUS_OPEN:  # a module name: see contributions.STATUS_OPEN
            stage = override or settings.commit_stage_for(self.probability)
        # Built field by field: dataclasses.replace costs several times more, on the consumer's
        # hottest path.
        return Deal(
            self.opportunity_id,
            self.version,
            self.owner_user_id,
            self.status,
            self.close_date,
            self.currency,
            self.amount_minor,
            self.probability,
            self.name,
            self.account_name,
            self.sales_stage,
            self.likely_minor,
            self.best_minor,
            self.worst_minor,
            quarter_id,
            month_id,
            stage,
        )

    @property
    def contribution(self) -> Contribution | None:
        measures = measures_of(
            status=self.status,
            commit_stage=self.commit_stage,
            probability=self.probability,
            likely=self.likely_minor,
            best=self.best_minor,
            worst=self.worst_minor,
        )
        if measures is None or not self.quarter_id:
            return None
        periods = tuple(p for p in (self.quarter_id, self.month_id) if p)
        return Contribution(self.owner_user_id, periods, measures)


@functools.lru_cache(maxsize=4096)
def _periods_of(fiscal_year_start_month: int, day: date) -> tuple[str, str]:
    # Deals cluster on few close dates (month ends, quarter ends): most lookups hit.
    return FiscalCalendar(fiscal_year_start_month).periods_of(day)
