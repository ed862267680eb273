"""My team (managers): a row per direct report (and the manager's own) with their latest commit,
quota and closed won; the manager's adjustments edited in place; the pipeline-inspection flags with
their reasons and money at risk; commit upward (or save a draft); what changed since my last
commit; the history of my commits against quota and actual; the forecast-vs-quota chart.

A report's worksheet and flagged deals open view-only at /team/<user_id>: the URL's user id goes to
the services as it is, and they refuse anyone outside the caller's subtree (a 403 page).

The team's numbers are a fragment polled every few seconds, so a rep's commit shows within
seconds. The adjustment forms inside it are kept across polls (hx-preserve), so a poll never
wipes what the manager is typing."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from google.protobuf.message import Message
from werkzeug.wrappers import Response

from salesplane.forecasting.v1 import inspection_pb2, settings_pb2, worksheets_pb2
from salesplane.reporting.v1 import reporting_pb2
from salesplane_gateway.console.forecast_snapshots import save_snapshot, typed_note
from salesplane_gateway.console.localisation import gettext, minor_units
from salesplane_gateway.console.pages import (
    call,
    call_all,
    form_errors,
    fragment,
    page,
    require_user,
    see_other,
    start,
    user,
)
from salesplane_gateway.console.periods import chosen_period
from salesplane_gateway.problems import Problem
from salesplane_gateway.routes_inspection import INSPECTION
from salesplane_gateway.routes_reporting import REPORTING
from salesplane_gateway.routes_worksheets import WORKSHEETS
from salesplane_gateway.routing import Rpc
from salesplane_gateway.upstream import PendingCall

# The three figures a manager may adjust, as the form names them and the service's fields.
FIGURES = ("likely", "best", "worst")
_SERVICE_FIELDS = {f"{name}_minor": name for name in FIGURES}
CHART_REPORT = "forecast_vs_quota"


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/team", "team", require_user(_team), methods=["GET"])
    # Outside /team/ so that no user id ("numbers", "commit") is shadowed by an action.
    blueprint.add_url_rule("/team-numbers", "team_numbers", require_user(_numbers), methods=["GET"])
    blueprint.add_url_rule("/team-adjust", "team_adjust", require_user(_adjust), methods=["POST"])
    blueprint.add_url_rule("/team-draft", "team_draft", require_user(_save_draft), methods=["POST"])
    blueprint.add_url_rule("/team-commit", "team_commit", require_user(_commit), methods=["POST"])
    blueprint.add_url_rule("/team/<user_id>", "team_member", require_user(_member), methods=["GET"])


def team_numbers(manager_user_id: str, period_id: str) -> dict[str, Any]:
    """The manager's worksheet and the inspection of their team: what the polled fragment shows."""
    worksheet, inspection = call_all(*_numbers_calls(manager_user_id, period_id))
    return _numbers_context(worksheet, inspection)


def _numbers_calls(manager_user_id: str, period_id: str) -> tuple[tuple[Rpc, Message], ...]:
    return (
        (
            WORKSHEETS.rpc("GetManagerWorksheet"),
            worksheets_pb2.GetWorksheetRequest(user_id=manager_user_id, period_id=period_id),
        ),
        (
            INSPECTION.rpc("InspectTeam"),
            inspection_pb2.InspectTeamRequest(manager_user_id=manager_user_id, period_id=period_id),
        ),
    )


def _numbers_context(worksheet: Any, inspection: Any) -> dict[str, Any]:
    return {
        "worksheet": worksheet,
        "inspection": inspection,
        "inspected": {row.user_id: row for row in inspection.rows},
    }


def _history_calls(manager_user_id: str, period_id: str) -> tuple[tuple[Rpc, Message], ...]:
    return (
        (
            WORKSHEETS.rpc("ListForecastCommits"),
            worksheets_pb2.ListForecastCommitsRequest(
                user_id=manager_user_id, period_id=period_id, kind=worksheets_pb2.SNAPSHOT_KIND_MANAGER
            ),
        ),
        (
            WORKSHEETS.rpc("GetForecastAccuracy"),
            worksheets_pb2.GetForecastAccuracyRequest(user_id=manager_user_id, period_id=period_id),
        ),
    )


def _start_chart(period_id: str) -> PendingCall:
    return start(
        REPORTING.rpc("RunReport"),
        reporting_pb2.RunReportRequest(report_id=CHART_REPORT, parameters={"period": period_id}),
    )


def _chart(pending: PendingCall) -> str:
    """The reporting service's forecast-vs-quota chart (its own server-rendered SVG); empty when
    the report cannot run: the page is worth having without its chart."""
    try:
        result: Any = pending.result()
    except Problem:
        return ""
    return str(result.chart_svg)


def _team_page(
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    row_errors: dict[str, dict[str, str]] | None = None,
    typed: dict[str, dict[str, str]] | None = None,
    note: str = "",
) -> Response:
    period = chosen_period()
    me = user()
    # Every service's part of the page at once: the page costs the slowest call, not their sum.
    chart = _start_chart(period.current)
    worksheet_call = _numbers_calls(me.user_id, period.current)[0]
    worksheet, commits, accuracy = call_all(worksheet_call, *_history_calls(me.user_id, period.current))
    # The inspection of a large team takes longer than a page may (a VP's: some 230 ms on the
    # embedded store): the page shows the rows at once and the flags come with the numbers
    # fragment, which htmx fetches as soon as the page is shown (hx-trigger "load") and then
    # every 5 s.
    return page(
        "console/team.html",
        status=status,
        title=gettext("My team"),
        period=period,
        errors=errors or {},
        row_errors=row_errors or {},
        typed=typed or {},
        note=note,
        notice=_notice() if status == 200 else "",
        chart_svg=_chart(chart),
        commits=commits.commits,
        accuracy=accuracy,
        inspection_pending=True,
        **_numbers_context(worksheet, inspection_pb2.TeamInspection()),
    )


def _team() -> Response:
    return _team_page()


def _numbers() -> Response:
    period = chosen_period()
    try:
        numbers = team_numbers(user().user_id, period.current)
    except Problem:
        # A failed poll keeps the numbers on screen (and the polling going): htmx 4 swaps error
        # responses too, which would replace the table with an error page. 204 swaps nothing.
        return Response(status=204)
    return fragment("console/team_numbers.html", period=period, row_errors={}, typed={}, **numbers)


def parse_adjustments(
    form: dict[str, str], currency_code: str
) -> tuple[dict[str, int | None], dict[str, str]]:
    """The three typed adjustments as minor units (None: cleared) and an error per bad field.
    All three are read before anything is sent, so a bad one saves none."""
    amounts: dict[str, int | None] = {}
    errors: dict[str, str] = {}
    for name in FIGURES:
        text = form.get(name, "").strip()
        if not text:
            amounts[name] = None
            continue
        try:
            amount = minor_units(text, currency_code)
        except ValueError:
            errors[name] = gettext("Enter an amount such as 1234.50, or leave it empty to clear it.")
            continue
        if amount < 0:
            errors[name] = gettext("Enter an amount of zero or more.")
            continue
        amounts[name] = amount
    return amounts, errors


def _adjust() -> Response:
    period = chosen_period()
    me = user()
    row_user = request.form.get("user_id", "")
    typed = {name: request.form.get(name, "") for name in FIGURES}
    # The worksheet says the currency the amounts are typed in (the organisation's base one).
    worksheet = call(
        WORKSHEETS.rpc("GetManagerWorksheet"),
        worksheets_pb2.GetWorksheetRequest(user_id=me.user_id, period_id=period.current),
    )
    amounts, errors = parse_adjustments(typed, worksheet.currency_code)
    if errors:
        return _team_page(status=422, row_errors={row_user: errors}, typed={row_user: typed})
    message = worksheets_pb2.AdjustManagerRowRequest(
        manager_user_id=me.user_id, period_id=period.current, user_id=row_user
    )
    for name, amount in amounts.items():
        if amount is not None:  # an absent figure clears that adjustment
            setattr(message, f"{name}_minor", amount)
    try:
        call(WORKSHEETS.rpc("AdjustManagerRow"), message)
    except Problem as problem:
        if problem.status in (400, 409, 422):
            found = form_errors(problem, _SERVICE_FIELDS)
            return _team_page(status=422, row_errors={row_user: found}, typed={row_user: typed})
        raise
    return see_other("console.team", period=period.current, done="adjusted")


def _save_draft() -> Response:
    return _snapshot("draft")


def _commit() -> Response:
    return _snapshot("committed")


def _snapshot(action: str) -> Response:
    period = chosen_period()
    errors = save_snapshot(action, period_id=period.current, kind=worksheets_pb2.SNAPSHOT_KIND_MANAGER)
    if errors:
        return _team_page(status=422, errors=errors, note=typed_note())
    return see_other("console.team", period=period.current, done=action)


def _member(user_id: str) -> Response:
    """A report's worksheet and flagged deals, view only. The services decide whether the caller
    may see this user; the console passes the id on unchecked."""
    period = chosen_period()
    worksheet, inspection = call_all(
        (
            WORKSHEETS.rpc("GetRepWorksheet"),
            worksheets_pb2.GetWorksheetRequest(user_id=user_id, period_id=period.current),
        ),
        (
            INSPECTION.rpc("InspectRep"),
            inspection_pb2.InspectRepRequest(user_id=user_id, period_id=period.current),
        ),
    )
    name = inspection.row.display_name or user_id
    return page(
        "console/team_member.html",
        title=gettext("%(name)s's forecast", name=name),
        name=name,
        member_id=user_id,
        period=period,
        worksheet=worksheet,
        inspection=inspection,
        stage_labels=_stage_labels(),
    )


def _stage_labels() -> dict[int, str]:
    return {
        settings_pb2.COMMIT_STAGE_UNSPECIFIED: "\u2013",  # the en dash of "no figure"
        settings_pb2.COMMIT_STAGE_INCLUDE: gettext("Include"),
        settings_pb2.COMMIT_STAGE_UPSIDE: gettext("Upside"),
        settings_pb2.COMMIT_STAGE_EXCLUDE: gettext("Exclude"),
    }


def _notice() -> str:
    return {
        "adjusted": gettext("Adjustment saved."),
        "draft": gettext("Team draft saved. Only you see it until you commit."),
        "committed": gettext("Team forecast committed. Your manager sees it now."),
    }.get(request.args.get("done", ""), "")
