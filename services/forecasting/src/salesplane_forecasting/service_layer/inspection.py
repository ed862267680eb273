"""Use cases of the pipeline inspection: a manager's team and direct reports for a period, each with
its figures and flags ranked by money at risk; a rep's flagged deals with their reasons.

Computed on read, from what forecasting keeps up to date anyway (tracked deals behind the rollups,
committed quotas, worksheet commits, the deal facts folded by the consumer): an inspection is as
fresh as the last consumed batch and costs one pass over the subtree's deals of the period.

Visibility is the worksheets': a user's figures are read by the user, every manager above them and
administrators (PermissionDenied otherwise). A direct report who manages a team is inspected as
their team (team deals, assigned quota, manager commit); the manager's own row holds their own
deals against their direct quota.

Approximations, said plainly:
* "now" is UTC; the organisation has no time zone of its own yet.
* A past period's commit, for the bias, is the latest made for it before it ended: a correction made
  once the result was known is no forecast.
* Movement since "a week ago" (movement_lookback_days) compares with the figures the risk-alert
  job recorded on that day (domain/inspection/recorded_figures.py); without the job running then,
  there is nothing to compare with and none is returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from salesplane_forecasting.domain.contributions import DealStatus
from salesplane_forecasting.domain.deals import Deal
from salesplane_forecasting.domain.forecast_settings import CommitStage
from salesplane_forecasting.domain.inspection.deal_flags import (
    DealFlag,
    deal_flags,
    ranked_deal_flags,
    slipped_minor,
)
from salesplane_forecasting.domain.inspection.deal_history import DealFacts
from salesplane_forecasting.domain.inspection.recorded_figures import (
    FiguresKey,
    RecordedFigures,
    lookback_day,
)
from salesplane_forecasting.domain.inspection.rep_figures import (
    Movement,
    PastPeriod,
    RepFigures,
    movement,
    team_figures,
)
from salesplane_forecasting.domain.inspection.rep_flags import RepInspection, inspect_rep
from salesplane_forecasting.domain.inspection.thresholds import InspectionThresholds
from salesplane_forecasting.domain.org import User
from salesplane_forecasting.domain.periods import FiscalCalendar, Period, PeriodKind, check_period_id
from salesplane_forecasting.domain.probabilistic import OpenDeal, distribution
from salesplane_forecasting.domain.worksheets import Snapshot
from salesplane_forecasting.service_layer.access import ensure_can_read_user
from salesplane_forecasting.service_layer.inspection_scope import (
    RowData,
    RowSpec,
    TeamData,
    load_rows,
    team_rows,
)
from salesplane_forecasting.service_layer.unit_of_work import ForecastingUnitOfWork
from salesplane_platform.errors import InvalidArgument, NotFound, Validator
from salesplane_platform.identifiers import check_user_id
from salesplane_platform.identity import Identity


@dataclass(frozen=True)
class SinceCommit:
    """current - the last commit's figure; None without a commit (or a quota at either time)."""

    committed_at: datetime
    closed_won_minor: int
    quota_minor: int | None
    live_forecast_vs_committed_minor: int


@dataclass(frozen=True)
class SinceRecorded:
    """current - the figures recorded movement_lookback_days ago (or the newest record before)."""

    recorded_at: datetime
    movement: Movement


@dataclass(frozen=True)
class InspectedRow:
    user_id: str
    display_name: str
    # Inspected as a team (a direct report with reports of their own, or the team row).
    as_team: bool
    inspection: RepInspection
    since_commit: SinceCommit | None
    # None for a row inspected as a team (and the team row).
    flagged_deal_count: int | None
    since_lookback: SinceRecorded | None = None

    def figures_key(self, period_id: str) -> FiguresKey:
        return FiguresKey(self.user_id, self.as_team, period_id)


@dataclass(frozen=True)
class TeamInspection:
    manager_user_id: str
    period: Period
    inspected_at: datetime
    team: InspectedRow
    # One per direct report, then the manager's own deals; most money at risk first.
    rows: tuple[InspectedRow, ...]


@dataclass(frozen=True)
class FlaggedDeal:
    deal: Deal
    flags: tuple[DealFlag, ...]

    @property
    def money_at_stake_minor(self) -> int:
        return max((f.money_at_stake_minor for f in self.flags), default=0)


@dataclass(frozen=True)
class RepDeals:
    user_id: str
    period: Period
    inspected_at: datetime
    inspection: InspectedRow
    deals: tuple[FlaggedDeal, ...]


@dataclass(frozen=True)
class _Context:
    uow: ForecastingUnitOfWork
    calendar: FiscalCalendar
    period: Period
    now: datetime
    thresholds: InspectionThresholds
    percentiles: dict[str, int]
    currency: str


def inspect_team(
    *,
    manager_user_id: str,
    period_id: str,
    caller: Identity,
    uow: ForecastingUnitOfWork,
    base_currency: str,
    now: datetime | None = None,
) -> TeamInspection:
    """The team row and a row per direct report (plus the manager's own), flags ranked."""
    manager_user_id = manager_user_id or caller.subject
    _validate(manager_user_id, "manager_user_id", period_id)
    with uow:
        ensure_can_read_user(uow.users, caller, manager_user_id)
        manager = uow.users.get(manager_user_id)
        if manager is None:
            raise NotFound("user", manager_user_id)
        context = _context(uow, period_id, base_currency, now)
        specs = team_rows(manager, uow.users.subtree(manager_user_id, direct_only=False))
        loaded, team = load_rows(uow, context.period, _past_periods(context), specs, team_of=manager_user_id)
        assert team is not None
        rows = [_row(context, spec, loaded[spec.user_id]) for spec in specs]
        team_row = _team_row(
            context,
            manager,
            team,
            [figures for _, figures in rows],
            [deal for spec in specs for deal in loaded[spec.user_id].deals],
        )
        team_row, *inspected = _with_lookback(context, [team_row, *(row for row, _ in rows)])
    ranked = sorted(
        inspected,
        key=lambda r: (-sum(f.money_at_risk_minor for f in r.inspection.flags), r.user_id),
    )
    return TeamInspection(manager_user_id, context.period, context.now, team_row, tuple(ranked))


def inspect_rep_deals(
    *,
    user_id: str,
    period_id: str,
    caller: Identity,
    uow: ForecastingUnitOfWork,
    base_currency: str,
    now: datetime | None = None,
) -> RepDeals:
    """The rep's own row and their flagged deals of the period (and pushed out of it), most money first."""
    user_id = user_id or caller.subject
    _validate(user_id, "user_id", period_id)
    with uow:
        ensure_can_read_user(uow.users, caller, user_id)
        user = uow.users.get(user_id)
        if user is None:
            raise NotFound("user", user_id)
        context = _context(uow, period_id, base_currency, now)
        spec = RowSpec(
            user_id,
            user.display_name,
            as_team=False,
            own_of_manager=uow.hierarchy.has_reports(user_id),
            owners=(user_id,),
        )
        loaded, _ = load_rows(uow, context.period, _past_periods(context), [spec])
        data = loaded[user_id]
        row, figures = _row(context, spec, data)
        (row,) = _with_lookback(context, [row])
        flagged = _flagged(context, data.facts, figures.committed_minor)
        tracked = uow.rollups.load_tracked(flagged, for_update=False)
    deals = [FlaggedDeal(tracked[i], tuple(flags)) for i, flags in flagged.items() if flags and i in tracked]
    deals.sort(key=lambda d: (-d.money_at_stake_minor, d.deal.opportunity_id))
    return RepDeals(user_id, context.period, context.now, row, tuple(deals))


def _validate(user_id: str, user_field: str, period_id: str) -> None:
    check = Validator()
    check_user_id(check, user_field, user_id)
    check_period_id(check, "period_id", period_id)
    check.raise_if_invalid()


def recorded_figures(team: TeamInspection) -> list[RecordedFigures]:
    """What the risk-alert job records of an inspection for later ones' "a week ago": the team row
    and every row, each under its own key (a report's team row is the same key in their own
    inspection; the first record of the day stands)."""
    period_id = team.period.period_id
    return [
        RecordedFigures(
            row.figures_key(period_id),
            team.inspected_at,
            replace(row.inspection.figures, history=(), pushed_out_minor=0),
        )
        for row in (team.team, *team.rows)
    ]


def _with_lookback(context: _Context, rows: Sequence[InspectedRow]) -> list[InspectedRow]:
    """The rows with their movement since the figures recorded movement_lookback_days ago."""
    period_id = context.period.period_id
    day = lookback_day(context.now, context.thresholds.movement_lookback_days)
    earlier = context.uow.figure_records.as_of([row.figures_key(period_id) for row in rows], day)
    found: list[InspectedRow] = []
    for row in rows:
        record = earlier.get(row.figures_key(period_id))
        if record is None or record.figures.currency != context.currency:
            # Nothing recorded that long ago, or in another base currency: no like-for-like movement.
            found.append(row)
            continue
        since = SinceRecorded(record.recorded_at, movement(record.figures, row.inspection.figures))
        found.append(replace(row, since_lookback=since))
    return found


def _context(
    uow: ForecastingUnitOfWork, period_id: str, currency: str, now: datetime | None = None
) -> _Context:
    calendar = uow.settings.load().calendar
    # A well-formed id outside the calendar's years is InvalidArgument on "period_id", as worksheets.
    period = calendar.period(period_id)
    thresholds = uow.inspection_settings.load().thresholds
    percentiles = uow.deal_facts.stage_percentiles(
        percentile=thresholds.stalled_percentile, min_samples=thresholds.stalled_min_samples
    )
    return _Context(uow, calendar, period, now or datetime.now(UTC), thresholds, percentiles, currency)


def _row(context: _Context, spec: RowSpec, data: RowData) -> tuple[InspectedRow, RepFigures]:
    committed = data.commit.figures.likely_minor if data.commit else None
    figures = _figures(
        context, spec.user_id, data.deals, data.quota_minor, committed, data.facts, data.history
    )
    inspection = _inspect(context, figures)
    since = _since_commit(data.commit, figures, data.quota_minor)
    # A team row holds only the facts of deals pushed past the period: its flagged deals are
    # counted in the inspection of the manager it stands for.
    count = None if spec.as_team else sum(1 for f in _flagged(context, data.facts, committed).values() if f)
    row = InspectedRow(spec.user_id, spec.display_name, spec.as_team, inspection, since, count)
    return row, figures


def _inspect(context: _Context, figures: RepFigures) -> RepInspection:
    period = context.period
    return inspect_rep(
        figures,
        period_start=_start(period.start),
        period_end=_start(period.end + timedelta(days=1)),
        now=context.now,
        thresholds=context.thresholds,
    )


def _since_commit(commit: Snapshot | None, figures: RepFigures, quota: int | None) -> SinceCommit | None:
    """How the figures moved since the subject's last commit (None before any)."""
    if commit is None:
        return None
    return SinceCommit(
        committed_at=commit.created_at,
        closed_won_minor=figures.closed_won_minor - commit.figures.closed_won_minor,
        quota_minor=None if quota is None or commit.quota_minor is None else quota - commit.quota_minor,
        live_forecast_vs_committed_minor=figures.live_forecast_minor - commit.figures.likely_minor,
    )


def _team_row(
    context: _Context, manager: User, team: TeamData, members: Sequence[RepFigures], deals: Sequence[Deal]
) -> InspectedRow:
    won = sum(d.likely_minor for d in deals if d.status == DealStatus.WON)
    chance = distribution(
        open_deals=[OpenDeal(d.likely_minor, d.probability) for d in deals if d.status == DealStatus.OPEN],
        closed_won_minor=won,
        quota_minor=team.quota_minor,
    ).probability_of_reaching_quota
    figures = team_figures(
        user_id=manager.user_id,
        currency=context.currency,
        members=members,
        quota_minor=team.quota_minor,
        committed_minor=team.commit.figures.likely_minor if team.commit else None,
        p_quota=chance,
        past_commits=team.past_commits,
    )
    inspection = _inspect(context, figures)
    since = _since_commit(team.commit, figures, team.quota_minor)
    return InspectedRow(manager.user_id, manager.display_name, True, inspection, since, None)


def _figures(
    context: _Context,
    user_id: str,
    deals: Sequence[Deal],
    quota: int | None,
    committed: int | None,
    facts: Sequence[DealFacts],
    history: tuple[PastPeriod, ...],
) -> RepFigures:
    won = sum(d.likely_minor for d in deals if d.status == DealStatus.WON)
    open_deals = [d for d in deals if d.status == DealStatus.OPEN]
    included = sum(d.likely_minor for d in open_deals if d.commit_stage is CommitStage.INCLUDE)
    spread = distribution(
        open_deals=[OpenDeal(d.likely_minor, d.probability) for d in open_deals],
        closed_won_minor=won,
        quota_minor=quota,
    )
    since = context.now - timedelta(days=context.thresholds.slipping_lookback_days)
    pushed_out = sum(slipped_minor(f, period=context.period, since=since, now=context.now) for f in facts)
    return RepFigures(
        user_id=user_id,
        currency=context.currency,
        quota_minor=quota,
        closed_won_minor=won,
        committed_minor=committed,
        live_forecast_minor=won + included,
        pipeline_minor=sum(d.likely_minor for d in open_deals),
        expected_minor=spread.expected_minor,
        p_quota=spread.probability_of_reaching_quota,
        pushed_out_minor=pushed_out,
        history=history,
    )


def _past_periods(context: _Context) -> list[Period]:
    """The trailing_periods periods before the inspected one, of its kind, oldest first (fewer at the
    start of the calendar)."""
    periods: list[Period] = []
    day = context.period.start
    for _ in range(context.thresholds.trailing_periods):
        day -= timedelta(days=1)
        try:
            quarter_id, month_id = context.calendar.periods_of(day)
            past = context.calendar.period(
                month_id if context.period.kind is PeriodKind.MONTH else quarter_id
            )
        except InvalidArgument:
            # Before the first fiscal year the calendar knows.
            break
        periods.append(past)
        day = past.start
    return list(reversed(periods))


def _flagged(
    context: _Context, facts: Sequence[DealFacts], committed: int | None
) -> dict[str, list[DealFlag]]:
    return {
        f.opportunity_id: ranked_deal_flags(
            deal_flags(
                f,
                period=context.period,
                now=context.now,
                thresholds=context.thresholds,
                rep_commit_minor=committed,
                stage_percentiles=context.percentiles,
            )
        )
        for f in facts
    }


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)
