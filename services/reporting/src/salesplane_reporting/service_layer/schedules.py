"""Use cases of scheduled reports: keep a schedule, and run the due ones, each in its owner's scope,
mailing the result to the schedule's recipients and keeping what it said that day.

Replicas may all poll at once: a schedule is claimed (its next run moved on, its version bumped, only
if nobody bumped it first) in a short transaction of its own before it runs, so one replica runs it.
A claim is never undone, so a run is at most once: a crash after the claim skips that day's run
rather than mailing it twice."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from html import escape
from zoneinfo import ZoneInfo

from salesplane_platform.errors import DomainError, FieldViolation, InvalidArgument, NotFound, Unavailable
from salesplane_platform.identity import Identity
from salesplane_reporting.domain.report import ReportResult
from salesplane_reporting.domain.schedules import Schedule, next_run_after, validate_schedule
from salesplane_reporting.service_layer import reports
from salesplane_reporting.service_layer.unit_of_work import (
    ReportDelivery,
    ReportRenderer,
    SchedulingUnitOfWork,
)

log = logging.getLogger(__name__)

DEFAULT_RUN_LIMIT = 20
MAX_RUN_LIMIT = 200
# Schedules one poll claims at most; the rest stay due for the next poll or another replica.
DUE_BATCH = 20
# Rows shown in the e-mail itself; the attached CSV has them all.
EMAIL_TABLE_ROWS = 50
OWNER_INACTIVE = "owner inactive"


class RunStatus(StrEnum):
    DELIVERED = "delivered"
    # The report could not run, or the mail server did not take the message (see the detail).
    FAILED = "failed"
    # No SMTP server is configured: the run is kept, nothing is sent.
    NO_DELIVERY = "no_delivery"


@dataclass(frozen=True)
class ScheduledReport:
    schedule_id: str
    report_id: str
    # Whose scope the report runs in.
    owner_user_id: str
    # `schedule.active`: whether it runs at all.
    schedule: Schedule
    next_run_at: datetime
    version: int


@dataclass(frozen=True)
class ReportRun:
    run_id: str
    schedule_id: str
    report_id: str
    run_at: datetime
    status: RunStatus
    detail: str
    row_count: int
    # The report as it was that day (empty when it could not run).
    result_csv: bytes
    chart_svg: str


def create_schedule(
    *, caller: Identity, uow: SchedulingUnitOfWork, report_id: str, schedule: Schedule, now: datetime
) -> ScheduledReport:
    """Schedule a report the caller may read; it will run in the caller's scope."""
    validate_schedule(schedule)
    found = reports.get_report(report_id=report_id, caller=caller, uow=uow)
    scheduled = ScheduledReport(
        schedule_id=str(uuid.uuid4()),
        report_id=found.summary.id,
        owner_user_id=caller.subject,
        schedule=schedule,
        next_run_at=next_run_after(schedule, now),
        version=1,
    )
    with uow.acting_for(caller.subject):
        uow.schedules.add(scheduled)
        uow.audit(
            action="ReportScheduled",
            subject_type="report_schedule",
            subject_id=scheduled.schedule_id,
            state={
                "report_id": scheduled.report_id,
                "owner_user_id": scheduled.owner_user_id,
                "frequency": schedule.frequency.value,
                "time_of_day": schedule.time_of_day.isoformat(),
                "time_zone": schedule.time_zone,
                "weekday": schedule.weekday,
                "day_of_month": schedule.day_of_month,
                "recipients": list(schedule.recipients),
                "active": schedule.active,
            },
        )
        uow.commit()
    return scheduled


def list_schedules(
    *, caller: Identity, uow: SchedulingUnitOfWork, report_id: str = ""
) -> list[ScheduledReport]:
    """The caller's own schedules (an admin's: everyone's), of one report if `report_id` is given."""
    with uow:
        owner = None if caller.is_admin else caller.subject
        return list(uow.schedules.listed(owner_user_id=owner, report_id=report_id))


def delete_schedule(*, caller: Identity, uow: SchedulingUnitOfWork, schedule_id: str) -> None:
    """Delete a schedule of the caller's (an admin: anyone's) and the runs it kept."""
    with uow.acting_for(caller.subject):
        _visible(caller, uow, schedule_id)
        uow.runs.remove_all(schedule_id)
        uow.schedules.remove(schedule_id)
        uow.audit(action="ScheduleDeleted", subject_type="report_schedule", subject_id=schedule_id, state={})
        uow.commit()


def list_runs(
    *, caller: Identity, uow: SchedulingUnitOfWork, schedule_id: str, limit: int = 0
) -> list[ReportRun]:
    """The newest runs of a schedule of the caller's (an admin: anyone's); `limit` 0 means 20,
    more than 200 means 200."""
    if limit < 0:
        raise InvalidArgument(FieldViolation("limit", "must not be negative"))
    count = min(limit or DEFAULT_RUN_LIMIT, MAX_RUN_LIMIT)
    with uow:
        _visible(caller, uow, schedule_id)
        return list(uow.runs.newest(schedule_id, limit=count))


def _visible(caller: Identity, uow: SchedulingUnitOfWork, schedule_id: str) -> ScheduledReport:
    if not schedule_id:
        raise InvalidArgument(FieldViolation("schedule_id", "must name a schedule"))
    scheduled = uow.schedules.get(schedule_id)
    if scheduled is None or not (caller.is_admin or scheduled.owner_user_id == caller.subject):
        # Someone else's schedule is as good as absent: its existence is not revealed.
        raise NotFound("schedule", schedule_id)
    return scheduled


def run_due_schedules(
    *,
    uow_factory: Callable[[], SchedulingUnitOfWork],
    delivery: ReportDelivery | None,
    renderer: ReportRenderer,
    now: datetime,
    batch: int = DUE_BATCH,
) -> int:
    """Run the schedules due at `now` that this call claims (the rest another replica took);
    returns how many it ran. `delivery` None: no mail server, runs are kept as no_delivery.

    Whatever goes wrong with one schedule (its report gone, its owner inactive, the mail server
    down) is kept as a failed run; the others run all the same."""
    with uow_factory() as uow:
        due = list(uow.schedules.due(now, limit=batch))
    ran = 0
    for scheduled in due:
        try:
            if _run_one(scheduled, uow_factory, delivery, renderer, now):
                ran += 1
        except Exception:
            # Even keeping the failure failed (the database is down): the claim stands, so the
            # schedule runs again at its next time, not in a loop now.
            log.exception("a scheduled report could not be run", extra={"schedule_id": scheduled.schedule_id})
    return ran


def _run_one(
    scheduled: ScheduledReport,
    uow_factory: Callable[[], SchedulingUnitOfWork],
    delivery: ReportDelivery | None,
    renderer: ReportRenderer,
    now: datetime,
) -> bool:
    """Claim and run one due schedule; False when another replica claimed it first."""
    invalid = ""
    try:
        following = next_run_after(scheduled.schedule, now)
    except InvalidArgument as error:
        # Stored valid, no longer so (its time zone left the tz database): it cannot run again.
        following, invalid = scheduled.next_run_at, f"the schedule is no longer valid ({error.message})"
    with uow_factory() as uow:
        claimed = uow.schedules.claim(
            scheduled.schedule_id, expected_version=scheduled.version, next_run_at=following
        )
        uow.commit()
    if not claimed:
        return False
    if invalid:
        _keep(
            uow_factory, _failed(scheduled, now, f"{invalid}; the schedule was deactivated"), deactivate=True
        )
        return True
    try:
        run, deactivate = _execute(scheduled, uow_factory, delivery, renderer, now)
    except Exception as error:
        log.exception("a scheduled report failed", extra={"schedule_id": scheduled.schedule_id})
        run, deactivate = (
            _failed(scheduled, now, f"the run failed: {type(error).__name__}; see the service log"),
            False,
        )
    _keep(uow_factory, run, deactivate=deactivate)
    log.info(
        "scheduled report run",
        extra={"schedule_id": scheduled.schedule_id, "status": run.status.value, "rows": run.row_count},
    )
    return True


def _execute(
    scheduled: ScheduledReport,
    uow_factory: Callable[[], SchedulingUnitOfWork],
    delivery: ReportDelivery | None,
    renderer: ReportRenderer,
    now: datetime,
) -> tuple[ReportRun, bool]:
    """The run of a claimed schedule, and whether the schedule must be deactivated."""
    owner_id = scheduled.owner_user_id
    with uow_factory() as uow:
        found = uow.user_roles(owner_id)
    if found is None or not found[1]:
        detail = f"{OWNER_INACTIVE}: {owner_id} is not an active user any more; the schedule was deactivated"
        return _failed(scheduled, now, detail), True
    owner = Identity(subject=owner_id, roles=found[0])
    try:
        result = reports.run_report(caller=owner, uow=uow_factory(), report_id=scheduled.report_id, now=now)
    except DomainError as error:
        # The report was deleted or is no longer shared with the owner, or its definition no
        # longer reads: the owner sees why in the run.
        return _failed(scheduled, now, f"the report could not run: {error.message}"), False
    csv = renderer.csv(result)
    svg = renderer.chart_svg(result)
    local_date = now.astimezone(ZoneInfo(scheduled.schedule.time_zone)).date().isoformat()
    status, detail = _deliver(scheduled, result, csv, svg, local_date, delivery, renderer)
    run = ReportRun(
        run_id=str(uuid.uuid4()),
        schedule_id=scheduled.schedule_id,
        report_id=scheduled.report_id,
        run_at=now,
        status=status,
        detail=detail,
        row_count=len(result.rows),
        result_csv=csv,
        chart_svg=svg,
    )
    return run, False


def _deliver(
    scheduled: ScheduledReport,
    result: ReportResult,
    csv: bytes,
    svg: str,
    local_date: str,
    delivery: ReportDelivery | None,
    renderer: ReportRenderer,
) -> tuple[RunStatus, str]:
    recipients = scheduled.schedule.recipients
    if delivery is None:
        return RunStatus.NO_DELIVERY, "no mail server is configured (SALESPLANE_SMTP_HOST); nothing was sent"
    try:
        delivery.deliver(
            recipients=recipients,
            subject=f"{result.title} \N{EM DASH} {local_date}",
            text_body=_text_body(result, local_date, bool(svg)),
            html_body=_html_body(
                result, local_date, renderer.html_table(result, max_rows=EMAIL_TABLE_ROWS), svg
            ),
            csv_filename=csv_filename(result.title),
            csv=csv,
            chart_svg=svg,
        )
    except Unavailable as error:
        return RunStatus.FAILED, f"the e-mail was not delivered: {error.message}"
    count = len(recipients)
    return RunStatus.DELIVERED, f"sent to {count} recipient{'' if count == 1 else 's'}"


def _failed(scheduled: ScheduledReport, now: datetime, detail: str) -> ReportRun:
    return ReportRun(
        run_id=str(uuid.uuid4()),
        schedule_id=scheduled.schedule_id,
        report_id=scheduled.report_id,
        run_at=now,
        status=RunStatus.FAILED,
        detail=detail,
        row_count=0,
        result_csv=b"",
        chart_svg="",
    )


def _keep(uow_factory: Callable[[], SchedulingUnitOfWork], run: ReportRun, *, deactivate: bool) -> None:
    with uow_factory() as uow:
        uow.runs.add(run)
        if deactivate:
            uow.schedules.deactivate(run.schedule_id)
        uow.commit()


def csv_filename(title: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower() or "report"
    return f"{stem[:80]}.csv"


def _rows_sentence(result: ReportResult) -> str:
    count = len(result.rows)
    sentence = f"{count} row{'' if count == 1 else 's'}"
    if count > EMAIL_TABLE_ROWS:
        sentence += f"; the first {EMAIL_TABLE_ROWS} are shown, the attached CSV has them all"
    if result.truncated:
        sentence += f". The report stops at its row limit of {result.row_limit}: more rows matched"
    return sentence + "."


def _text_body(result: ReportResult, local_date: str, has_chart: bool) -> str:
    lines = [result.title, local_date, "", _rows_sentence(result)]
    lines.append("The result is attached as CSV" + (", the chart as chart.svg." if has_chart else "."))
    if result.notes:
        lines += ["", "Notes:", *(f"- {note}" for note in result.notes)]
    return "\n".join(lines) + "\n"


def _html_body(result: ReportResult, local_date: str, table: str, svg: str) -> str:
    parts = [
        f"<h2>{escape(result.title)}</h2>",
        f"<p>{escape(local_date)}: {escape(_rows_sentence(result))}</p>",
        table,
    ]
    if svg:
        parts.append(f"<div>{svg}</div>")
    if result.notes:
        parts.append("<ul>" + "".join(f"<li>{escape(note)}</li>" for note in result.notes) + "</ul>")
    return "\n".join(parts)
