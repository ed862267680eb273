"""Marketing: the campaigns with their budgets and costs; return on them per campaign and per
channel (cost, leads, pipeline, won revenue, CAC, ROI, ROAS) and the credit each campaign earns
under a chosen attribution model; the lead funnel; and one lead's touches.

The numbers are the reporting service's built-in reports (campaign_roi, channel_roi,
attribution_by_campaign, lead_funnel...), run with the user's token: campaign-wide reports are for
marketing and admins, so anyone else reads a note instead of a table. Changing the model re-runs
the three reports in place (htmx swaps the fragment); without script the form reloads the page.
Campaign pages and forms: marketing_campaigns.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, redirect, request, url_for
from werkzeug.wrappers import Response

from salesplane.leads.v1 import leads_pb2
from salesplane.reporting.v1 import reporting_pb2
from salesplane_gateway.console import marketing_campaigns
from salesplane_gateway.console.localisation import gettext
from salesplane_gateway.console.pages import (
    call,
    call_all,
    fragment,
    is_htmx,
    page,
    require_user,
    start,
)
from salesplane_gateway.console.report_builder import BASES, MODELS
from salesplane_gateway.console.report_results import ShownReport, shown_report
from salesplane_gateway.console.report_run import model_words, period_choices
from salesplane_gateway.problems import Problem
from salesplane_gateway.routes_leads import LEADS
from salesplane_gateway.routes_reporting import REPORTING
from salesplane_gateway.upstream import PendingCall

DEFAULT_MODEL, DEFAULT_BASIS = "linear", "period"
FUNNELS = ("lead_funnel", "lead_funnel_by_month")
DEFAULT_FUNNEL_PERIOD = "this_fiscal_year"
# Reports of the campaign_performance source take a basis; attribution takes only the model.
_RETURNS = (("campaign_roi", True), ("channel_roi", True), ("attribution_by_campaign", False))


@dataclass(frozen=True)
class Section:
    """One built-in report's run: its result, or why there is none."""

    report_id: str
    title: str
    result: ShownReport | None
    refusal: str = ""


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/marketing", "marketing", require_user(_marketing), methods=["GET"])
    blueprint.add_url_rule("/marketing/returns", "marketing_returns", require_user(_returns), methods=["GET"])
    marketing_campaigns.register(blueprint)


def _marketing() -> Response:
    choice, errors = _choice()
    funnel, funnel_period = _funnel_choice(errors)
    # Every part of the page asked at once: it costs the slowest report, not the sum of six calls.
    funnel_run = start(
        REPORTING.rpc("RunReport"),
        reporting_pb2.RunReportRequest(report_id=funnel, filter_values=_created(funnel_period)),
    )
    campaign_list, source_list = call_all(
        (LEADS.rpc("ListCampaigns"), leads_pb2.ListCampaignsRequest()),
        (LEADS.rpc("ListLeadSources"), leads_pb2.ListLeadSourcesRequest()),
    )
    campaigns, sources = campaign_list.campaigns, source_list.lead_sources
    lead_id = request.args.get("lead", "").strip()
    touches = _touches(lead_id, errors) if lead_id else None
    return page(
        "console/marketing.html",
        status=422 if errors else 200,
        title=gettext("Marketing"),
        campaigns=[marketing_campaigns.campaign_row(c) for c in campaigns],
        source_names={s.id: s.name for s in sources},
        campaign_names={c.id: c.name for c in campaigns},
        channel_words=marketing_campaigns.channel_words(),
        touch_words=touch_words(),
        errors=errors,
        lead_id=lead_id,
        touches=touches,
        funnel=_finished(funnel, funnel_run),
        funnel_id=funnel,
        funnel_period=funnel_period,
        funnel_choices=[(f, funnel_words()[f]) for f in FUNNELS],
        period_choices=period_choices(funnel_period),
        **_returns_context(choice, errors, deferred=not errors),
    )


def _returns() -> Response:
    if not is_htmx():
        # The fragment's own URL, opened as a page: the whole page with the same choice.
        return redirect(
            url_for("console.marketing") + "?" + urlencode(list(request.args.items(multi=True))), code=303
        )
    choice, errors = _choice()
    return fragment("console/marketing_returns.html", errors=errors, **_returns_context(choice, errors))


def _choice() -> tuple[dict[str, str], dict[str, str]]:
    errors: dict[str, str] = {}
    model = request.args.get("model", DEFAULT_MODEL)
    basis = request.args.get("basis", DEFAULT_BASIS)
    if model not in MODELS:
        errors["model"] = gettext("Choose an attribution model from the list.")
    if basis not in BASES:
        errors["basis"] = gettext("Choose how to count from the list.")
    return {"model": model, "basis": basis}, errors


def _start_returns(choice: dict[str, str], errors: dict[str, str]) -> list[tuple[str, PendingCall]]:
    """The returns reports, started together (the page waits for the slowest, not their sum)."""
    if {"model", "basis"} & set(errors):
        return []
    started = []
    for report_id, with_basis in _RETURNS:
        parameters = dict(choice) if with_basis else {"model": choice["model"]}
        run = reporting_pb2.RunReportRequest(report_id=report_id, parameters=parameters)
        started.append((report_id, start(REPORTING.rpc("RunReport"), run)))
    return started


def _returns_context(
    choice: dict[str, str], errors: dict[str, str], *, deferred: bool = False
) -> dict[str, Any]:
    # The page leaves the three returns reports (some 100 ms together on the embedded store) to the
    # fragment, which htmx fetches as soon as the page is shown; the fragment runs them at once.
    returns_pending = deferred
    sections = (
        [] if deferred else [_finished(report_id, each) for report_id, each in _start_returns(choice, errors)]
    )
    return {
        "choice": choice,
        "sections": sections,
        "returns_pending": returns_pending,
        "model_choices": list(model_words().items()),
        "basis_choices": [
            ("period", gettext("Each number by its own date this year")),
            ("cohort", gettext("This year's leads, whenever their deals closed")),
        ],
    }


def _section(report_id: str, run: reporting_pb2.RunReportRequest) -> Section:
    return _finished(report_id, start(REPORTING.rpc("RunReport"), run))


def _refused(report_id: str, problem: Problem) -> Section:
    if problem.status not in (403, 404):
        raise problem
    # Campaign-wide numbers are for marketing and admins: anyone else reads why, not a 403 page.
    return Section(report_id, "", None, problem.detail)


def _finished(report_id: str, pending: PendingCall) -> Section:
    try:
        result: Any = pending.result()
    except Problem as problem:
        return _refused(report_id, problem)
    shown = shown_report(result)
    return Section(report_id, shown.title, shown)


def _funnel_choice(errors: dict[str, str]) -> tuple[str, str]:
    funnel = request.args.get("funnel", FUNNELS[0])
    if funnel not in FUNNELS:
        errors["funnel"] = gettext("Choose a funnel from the list.")
        funnel = FUNNELS[0]
    period = request.args.get("created", DEFAULT_FUNNEL_PERIOD)
    if period not in dict(period_choices("")):
        errors["created"] = gettext("Choose a period from the list.")
        period = DEFAULT_FUNNEL_PERIOD
    return funnel, period


def _created(period: str) -> dict[str, reporting_pb2.FilterValues]:
    # The funnel reports' run-time filter "created": leads created within this period.
    values = reporting_pb2.FilterValues()
    values.values.add().string_value = period
    return {"created": values}


def _touches(lead_id: str, errors: dict[str, str]) -> leads_pb2.ListLeadTouchesResponse | None:
    """A lead's touches, if the user may read the lead (the leads service decides)."""
    try:
        answer: leads_pb2.ListLeadTouchesResponse = call(
            LEADS.rpc("ListLeadTouches"), leads_pb2.ListLeadTouchesRequest(lead_id=lead_id)
        )
    except Problem as problem:
        if problem.status not in (400, 403, 404):
            raise
        errors["lead"] = problem.detail
        return None
    return answer


def funnel_words() -> dict[str, str]:
    return {
        "lead_funnel": gettext("By lead source and campaign"),
        "lead_funnel_by_month": gettext("By month created"),
    }


def touch_words() -> dict[int, str]:
    return {
        leads_pb2.TOUCH_KIND_FORM: gettext("Form filled in"),
        leads_pb2.TOUCH_KIND_EMAIL_CLICK: gettext("E-mail clicked"),
        leads_pb2.TOUCH_KIND_EVENT: gettext("Event attended"),
        leads_pb2.TOUCH_KIND_AD: gettext("Advert"),
        leads_pb2.TOUCH_KIND_CALL: gettext("Call"),
        leads_pb2.TOUCH_KIND_OTHER: gettext("Other"),
    }
