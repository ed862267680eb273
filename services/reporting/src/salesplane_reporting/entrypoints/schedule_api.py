"""The schedule RPCs: protobuf in, scheduling use case, protobuf out.

The API counts weekdays 1 (Monday) to 7 (Sunday) and writes times as "HH:MM"; the domain counts
weekdays 0 to 6 and holds a `time`. On input, schedule_id, owner_user_id, next_run_time and active
are output only: a schedule is created active, for the caller."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from typing import cast

from salesplane.reporting.v1 import reporting_pb2
from salesplane_platform.errors import FailedPrecondition, FieldViolation, InvalidArgument
from salesplane_platform.identity import Identity
from salesplane_reporting.domain.schedules import Frequency, Schedule
from salesplane_reporting.service_layer import schedules
from salesplane_reporting.service_layer.schedules import ReportRun, ScheduledReport
from salesplane_reporting.service_layer.unit_of_work import ReportingUnitOfWork, SchedulingUnitOfWork

FREQUENCIES = {
    reporting_pb2.FREQUENCY_DAILY: Frequency.DAILY,
    reporting_pb2.FREQUENCY_WEEKLY: Frequency.WEEKLY,
    reporting_pb2.FREQUENCY_MONTHLY: Frequency.MONTHLY,
}
FREQUENCIES_TO_PROTO = {frequency: number for number, frequency in FREQUENCIES.items()}
_TIME_OF_DAY = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")


def _scheduling(uow: ReportingUnitOfWork) -> SchedulingUnitOfWork:
    # The servicer is typed with the reporting unit of work; the SQL one it is given also keeps
    # schedules. Checked, so a unit of work without them fails clearly rather than deep inside.
    if not callable(getattr(uow, "user_roles", None)):
        raise FailedPrecondition(f"{type(uow).__name__} keeps no report schedules")
    return cast(SchedulingUnitOfWork, uow)


def schedule_from_proto(message: reporting_pb2.ReportSchedule, *, field: str = "schedule") -> Schedule:
    """The domain schedule of a request; InvalidArgument for what only the API can judge (the
    enum, the "HH:MM" text, the 1..7 weekday). The domain validates the rest."""
    problems: list[FieldViolation] = []
    frequency = FREQUENCIES.get(message.frequency)
    if frequency is None:
        problems.append(FieldViolation(f"{field}.frequency", "must be DAILY, WEEKLY or MONTHLY"))
    at: time | None = None
    if _TIME_OF_DAY.fullmatch(message.time_of_day):
        at = time.fromisoformat(message.time_of_day)
    else:
        problems.append(
            FieldViolation(f"{field}.time_of_day", 'must be a local time "HH:MM", 00:00 to 23:59')
        )
    weekday: int | None = None
    if frequency is Frequency.WEEKLY:
        if 1 <= message.weekday <= 7:
            weekday = message.weekday - 1
        else:
            problems.append(
                FieldViolation(
                    f"{field}.weekday", "a weekly schedule needs a weekday from 1 (Monday) to 7 (Sunday)"
                )
            )
    elif frequency is not None and message.weekday:
        problems.append(FieldViolation(f"{field}.weekday", "only a weekly schedule has a weekday"))
    if problems:
        raise InvalidArgument(problems)
    assert frequency is not None and at is not None
    return Schedule(
        frequency=frequency,
        time_of_day=at,
        time_zone=message.time_zone,
        weekday=weekday,
        day_of_month=message.day_of_month or None,
        recipients=tuple(message.recipients),
    )


def schedule_to_proto(scheduled: ScheduledReport) -> reporting_pb2.ReportSchedule:
    schedule = scheduled.schedule
    message = reporting_pb2.ReportSchedule(
        schedule_id=scheduled.schedule_id,
        report_id=scheduled.report_id,
        frequency=FREQUENCIES_TO_PROTO[schedule.frequency],
        time_of_day=schedule.time_of_day.strftime("%H:%M"),
        time_zone=schedule.time_zone,
        weekday=schedule.weekday + 1 if schedule.weekday is not None else 0,
        day_of_month=schedule.day_of_month or 0,
        recipients=list(schedule.recipients),
        active=schedule.active,
        owner_user_id=scheduled.owner_user_id,
    )
    message.next_run_time.FromDatetime(scheduled.next_run_at.astimezone(UTC))
    return message


def run_to_proto(run: ReportRun) -> reporting_pb2.ReportRun:
    message = reporting_pb2.ReportRun(
        run_id=run.run_id,
        schedule_id=run.schedule_id,
        report_id=run.report_id,
        status=run.status.value,
        detail=run.detail,
        row_count=run.row_count,
        result_csv=run.result_csv,
    )
    message.run_time.FromDatetime(run.run_at.astimezone(UTC))
    return message


def create_schedule(
    request: reporting_pb2.CreateScheduleRequest, caller: Identity, uow: ReportingUnitOfWork
) -> reporting_pb2.ReportSchedule:
    message = request.schedule
    problems = [] if message.report_id else [FieldViolation("schedule.report_id", "must name a report")]
    try:
        schedule = schedule_from_proto(message)
    except InvalidArgument as error:
        raise InvalidArgument(problems + error.violations) from None
    if problems:
        raise InvalidArgument(problems)
    scheduled = schedules.create_schedule(
        caller=caller,
        uow=_scheduling(uow),
        report_id=message.report_id,
        schedule=schedule,
        now=datetime.now(UTC),
    )
    return schedule_to_proto(scheduled)


def list_schedules(
    request: reporting_pb2.ListSchedulesRequest, caller: Identity, uow: ReportingUnitOfWork
) -> reporting_pb2.ListSchedulesResponse:
    found = schedules.list_schedules(caller=caller, uow=_scheduling(uow), report_id=request.report_id)
    return reporting_pb2.ListSchedulesResponse(schedules=[schedule_to_proto(s) for s in found])


def delete_schedule(
    request: reporting_pb2.DeleteScheduleRequest, caller: Identity, uow: ReportingUnitOfWork
) -> None:
    schedules.delete_schedule(caller=caller, uow=_scheduling(uow), schedule_id=request.schedule_id)


def list_runs(
    request: reporting_pb2.ListReportRunsRequest, caller: Identity, uow: ReportingUnitOfWork
) -> reporting_pb2.ListReportRunsResponse:
    runs = schedules.list_runs(
        caller=caller, uow=_scheduling(uow), schedule_id=request.schedule_id, limit=request.limit
    )
    return reporting_pb2.ListReportRunsResponse(runs=[run_to_proto(r) for r in runs])
