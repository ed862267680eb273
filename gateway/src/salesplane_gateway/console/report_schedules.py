"""A report's e-mail schedules on its page: the user's schedules of it, a form to add one (daily,
weekly or monthly, at a local time, to a list of addresses) and a button to delete each. The
reporting service checks every value; its problems show beside the schedule form's fields."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, request
from werkzeug.wrappers import Response

from salesplane.reporting.v1 import reporting_pb2
from salesplane_gateway.console.localisation import current_locale, gettext
from salesplane_gateway.console.pages import call, form_errors, require_user, see_other
from salesplane_gateway.problems import Problem
from salesplane_gateway.routes_reporting import REPORTING

FREQUENCIES = {
    "daily": reporting_pb2.FREQUENCY_DAILY,
    "weekly": reporting_pb2.FREQUENCY_WEEKLY,
    "monthly": reporting_pb2.FREQUENCY_MONTHLY,
}
FREQUENCY_NAMES = {number: name for name, number in FREQUENCIES.items()}
FIELDS = ("frequency", "time_of_day", "time_zone", "weekday", "day_of_month", "recipients")
_SEPARATORS = re.compile(r"[\s,;]+")


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule(
        "/reports/<report_id>/schedules", "report_schedule_create", require_user(_create), methods=["POST"]
    )
    blueprint.add_url_rule(
        "/reports/<report_id>/schedules/<schedule_id>/delete",
        "report_schedule_delete",
        require_user(_delete),
        methods=["POST"],
    )


def schedule_context(report_id: str, errors: dict[str, str], values: dict[str, str]) -> dict[str, Any]:
    schedules = call(
        REPORTING.rpc("ListSchedules"), reporting_pb2.ListSchedulesRequest(report_id=report_id)
    ).schedules
    return {
        "schedules": schedules,
        "schedule_errors": errors,
        "schedule_values": values
        or {
            "frequency": "weekly",
            "time_of_day": "08:00",
            "time_zone": current_locale().zone.key,
            "weekday": "1",
        },
        "frequency_words": frequency_words(),
        "weekday_words": weekday_words(),
    }


def frequency_words() -> dict[str, str]:
    return {"daily": gettext("Daily"), "weekly": gettext("Weekly"), "monthly": gettext("Monthly")}


def weekday_words() -> dict[int, str]:
    return {
        1: gettext("Monday"),
        2: gettext("Tuesday"),
        3: gettext("Wednesday"),
        4: gettext("Thursday"),
        5: gettext("Friday"),
        6: gettext("Saturday"),
        7: gettext("Sunday"),
    }


def _create(report_id: str) -> Response:
    # Imported here: the report page imports this module for its schedules.
    from salesplane_gateway.console.reports_screen import report_page

    values = {name: request.form.get(name, "").strip() for name in FIELDS}
    schedule, errors = _schedule(report_id, values)
    if errors:
        return report_page(report_id, schedule_errors=errors, schedule_values=values)
    try:
        call(REPORTING.rpc("CreateSchedule"), reporting_pb2.CreateScheduleRequest(schedule=schedule))
    except Problem as problem:
        if problem.status not in (400, 422):
            raise
        names = {v.field: _form_field(v.field) for v in problem.errors}
        return report_page(report_id, schedule_errors=form_errors(problem, names), schedule_values=values)
    return see_other("console.report", report_id=report_id, done="scheduled")


def _schedule(report_id: str, values: dict[str, str]) -> tuple[reporting_pb2.ReportSchedule, dict[str, str]]:
    errors: dict[str, str] = {}
    frequency = FREQUENCIES.get(values["frequency"])
    if frequency is None:
        errors["frequency"] = gettext("Choose daily, weekly or monthly.")
    weekday = day_of_month = 0
    if values["frequency"] == "weekly":
        weekday = _whole(values["weekday"], 1, 7, "weekday", errors)
    if values["frequency"] == "monthly":
        day_of_month = _whole(values["day_of_month"], 1, 31, "day_of_month", errors)
    recipients = [r for r in _SEPARATORS.split(values["recipients"]) if r]
    if not recipients:
        errors["recipients"] = gettext("Enter at least one e-mail address.")
    schedule = reporting_pb2.ReportSchedule(
        report_id=report_id,
        frequency=frequency or reporting_pb2.FREQUENCY_UNSPECIFIED,
        time_of_day=values["time_of_day"],
        time_zone=values["time_zone"],
        weekday=weekday,
        day_of_month=day_of_month,
        recipients=recipients,
    )
    return schedule, errors


def _whole(text: str, low: int, high: int, name: str, errors: dict[str, str]) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if not low <= number <= high:
        errors[name] = gettext("Choose a day from %(low)s to %(high)s.", low=low, high=high)
        return 0
    return number


def _form_field(path: str) -> str:
    name = path.removeprefix("schedule.").split("[")[0].split(".")[0]
    return name if name in FIELDS else ""


def _delete(report_id: str, schedule_id: str) -> Response:
    call(REPORTING.rpc("DeleteSchedule"), reporting_pb2.DeleteScheduleRequest(schedule_id=schedule_id))
    return see_other("console.report", report_id=report_id, done="unscheduled")
