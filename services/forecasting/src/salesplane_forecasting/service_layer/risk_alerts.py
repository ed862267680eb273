"""Risk alerts: when a rep or a team enters or leaves a risk state (a rep flag kind), a RiskStateChanged
event on the forecasting topic and an alert record the console lists (ListRiskAlerts).

When inspections are evaluated: a periodic job of the forecasting process (main.py,
SALESPLANE_INSPECTION_ALERT_INTERVAL_SECONDS, default 300, 0 disables it) inspects, for the quarter
and the month today falls in, the team of every active manager and the own deals of every active
user, and records the transitions. The inspection is computed on read from data the consumer keeps
changing, so there is no single write to hook alerts on; a poll is the simplest trigger that sees
every cause (a deal event, a quota or forecast commit, time passing, a threshold change) and an
alert is at most one interval late. The same run records every inspected row's figures once a
day, which is what "a week ago" compares with (recorded_figures.py). InspectTeam reads do not
record transitions or figures: reads stay read-only, and the job covers the same subjects.

Subjects: the team row of a manager's own inspection (kind team) and each user's own-deals row
(kind rep): a direct report's row in their manager's inspection for an individual contributor, the
manager's own row for a manager. A manager's row in their parent's inspection is not used, so each
subject has exactly one source.

Exactly once: each subject is recorded in its own transaction that writes the state, the alert
record and the outbox event together. The state's version guards it; an evaluator that lost the
race to another (two replicas of the process) gets Conflict, rolls back and changes nothing, and the
winner's alert stands. A failure before the commit leaves the state as it was, so the next run
finds the same transition and records it then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from salesplane_forecasting.domain.inspection.recorded_figures import keep_from
from salesplane_forecasting.domain.inspection.rep_flags import RepFlag
from salesplane_forecasting.domain.inspection.risk_state import RiskAlert, Subject, SubjectKind
from salesplane_forecasting.domain.periods import check_period_id
from salesplane_forecasting.service_layer.access import ensure_can_read_user
from salesplane_forecasting.service_layer.inspection import TeamInspection, inspect_team, recorded_figures
from salesplane_forecasting.service_layer.unit_of_work import ForecastingUnitOfWork
from salesplane_platform.errors import Conflict, InvalidArgument, NotFound, Validator
from salesplane_platform.identifiers import check_user_id
from salesplane_platform.identity import ROLE_ADMIN, Identity
from salesplane_platform.page_tokens import (
    decode_page_token,
    encode_page_token,
    fingerprint,
    invalid_page_token,
    page_size_of,
)

log = logging.getLogger(__name__)

# Who the events name as their actor, and who the job inspects as: an in-process job reading every
# subtree, so an admin (a service principal reaches no user's records).
EVALUATOR = Identity("forecasting-risk-alerts", frozenset({ROLE_ADMIN}))


@dataclass(frozen=True)
class Evaluation:
    recorded: int = 0
    unchanged: int = 0
    # Changes another evaluator recorded first.
    lost_races: int = 0


def subjects_of(team: TeamInspection) -> list[tuple[Subject, tuple[RepFlag, ...]]]:
    """The team's own subject and the own-deals subject of each row not inspected as a team."""
    period_id = team.period.period_id
    found = [(Subject(SubjectKind.TEAM, team.manager_user_id, period_id), team.team.inspection.flags)]
    for row in team.rows:
        if not row.as_team:
            found.append((Subject(SubjectKind.REP, row.user_id, period_id), row.inspection.flags))
    return found


def record_transitions(
    *,
    subjects: Sequence[tuple[Subject, Sequence[RepFlag]]],
    uow_factory: Callable[[], ForecastingUnitOfWork],
    base_currency: str,
    now: datetime,
) -> Evaluation:
    """Compare each subject's flags with its stored state; record and publish each change."""
    recorded = unchanged = lost = 0
    for subject, flags in subjects:
        uow = uow_factory()
        with uow.acting_for(EVALUATOR.subject):
            state = uow.risk_states.get(subject)
            if state.evaluate(flags, now=now, currency_code=base_currency) is None:
                unchanged += 1
                continue
            try:
                uow.risk_states.save(state)
            except Conflict:
                lost += 1
                continue
            uow.commit()
            recorded += 1
    return Evaluation(recorded, unchanged, lost)


def record_figures(team: TeamInspection, uow_factory: Callable[[], ForecastingUnitOfWork]) -> None:
    """Keep the inspection's figures for "a week ago" (the first record of each day stands)."""
    uow = uow_factory()
    with uow:
        uow.figure_records.record(recorded_figures(team))
        uow.commit()


def evaluate_current_periods(
    *, uow_factory: Callable[[], ForecastingUnitOfWork], base_currency: str, now: datetime
) -> Evaluation:
    """The periodic job's step: every active manager's team and every active user's own deals, in
    the quarter and the month of today."""
    uow = uow_factory()
    with uow:
        users = [user for user in uow.users.everyone() if user.active]
        calendar = uow.settings.load().calendar
        lookback = uow.inspection_settings.load().thresholds.movement_lookback_days
        uow.figure_records.prune(keep_from(now, lookback))
        uow.commit()
    try:
        period_ids = calendar.periods_of(now.date())
    except InvalidArgument:
        log.warning("today is outside the fiscal calendar; no risk alerts evaluated")
        return Evaluation()
    active = {user.user_id for user in users}
    managers = {user.manager_user_id for user in users if user.manager_user_id in active}
    # Managers for their team and own row; top-level users for their own row; the rest appear as
    # direct reports of their manager.
    inspected = [u.user_id for u in users if u.user_id in managers or u.manager_user_id not in active]
    total = Evaluation()
    for period_id in period_ids:
        for user_id in inspected:
            try:
                team = inspect_team(
                    manager_user_id=user_id,
                    period_id=period_id,
                    caller=EVALUATOR,
                    uow=uow_factory(),
                    base_currency=base_currency,
                    now=now,
                )
            except NotFound:
                # Removed since the list was read.
                continue
            record_figures(team, uow_factory)
            subjects = subjects_of(team)
            if user_id not in managers:
                # Inspected for their own row only; an empty team row is no subject.
                subjects = [s for s in subjects if s[0].kind is SubjectKind.REP]
            done = record_transitions(
                subjects=subjects, uow_factory=uow_factory, base_currency=base_currency, now=now
            )
            total = Evaluation(
                total.recorded + done.recorded,
                total.unchanged + done.unchanged,
                total.lost_races + done.lost_races,
            )
    if total.recorded or total.lost_races:
        log.info(
            "risk alerts evaluated",
            extra={"recorded": total.recorded, "lost_races": total.lost_races},
        )
    return total


@dataclass(frozen=True)
class AlertPage:
    alerts: tuple[RiskAlert, ...]
    next_page_token: str


def list_risk_alerts(
    *,
    user_id: str,
    period_id: str,
    page_size: int,
    page_token: str,
    caller: Identity,
    uow: ForecastingUnitOfWork,
) -> AlertPage:
    """The alerts of user_id and everyone under them, newest first; the worksheets' visibility."""
    user_id = user_id or caller.subject
    check = Validator()
    check_user_id(check, "user_id", user_id)
    if period_id:
        check_period_id(check, "period_id", period_id)
    check.raise_if_invalid()
    size = page_size_of(page_size)
    query = fingerprint({"user_id": user_id, "period_id": period_id})
    before: int | None = None
    if page_token:
        position = decode_page_token(page_token, query).get("before")
        if not isinstance(position, int) or isinstance(position, bool):
            raise invalid_page_token()
        before = position
    with uow:
        ensure_can_read_user(uow.users, caller, user_id)
        if uow.users.get(user_id) is None:
            raise NotFound("user", user_id)
        rows = uow.risk_states.alerts_in_subtree(user_id, period_id or None, before_id=before, limit=size + 1)
    token = encode_page_token({"before": rows[size - 1][0]}, query) if len(rows) > size else ""
    return AlertPage(tuple(alert for _, alert in rows[:size]), token)
