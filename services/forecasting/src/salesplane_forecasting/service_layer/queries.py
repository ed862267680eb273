"""Read-side use cases of forecasting: live rollups and the probabilistic forecast."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from salesplane_forecasting.adapters import hierarchy, quota_store, rollup_store, user_store
from salesplane_forecasting.domain.contributions import STATUS_OPEN, STATUS_WON, Totals
from salesplane_forecasting.domain.periods import check_period_id
from salesplane_forecasting.domain.probabilistic import Distribution, OpenDeal, distribution
from salesplane_forecasting.service_layer.access import ensure_can_read_user
from salesplane_platform.errors import PermissionDenied, Validator
from salesplane_platform.identifiers import check_user_id
from salesplane_platform.identity import Identity

SCOPE_OWN = "own"
SCOPE_TEAM = "team"


@dataclass(frozen=True)
class Rollup:
    user_id: str
    period_id: str
    own: Totals
    team: Totals
    currency_lines: list[rollup_store.CurrencyLine]
    quota_minor: int | None
    has_reports: bool
    updated_at: datetime | None

    @property
    def attained_minor(self) -> int:
        """What counts against the quota: the team's closed won for a manager, else the user's."""
        return (self.team if self.has_reports else self.own).won_minor


@dataclass(frozen=True)
class ProbabilisticForecast:
    user_id: str
    period_id: str
    scope: str
    quota_minor: int | None
    distribution: Distribution


def get_rollup(*, user_id: str, period_id: str, caller: Identity, sessions: sessionmaker[Session]) -> Rollup:
    """The live rollup of one user and period: O(1) reads of maintained rows."""
    _check_request(user_id, period_id)
    with sessions() as session:
        ensure_can_read_user(session, caller, user_id)
        totals = rollup_store.read_rollup(session, user_id, period_id)
        return Rollup(
            user_id=user_id,
            period_id=period_id,
            own=totals.own,
            team=totals.team,
            currency_lines=rollup_store.currency_lines(session, user_id, period_id),
            quota_minor=quota_store.committed_quota(session, user_id, period_id),
            has_reports=hierarchy.has_reports(session, user_id),
            updated_at=totals.updated_at,
        )


def get_probabilistic_forecast(
    *, user_id: str, period_id: str, scope: str | None, caller: Identity, sessions: sessionmaker[Session]
) -> ProbabilisticForecast:
    """The distribution of the period's closed revenue for the user alone or their whole team."""
    _check_request(user_id, period_id)
    with sessions() as session:
        ensure_can_read_user(session, caller, user_id)
        has_reports = hierarchy.has_reports(session, user_id)
        chosen = scope or (SCOPE_TEAM if has_reports else SCOPE_OWN)
        owners = user_store.reporting_lines.subtree_select(user_id) if chosen == SCOPE_TEAM else [user_id]
        deals = rollup_store.deals_of(session, owners, period_id)
        # A manager's own deals carry their direct quota; their team carries the assigned one.
        kind = "direct" if chosen == SCOPE_OWN and has_reports else "assigned"
        quota = quota_store.committed_quota(session, user_id, period_id, kind)
    won = sum(deal.likely_minor for deal in deals if deal.status == STATUS_WON)
    open_deals = [
        OpenDeal(deal.likely_minor, deal.probability) for deal in deals if deal.status == STATUS_OPEN
    ]
    return ProbabilisticForecast(
        user_id=user_id,
        period_id=period_id,
        scope=chosen,
        quota_minor=quota,
        distribution=distribution(open_deals=open_deals, closed_won_minor=won, quota_minor=quota),
    )


def rebuild_rollups(*, caller: Identity, sessions: sessionmaker[Session]) -> int:
    """Admin: recompute every rollup from scratch under the settings in force."""
    if not caller.is_admin:
        raise PermissionDenied("only administrators rebuild rollups")
    with sessions() as session, session.begin():
        hierarchy.lock_hierarchy(session, exclusive=True)
        return rollup_store.rebuild_rollups(session, recompute_contributions=True)


def _check_request(user_id: str, period_id: str) -> None:
    check = Validator()
    check_user_id(check, "user_id", user_id)
    check_period_id(check, "period_id", period_id)
    check.raise_if_invalid()
