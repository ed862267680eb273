"""Use cases of forecast worksheets: reps and managers read their worksheets, set commit stages and
adjust rows, save drafts and commit; managers above read what their teams committed and how
accurate it was.

Who may do what: a worksheet is read by its owner, the managers above them and administrators;
only its owner edits it (a manager may view but not edit a reportee's worksheet), and drafts are
shown to the owner alone. Amounts are minor units of the base currency.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from salesplane_forecasting.domain import worksheets
from salesplane_forecasting.domain.contributions import DealStatus
from salesplane_forecasting.domain.forecast_settings import CommitStage
from salesplane_forecasting.domain.org import User
from salesplane_forecasting.domain.periods import check_period_id
from salesplane_forecasting.domain.quotas import QuotaKind, own_quota_kind
from salesplane_forecasting.domain.worksheets import (
    DRAFT_SEQUENCE,
    AccuracyRow,
    Adjustment,
    Figures,
    ForecastAccuracy,
    ManagerRow,
    ManagerWorksheet,
    RepWorksheet,
    Snapshot,
    SnapshotKind,
    WorksheetDeal,
)
from salesplane_forecasting.service_layer.access import ensure_can_read_user
from salesplane_forecasting.service_layer.rollups import apply_deal_states
from salesplane_forecasting.service_layer.unit_of_work import ForecastingUnitOfWork
from salesplane_platform.errors import FailedPrecondition, NotFound, PermissionDenied, Validator
from salesplane_platform.identifiers import check_user_id, new_id
from salesplane_platform.identity import Identity
from salesplane_platform.money import MAX_AMOUNT_MINOR
from salesplane_platform.text_rules import check_text, is_single_line

_MAX_OPPORTUNITY_ID = 64


def get_rep_worksheet(
    *, user_id: str, period_id: str, caller: Identity, uow: ForecastingUnitOfWork, base_currency: str
) -> RepWorksheet:
    """The user's deals closing in the period with their live totals, quota, draft and last commit."""
    user_id = user_id or caller.subject
    _validate(user_id=user_id, period_id=period_id)
    with uow:
        ensure_can_read_user(uow.users, caller, user_id)
        return _rep_worksheet(uow, user_id, period_id, caller, base_currency)


def set_commit_stage(
    *, opportunity_id: str, commit_stage: CommitStage | None, caller: Identity, uow: ForecastingUnitOfWork
) -> WorksheetDeal:
    """The owner places an open deal by hand (None: by the ranges again); the rollups follow."""
    check = Validator()
    check.require(
        0 < len(opportunity_id) <= _MAX_OPPORTUNITY_ID and is_single_line(opportunity_id),
        "opportunity_id",
        f"must be an opportunity id of 1-{_MAX_OPPORTUNITY_ID} characters",
    )
    check.raise_if_invalid()
    with uow.acting_for(caller.subject):
        # The same lock order as an opportunity event's batch (hierarchy shared, then the deal's
        # row), so the two queue behind each other on the row instead of deadlocking.
        uow.hierarchy.lock(exclusive=False)
        deal = uow.rollups.load_tracked([opportunity_id], for_update=True).get(opportunity_id)
        if deal is None:
            raise NotFound("opportunity", opportunity_id)
        if deal.owner_user_id != caller.subject:
            raise PermissionDenied(f"only the owner of opportunity {opportunity_id} sets its commit stage")
        if deal.status != DealStatus.OPEN:
            raise FailedPrecondition("closed deals count by their outcome", reason="DEAL_CLOSED")
        if deal.close_date == date.min:
            # Tracked before close dates were kept: it cannot be placed until its next event.
            raise FailedPrecondition(
                f"opportunity {opportunity_id} has no close date yet", reason="DEAL_NOT_PLACED"
            )
        uow.adjustments.save_commit_stage(
            opportunity_id, commit_stage, set_by=caller.subject, set_at=datetime.now(UTC)
        )
        uow.audit(
            action="CommitStageSet" if commit_stage is not None else "CommitStageCleared",
            subject_type="commit_stage",
            subject_id=opportunity_id,
            state={
                "opportunity_id": opportunity_id,
                "commit_stage": commit_stage.value if commit_stage else None,
            },
        )
        # Re-placed with the override it now has, moving every rollup up the owner's chain.
        apply_deal_states(uow, {opportunity_id: deal})
        placed = uow.rollups.load_tracked([opportunity_id], for_update=False)[opportunity_id]
        uow.commit()
        return WorksheetDeal(placed, manual=commit_stage is not None)


def get_manager_worksheet(
    *, user_id: str, period_id: str, caller: Identity, uow: ForecastingUnitOfWork, base_currency: str
) -> ManagerWorksheet:
    """A row per direct report (their latest commit or the manager's adjustment) plus the manager's own."""
    user_id = user_id or caller.subject
    _validate(user_id=user_id, period_id=period_id)
    with uow:
        ensure_can_read_user(uow.users, caller, user_id)
        return _manager_worksheet(uow, user_id, period_id, caller, base_currency)


def adjust_manager_row(
    *,
    manager_user_id: str,
    period_id: str,
    user_id: str,
    likely_minor: int | None,
    best_minor: int | None,
    worst_minor: int | None,
    caller: Identity,
    uow: ForecastingUnitOfWork,
    base_currency: str,
) -> ManagerWorksheet:
    """The manager sets (or with None clears) their figures for a row; returns the worksheet."""
    manager_user_id = manager_user_id or caller.subject
    if caller.subject != manager_user_id:
        raise PermissionDenied(f"only {manager_user_id} adjusts their worksheet")
    check = _validator(user_id=manager_user_id, period_id=period_id, user_field="manager_user_id")
    check_user_id(check, "user_id", user_id)
    for field, value in (
        ("likely_minor", likely_minor),
        ("best_minor", best_minor),
        ("worst_minor", worst_minor),
    ):
        check.require(
            value is None or 0 <= value <= MAX_AMOUNT_MINOR, field, f"must be 0..{MAX_AMOUNT_MINOR} when set"
        )
    check.raise_if_invalid()
    with uow.acting_for(caller.subject):
        _ensure_has_reports(uow, manager_user_id)
        if user_id != manager_user_id:
            row_user = uow.users.get(user_id)
            if row_user is None:
                raise NotFound("user", user_id)
            if row_user.manager_user_id != manager_user_id:
                raise FailedPrecondition(
                    f"{user_id} is not a direct report of {manager_user_id}", reason="NOT_A_DIRECT_REPORT"
                )
        adjustment = Adjustment(likely_minor, best_minor, worst_minor, adjusted_at=datetime.now(UTC))
        uow.adjustments.save(
            manager_user_id=manager_user_id,
            period_id=period_id,
            user_id=user_id,
            adjustment=adjustment,
            adjusted_by=caller.subject,
        )
        uow.audit(
            action="ForecastAdjusted" if not adjustment.is_empty else "ForecastAdjustmentCleared",
            subject_type="forecast_adjustment",
            subject_id=f"{manager_user_id}/{period_id}/{user_id}",
            state={
                "manager_user_id": manager_user_id,
                "period_id": period_id,
                "user_id": user_id,
                "currency_code": base_currency,
                "likely_minor": likely_minor,
                "best_minor": best_minor,
                "worst_minor": worst_minor,
            },
        )
        worksheet = _manager_worksheet(uow, manager_user_id, period_id, caller, base_currency)
        uow.commit()
        return worksheet


def save_worksheet_draft(
    *,
    user_id: str,
    period_id: str,
    kind: SnapshotKind | None,
    note: str,
    caller: Identity,
    uow: ForecastingUnitOfWork,
    base_currency: str,
) -> Snapshot:
    """Save the worksheet as it is now as the user's draft, replacing the previous one."""
    user_id, kind = _editable(user_id, kind, caller)
    _validate(user_id=user_id, period_id=period_id, note=note)
    with uow:
        # Its changes say what committing it now would report.
        draft = _snapshot_now(
            uow, user_id, period_id, kind, caller, base_currency, note=note, committed=False
        )
        uow.snapshots.save_draft(draft)
        uow.commit()
        return draft


def commit_forecast(
    *,
    user_id: str,
    period_id: str,
    kind: SnapshotKind | None,
    note: str,
    caller: Identity,
    uow: ForecastingUnitOfWork,
    base_currency: str,
) -> Snapshot:
    """Commit the worksheet as it is now: an immutable, numbered snapshot; the draft goes."""
    user_id, kind = _editable(user_id, kind, caller)
    _validate(user_id=user_id, period_id=period_id, note=note)
    with uow.acting_for(caller.subject):
        commit = worksheets.as_new_commit(
            _snapshot_now(uow, user_id, period_id, kind, caller, base_currency, note=note, committed=True)
        )
        # Conflict when a concurrent commit took the sequence: the unique index decides.
        uow.snapshots.insert_commit(commit)
        uow.snapshots.delete_draft(user_id, period_id, kind)
        uow.commit()
        return commit


def _snapshot_now(
    uow: ForecastingUnitOfWork,
    user_id: str,
    period_id: str,
    kind: SnapshotKind,
    caller: Identity,
    base_currency: str,
    *,
    note: str,
    committed: bool,
) -> Snapshot:
    """The worksheet as it is now, as a draft or as the commit after the latest one."""
    figures, quota = _current(uow, user_id, period_id, kind, caller, base_currency)
    previous = uow.snapshots.latest_commit(user_id, period_id, kind)
    sequence = DRAFT_SEQUENCE
    if committed:
        sequence = (0 if previous is None else previous.sequence) + 1
    return Snapshot(
        snapshot_id=new_id(),
        user_id=user_id,
        period_id=period_id,
        kind=kind,
        sequence=sequence,
        committed=committed,
        figures=figures,
        quota_minor=quota,
        currency=base_currency,
        note=note,
        author=caller.subject,
        created_at=datetime.now(UTC),
        changes=worksheets.commit_changes(kind, previous, figures, base_currency),
    )


def list_forecast_commits(
    *, user_id: str, period_id: str, kind: SnapshotKind | None, caller: Identity, uow: ForecastingUnitOfWork
) -> list[Snapshot]:
    """Every commit of the user for the period (of one kind or both), newest first; never drafts."""
    user_id = user_id or caller.subject
    _validate(user_id=user_id, period_id=period_id)
    with uow:
        ensure_can_read_user(uow.users, caller, user_id)
        return uow.snapshots.commits(user_id, period_id, kind)


def get_forecast_accuracy(
    *, user_id: str, period_id: str, caller: Identity, uow: ForecastingUnitOfWork, today: date
) -> ForecastAccuracy:
    """Latest commits against live closed won: per direct report, the user's own and their team's."""
    user_id = user_id or caller.subject
    _validate(user_id=user_id, period_id=period_id)
    with uow:
        ensure_can_read_user(uow.users, caller, user_id)
        # Raises InvalidArgument on period_id for a year the stored calendar has no dates for.
        period = uow.settings.load().calendar.period(period_id)
        team = _direct_reports(uow, user_id)
        has_reports = bool(team)
        commits = uow.snapshots.latest_commits(
            [
                *((report.user_id, kind) for report, kind in team),
                (user_id, SnapshotKind.REP),
                (user_id, SnapshotKind.MANAGER),
            ],
            period_id,
        )
        quotas = uow.quotas.committed_quotas([report.user_id for report, _ in team], period_id)
        rows = tuple(
            AccuracyRow(
                user_id=report.user_id,
                display_name=report.display_name,
                commit=commits.get((report.user_id, kind)),
                actual_closed_won_minor=uow.rollups.read_rollup(report.user_id, period_id).team.won_minor,
                quota_minor=quotas.get(report.user_id),
            )
            for report, kind in team
        )
        rollup = uow.rollups.read_rollup(user_id, period_id)
        name = _display_name(uow, user_id)
        own = AccuracyRow(
            user_id=user_id,
            display_name=name,
            commit=commits.get((user_id, SnapshotKind.REP)),
            actual_closed_won_minor=rollup.own.won_minor,
            quota_minor=_own_quota(uow, user_id, period_id, has_reports=has_reports),
        )
        whole = AccuracyRow(
            user_id=user_id,
            display_name=name,
            commit=commits.get((user_id, SnapshotKind.MANAGER if has_reports else SnapshotKind.REP)),
            actual_closed_won_minor=rollup.team.won_minor,
            quota_minor=uow.quotas.committed_quota(user_id, period_id, kind=QuotaKind.ASSIGNED),
        )
        return ForecastAccuracy(
            user_id=user_id,
            period_id=period_id,
            period_closed=period.end < today,
            rows=rows,
            own=own,
            team=whole,
        )


def _rep_worksheet(
    uow: ForecastingUnitOfWork, user_id: str, period_id: str, caller: Identity, currency: str
) -> RepWorksheet:
    settings = uow.settings.load()
    deals = uow.rollups.deals_of([user_id], period_id)
    overridden = uow.rollups.overrides_of([deal.opportunity_id for deal in deals])
    items = tuple(
        WorksheetDeal(deal, worksheets.is_manual(deal, deal.opportunity_id in overridden)) for deal in deals
    )
    # The live own rollup rather than a sum of the rows: it is what every other reader sees.
    totals = uow.rollups.read_rollup(user_id, period_id).own
    last_commit = uow.snapshots.latest_commit(user_id, period_id, SnapshotKind.REP)
    has_reports = uow.hierarchy.has_reports(user_id)
    figures = worksheets.rep_figures(deals, totals)
    return RepWorksheet(
        user_id=user_id,
        period_id=period_id,
        deals=items,
        totals=totals,
        quota_minor=_own_quota(uow, user_id, period_id, has_reports=has_reports),
        draft=_draft_for(uow, caller, user_id, period_id, SnapshotKind.REP),
        last_commit=last_commit,
        comparison=worksheets.compare(last_commit, figures, currency),
        show_likely=settings.show_likely,
        show_best=settings.show_best,
        show_worst=settings.show_worst,
    )


def _manager_worksheet(
    uow: ForecastingUnitOfWork, manager_user_id: str, period_id: str, caller: Identity, currency: str
) -> ManagerWorksheet:
    team = _direct_reports(uow, manager_user_id)
    if not team:
        raise _no_reports(manager_user_id)
    commits = uow.snapshots.latest_commits(
        [*((report.user_id, kind) for report, kind in team), (manager_user_id, SnapshotKind.REP)],
        period_id,
    )
    adjustments = uow.adjustments.of_manager(manager_user_id, period_id)
    quotas = uow.quotas.committed_quotas([report.user_id for report, _ in team], period_id)
    rollup = uow.rollups.read_rollup(manager_user_id, period_id)
    own_row = ManagerRow(
        user_id=manager_user_id,
        display_name=_display_name(uow, manager_user_id),
        own=True,
        latest_commit=commits.get((manager_user_id, SnapshotKind.REP)),
        adjustment=adjustments.get(manager_user_id),
        quota_minor=_own_quota(uow, manager_user_id, period_id, has_reports=True),
        closed_won_minor=rollup.own.won_minor,
    )
    report_rows = [
        ManagerRow(
            user_id=report.user_id,
            display_name=report.display_name,
            own=False,
            latest_commit=commits.get((report.user_id, kind)),
            adjustment=adjustments.get(report.user_id),
            quota_minor=quotas.get(report.user_id),
            # Live: the report's whole team, so a sub-manager's row shows what their team closed.
            closed_won_minor=uow.rollups.read_rollup(report.user_id, period_id).team.won_minor,
        )
        for report, kind in team
    ]
    rows = (own_row, *report_rows)
    last_commit = uow.snapshots.latest_commit(manager_user_id, period_id, SnapshotKind.MANAGER)
    figures = worksheets.manager_figures(rows, rollup.team.won_minor)
    return ManagerWorksheet(
        user_id=manager_user_id,
        period_id=period_id,
        rows=rows,
        quota_minor=uow.quotas.committed_quota(manager_user_id, period_id, kind=QuotaKind.ASSIGNED),
        team=rollup.team,
        draft=_draft_for(uow, caller, manager_user_id, period_id, SnapshotKind.MANAGER),
        last_commit=last_commit,
        comparison=worksheets.compare(last_commit, figures, currency),
    )


def _current(
    uow: ForecastingUnitOfWork,
    user_id: str,
    period_id: str,
    kind: SnapshotKind,
    caller: Identity,
    currency: str,
) -> tuple[Figures, int | None]:
    """What a snapshot of the worksheet of this kind holds now, and the quota it is measured by."""
    if kind is SnapshotKind.REP:
        rep = _rep_worksheet(uow, user_id, period_id, caller, currency)
        return rep.figures, rep.quota_minor
    manager = _manager_worksheet(uow, user_id, period_id, caller, currency)
    return manager.figures, manager.quota_minor


def _direct_reports(uow: ForecastingUnitOfWork, manager_user_id: str) -> list[tuple[User, SnapshotKind]]:
    """Each direct report with the kind of commit their row shows: a team commit for a manager."""
    reports = uow.users.subtree(manager_user_id, direct_only=True)
    return [
        (report, SnapshotKind.MANAGER if uow.hierarchy.has_reports(report.user_id) else SnapshotKind.REP)
        for report in reports
    ]


def _own_quota(uow: ForecastingUnitOfWork, user_id: str, period_id: str, *, has_reports: bool) -> int | None:
    """The quota a user's own deals are measured by."""
    return uow.quotas.committed_quota(user_id, period_id, kind=own_quota_kind(has_reports))


def _draft_for(
    uow: ForecastingUnitOfWork, caller: Identity, user_id: str, period_id: str, kind: SnapshotKind
) -> Snapshot | None:
    # Drafts are work in progress: nobody but their owner sees them, administrators included.
    if caller.subject != user_id:
        return None
    return uow.snapshots.draft(user_id, period_id, kind)


def _display_name(uow: ForecastingUnitOfWork, user_id: str) -> str:
    user = uow.users.get(user_id)
    return user_id if user is None else user.display_name


def _ensure_has_reports(uow: ForecastingUnitOfWork, user_id: str) -> None:
    if not uow.hierarchy.has_reports(user_id):
        raise _no_reports(user_id)


def _no_reports(user_id: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"{user_id} has no direct reports, so no manager worksheet", reason="NO_DIRECT_REPORTS"
    )


def _editable(user_id: str, kind: SnapshotKind | None, caller: Identity) -> tuple[str, SnapshotKind]:
    """The worksheet's owner (only they save or commit it) and its kind (unspecified: rep)."""
    user_id = user_id or caller.subject
    if caller.subject != user_id:
        raise PermissionDenied(f"only {user_id} saves and commits their forecast")
    return user_id, kind or SnapshotKind.REP


def _validate(*, user_id: str, period_id: str, note: str = "") -> None:
    _validator(user_id=user_id, period_id=period_id, note=note).raise_if_invalid()


def _validator(*, user_id: str, period_id: str, note: str = "", user_field: str = "user_id") -> Validator:
    check = Validator()
    check_user_id(check, user_field, user_id)
    check_period_id(check, "period_id", period_id)
    check_text(check, "note", note, worksheets.MAX_NOTE, multiline=True)
    return check
