"""What a reader of the live rollups gets: a user's own and team totals for a period, measured
against their quota, and the probabilistic forecast of what the period will close."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from salesplane_forecasting.domain.contributions import Totals
from salesplane_forecasting.domain.probabilistic import Distribution
from salesplane_forecasting.domain.quotas import attainment_basis_points


class ForecastScope(StrEnum):
    # The user's own deals.
    OWN = "own"
    # The deals of the user and everyone below them.
    TEAM = "team"


@dataclass(frozen=True)
class RollupRead:
    """One user's maintained own and team totals for a period, as stored."""

    own: Totals
    team: Totals
    updated_at: datetime | None


@dataclass(frozen=True)
class CurrencyLine:
    """A user's own deals that are not lost, in one deal currency."""

    currency: str
    opportunity_count: int
    amount_minor: int
    weighted_percent_minor: int


@dataclass(frozen=True)
class Rollup:
    user_id: str
    period_id: str
    own: Totals
    team: Totals
    currency_lines: list[CurrencyLine]
    # The user's assigned quota: a manager's team target, a rep's own.
    quota_minor: int | None
    has_reports: bool
    updated_at: datetime | None

    @property
    def attained_minor(self) -> int:
        """What counts against the quota: the team's closed won for a manager, else the user's."""
        return (self.team if self.has_reports else self.own).won_minor

    @property
    def attainment_basis_points(self) -> int:
        return attainment_basis_points(self.attained_minor, self.quota_minor)


@dataclass(frozen=True)
class ProbabilisticForecast:
    user_id: str
    period_id: str
    scope: ForecastScope
    quota_minor: int | None
    distribution: Distribution
