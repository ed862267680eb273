"""Home: my forecast for the period (quota, closed won, committed, live forecast, pipeline,
attainment, P(reaching quota), a chart) and my worksheet (commit stage by hand or by the ranges,
save a draft, commit with a note, what changed since the last commit).

The totals are a fragment polled every few seconds, so a deal changed anywhere shows here without
a reload."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from google.protobuf.message import Message
from werkzeug.wrappers import Response

from salesplane.forecasting.v1 import forecasting_pb2, settings_pb2, worksheets_pb2
from salesplane_gateway.console.bullet_chart import progress_chart
from salesplane_gateway.console.forecast_snapshots import save_snapshot, typed_note
from salesplane_gateway.console.localisation import gettext
from salesplane_gateway.console.pages import (
    call,
    call_all,
    fragment,
    page,
    require_user,
    see_other,
    user,
)
from salesplane_gateway.console.periods import chosen_period
from salesplane_gateway.problems import Problem
from salesplane_gateway.routes_forecasting import FORECASTING
from salesplane_gateway.routes_worksheets import WORKSHEETS
from salesplane_gateway.routing import Rpc

COMMIT_STAGES = {
    "auto": settings_pb2.COMMIT_STAGE_UNSPECIFIED,
    "include": settings_pb2.COMMIT_STAGE_INCLUDE,
    "upside": settings_pb2.COMMIT_STAGE_UPSIDE,
    "exclude": settings_pb2.COMMIT_STAGE_EXCLUDE,
}
STAGE_NAMES = {value: name for name, value in COMMIT_STAGES.items()}


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/", "home", require_user(_home), methods=["GET"])
    blueprint.add_url_rule("/home/totals", "home_totals", require_user(_totals), methods=["GET"])
    blueprint.add_url_rule(
        "/worksheet/commit-stage", "set_commit_stage", require_user(_set_stage), methods=["POST"]
    )
    blueprint.add_url_rule("/worksheet/draft", "save_draft", require_user(_save_draft), methods=["POST"])
    blueprint.add_url_rule("/worksheet/commit", "commit", require_user(_commit), methods=["POST"])


def forecast_numbers(user_id: str, period_id: str) -> dict[str, Any]:
    """The totals of a person for a period, as the home page and a manager's drill-down show them."""
    rollup, distribution, commit_list = call_all(*_numbers_calls(user_id, period_id))
    return _numbers_context(rollup, distribution, commit_list)


def _numbers_calls(user_id: str, period_id: str) -> tuple[tuple[Rpc, Message], ...]:
    return (
        (
            FORECASTING.rpc("GetRollup"),
            forecasting_pb2.GetRollupRequest(user_id=user_id, period_id=period_id),
        ),
        (
            FORECASTING.rpc("GetProbabilisticForecast"),
            forecasting_pb2.GetProbabilisticForecastRequest(
                user_id=user_id, period_id=period_id, scope=forecasting_pb2.FORECAST_SCOPE_OWN
            ),
        ),
        (
            WORKSHEETS.rpc("ListForecastCommits"),
            worksheets_pb2.ListForecastCommitsRequest(
                user_id=user_id, period_id=period_id, kind=worksheets_pb2.SNAPSHOT_KIND_REP
            ),
        ),
    )


def _numbers_context(rollup: Any, distribution: Any, commit_list: Any) -> dict[str, Any]:
    commits = commit_list.commits
    totals = rollup.own
    return {
        "committed": commits[0] if commits else None,
        "rollup": rollup,
        "totals": totals,
        "distribution": distribution,
        "chart": progress_chart(
            quota=rollup.quota,
            bars=[
                (gettext("Closed won"), totals.closed_won),
                (gettext("Live forecast"), totals.forecast_likely),
                (gettext("Pipeline"), totals.pipeline),
            ],
            title=gettext("Progress against quota"),
        ),
    }


def _home_context(user_id: str, period_id: str) -> dict[str, Any]:
    """The worksheet and the numbers, asked of the services at once."""
    worksheet, rollup, distribution, commit_list = call_all(
        (
            WORKSHEETS.rpc("GetRepWorksheet"),
            worksheets_pb2.GetWorksheetRequest(user_id=user_id, period_id=period_id),
        ),
        *_numbers_calls(user_id, period_id),
    )
    return {"worksheet": worksheet, **_numbers_context(rollup, distribution, commit_list)}


def _home() -> Response:
    period = chosen_period()
    return page(
        "console/home.html",
        title=gettext("My forecast"),
        period=period,
        stage_names=STAGE_NAMES,
        errors={},
        notice=_notice(),
        **_home_context(user().user_id, period.current),
    )


def _totals() -> Response:
    period = chosen_period()
    try:
        numbers = forecast_numbers(user().user_id, period.current)
    except Problem:
        # htmx 4 swaps error answers in: a poll that fails keeps the numbers shown (204 swaps
        # nothing) and the next poll tries again.
        return Response(status=204)
    return fragment("console/home_totals.html", period=period, **numbers)


def _set_stage() -> Response:
    period = chosen_period()
    stage = request.form.get("commit_stage", "")
    if stage not in COMMIT_STAGES:
        raise Problem(400, "Bad request", gettext("Choose a commit stage from the list."))
    call(
        WORKSHEETS.rpc("SetCommitStage"),
        worksheets_pb2.SetCommitStageRequest(
            opportunity_id=request.form.get("opportunity_id", ""), commit_stage=COMMIT_STAGES[stage]
        ),
    )
    return see_other("console.home", period=period.current, done="stage")


def _save_draft() -> Response:
    return _snapshot("draft")


def _commit() -> Response:
    return _snapshot("committed")


def _snapshot(action: str) -> Response:
    period = chosen_period()
    errors = save_snapshot(action, period_id=period.current, kind=worksheets_pb2.SNAPSHOT_KIND_REP)
    if errors:
        return _home_with_errors(errors, typed_note())
    return see_other("console.home", period=period.current, done=action)


def _home_with_errors(errors: dict[str, str], note: str) -> Response:
    period = chosen_period()
    return page(
        "console/home.html",
        status=422,
        title=gettext("My forecast"),
        period=period,
        stage_names=STAGE_NAMES,
        errors=errors,
        note=note,
        notice="",
        **_home_context(user().user_id, period.current),
    )


def _notice() -> str:
    return {
        "stage": gettext("Commit stage saved."),
        "draft": gettext("Draft saved. Only you see it until you commit."),
        "committed": gettext("Forecast committed. Your manager sees it now."),
    }.get(request.args.get("done", ""), "")
