"""Closing a deal as won or lost (with a reason; the service requires one for lost) and reopening
it into an open stage. Each is one call with the version the page showed, so a deal someone else
changed in the meantime is not closed on stale information: the page comes back as the deal is
now, saying so."""

from __future__ import annotations

from flask import Blueprint, request
from werkzeug.wrappers import Response

from salesplane.opportunities.v1 import opportunities_pb2 as pb
from salesplane_gateway.console.deal_page import deal_page
from salesplane_gateway.console.list_filters import FORM_STATUSES, FormReader, errors_by_field
from salesplane_gateway.console.localisation import gettext
from salesplane_gateway.console.pages import call, require_user, see_other
from salesplane_gateway.problems import Problem
from salesplane_gateway.routes_opportunities import OPPORTUNITIES

OUTCOMES = {"won": pb.CLOSE_OUTCOME_WON, "lost": pb.CLOSE_OUTCOME_LOST}


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule(
        "/deals/<opportunity_id>/close", "deal_close", require_user(_close), methods=["POST"]
    )
    blueprint.add_url_rule(
        "/deals/<opportunity_id>/reopen", "deal_reopen", require_user(_reopen), methods=["POST"]
    )


def _close(opportunity_id: str) -> Response:
    outcome = request.form.get("outcome", "")
    if outcome not in OUTCOMES:
        raise Problem(400, "Bad request", gettext("Choose whether the deal was won or lost."))
    reader = FormReader(request.form)
    # Each outcome has its own form on the page, so the fields are named by it.
    reason = reader.text(f"{outcome}_reason", pb.CloseOpportunityRequest.DESCRIPTOR, "reason")
    if outcome == "lost" and not reason:
        reader.fail("lost_reason", gettext("Say why the deal was lost."))
    stage = reader.raw(f"{outcome}_stage")
    if reader.errors:
        return deal_page(opportunity_id, status=422, errors=reader.errors, typed=dict(request.form))
    names = {"reason": f"{outcome}_reason", "sales_stage": f"{outcome}_stage"}
    try:
        call(
            OPPORTUNITIES.rpc("CloseOpportunity"),
            pb.CloseOpportunityRequest(
                opportunity_id=opportunity_id,
                outcome=OUTCOMES[outcome],
                reason=reason,
                sales_stage=stage,
                expected_version=_version(),
            ),
        )
    except Problem as problem:
        return _refused(opportunity_id, problem, names)
    return see_other("console.deal", opportunity_id=opportunity_id, done=outcome)


def _reopen(opportunity_id: str) -> Response:
    reader = FormReader(request.form)
    stage = reader.text("reopen_stage", pb.ReopenOpportunityRequest.DESCRIPTOR, "sales_stage", required=True)
    if reader.errors:
        return deal_page(opportunity_id, status=422, errors=reader.errors, typed=dict(request.form))
    try:
        call(
            OPPORTUNITIES.rpc("ReopenOpportunity"),
            pb.ReopenOpportunityRequest(
                opportunity_id=opportunity_id, sales_stage=stage, expected_version=_version()
            ),
        )
    except Problem as problem:
        return _refused(opportunity_id, problem, {"sales_stage": "reopen_stage"})
    return see_other("console.deal", opportunity_id=opportunity_id, done="reopened")


def _refused(opportunity_id: str, problem: Problem, names: dict[str, str]) -> Response:
    if problem.status == 409:
        message = gettext(
            "Someone else changed this deal after you opened it; nothing was changed. Here it is as it "
            "is now: check it and try again."
        )
        return deal_page(opportunity_id, status=409, errors={"": message}, typed=dict(request.form))
    if problem.status not in FORM_STATUSES:
        raise problem
    return deal_page(
        opportunity_id, status=422, errors=errors_by_field(problem, names), typed=dict(request.form)
    )


def _version() -> int:
    # Never 0 (which would skip the check): a form without its version is refused.
    text = request.form.get("version", "")
    if not text.isdigit() or int(text) == 0:
        raise Problem(400, "Bad request", gettext("This form has no version; open the deal again."))
    return int(text)
