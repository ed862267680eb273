"""Read-side use cases of forecasting: live rollups and the probabilistic forecast."""

from __future__ import annotations

from salesplane_forecasting.domain.contributions import DealStatus
from salesplane_forecasting.domain.periods import check_period_id
from salesplane_forecasting.domain.probabilistic import OpenDeal, distribution
from salesplane_forecasting.domain.quotas import QuotaKind, own_quota_kind
from salesplane_forecasting.domain.rollups import ForecastScope, ProbabilisticForecast, Rollup
from salesplane_forecasting.service_layer.access import ensure_can_read_user
from salesplane_forecasting.service_layer.unit_of_work import ForecastingUnitOfWork
from salesplane_platform.errors import Validator
from salesplane_platform.identifiers import check_user_id
from salesplane_platform.identity import Identity


def get_rollup(*, user_id: str, period_id: str, caller: Identity, uow: ForecastingUnitOfWork) -> Rollup:
    """The live rollup of one user and period: O(1) reads of maintained rows."""
    _check_request(user_id, period_id)
    with uow:
        ensure_can_read_user(uow.users, caller, user_id)
        totals = uow.rollups.read_rollup(user_id, period_id)
        return Rollup(
            user_id=user_id,
            period_id=period_id,
            own=totals.own,
            team=totals.team,
            currency_lines=uow.rollups.currency_lines(user_id, period_id),
            quota_minor=uow.quotas.committed_quota(user_id, period_id, QuotaKind.ASSIGNED),
            has_reports=uow.hierarchy.has_reports(user_id),
            updated_at=totals.updated_at,
        )


def get_probabilistic_forecast(
    *,
    user_id: str,
    period_id: str,
    scope: ForecastScope | None,
    caller: Identity,
    uow: ForecastingUnitOfWork,
) -> ProbabilisticForecast:
    """The distribution of the period's closed revenue for the user alone or their whole team
    (scope None: the team for a manager, else the user's own)."""
    _check_request(user_id, period_id)
    with uow:
        ensure_can_read_user(uow.users, caller, user_id)
        has_reports = uow.hierarchy.has_reports(user_id)
        chosen = scope or (ForecastScope.TEAM if has_reports else ForecastScope.OWN)
        team = chosen is ForecastScope.TEAM
        deals = (
            uow.rollups.team_deals(user_id, period_id) if team else uow.rollups.deals_of([user_id], period_id)
        )
        # A team is measured by the assigned quota; the user's own deals by what they count against.
        kind = QuotaKind.ASSIGNED if team else own_quota_kind(has_reports)
        quota = uow.quotas.committed_quota(user_id, period_id, kind)
    won = sum(deal.likely_minor for deal in deals if deal.status == DealStatus.WON)
    open_deals = [
        OpenDeal(deal.likely_minor, deal.probability) for deal in deals if deal.status == DealStatus.OPEN
    ]
    return ProbabilisticForecast(
        user_id=user_id,
        period_id=period_id,
        scope=chosen,
        quota_minor=quota,
        distribution=distribution(open_deals=open_deals, closed_won_minor=won, quota_minor=quota),
    )


def _check_request(user_id: str, period_id: str) -> None:
    check = Validator()
    check_user_id(check, "user_id", user_id)
    check_period_id(check, "period_id", period_id)
    check.raise_if_invalid()
