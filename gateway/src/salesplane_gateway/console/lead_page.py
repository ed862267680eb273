"""A lead's page: its details, the qualification (budget, authority, need, timeline) with the score
the scoring rules give and how it came about, a status change, and conversion into a deal (then a
link to it).

Each form is one call with the version the page showed, so nothing is half-saved and a lead someone
else changed meanwhile is not changed on stale information: the page comes back as the lead is
now, saying so."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from werkzeug.wrappers import Response

from salesplane.common.v1.common_pb2 import Money
from salesplane.leads.v1 import leads_pb2 as pb
from salesplane_gateway.console.deal_page import sales_stages
from salesplane_gateway.console.list_filters import (
    FORM_STATUSES,
    FormReader,
    amount_text,
    base_currency,
    date_input,
    errors_by_field,
    lead_sources,
    names_of,
    people,
    proto_date,
)
from salesplane_gateway.console.localisation import gettext
from salesplane_gateway.console.pages import call, page, require_user, see_other, user
from salesplane_gateway.problems import Problem
from salesplane_gateway.routes_leads import LEADS

AUTHORITIES = {
    "none": pb.AUTHORITY_NONE,
    "influencer": pb.AUTHORITY_INFLUENCER,
    "decision_maker": pb.AUTHORITY_DECISION_MAKER,
}
NEEDS = {"none": pb.NEED_NONE, "low": pb.NEED_LOW, "medium": pb.NEED_MEDIUM, "high": pb.NEED_HIGH}
# ChangeLeadStatus moves a lead along; conversion is its own call.
TARGET_STATUSES = {
    "new": pb.LEAD_STATUS_NEW,
    "assigned": pb.LEAD_STATUS_ASSIGNED,
    "in_process": pb.LEAD_STATUS_IN_PROCESS,
    "recycled": pb.LEAD_STATUS_RECYCLED,
    "dead": pb.LEAD_STATUS_DEAD,
}
_NEEDS_REASON = {"recycled", "dead"}
_QUALIFY_FIELDS = {
    "qualification.budget": "budget",
    "qualification.budget.currency_code": "budget_currency",
    "qualification.authority": "authority",
    "qualification.need": "need",
    "qualification.timeline": "timeline",
    "qualification.notes": "notes",
}
_STATUS_FIELDS = {"status": "new_status", "reason": "status_reason"}
_CONVERT_FIELDS = {
    "opportunity_name": "opportunity_name",
    "owner_user_id": "owner",
    "amount": "amount",
    "amount.currency_code": "currency",
    "expected_close_date": "close_date",
    "sales_stage": "stage",
    "next_step": "next_step",
}


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/leads/<lead_id>", "lead", require_user(_lead), methods=["GET"])
    blueprint.add_url_rule(
        "/leads/<lead_id>/qualify", "lead_qualify", require_user(_qualify), methods=["POST"]
    )
    blueprint.add_url_rule("/leads/<lead_id>/status", "lead_status", require_user(_status), methods=["POST"])
    blueprint.add_url_rule(
        "/leads/<lead_id>/convert", "lead_convert", require_user(_convert), methods=["POST"]
    )


def status_labels() -> dict[int, str]:
    return {
        pb.LEAD_STATUS_UNSPECIFIED: "\u2013",
        pb.LEAD_STATUS_NEW: gettext("New"),
        pb.LEAD_STATUS_ASSIGNED: gettext("Assigned"),
        pb.LEAD_STATUS_IN_PROCESS: gettext("In process"),
        pb.LEAD_STATUS_CONVERTED: gettext("Converted"),
        pb.LEAD_STATUS_RECYCLED: gettext("Recycled"),
        pb.LEAD_STATUS_DEAD: gettext("Dead"),
    }


def lead_page(
    lead_id: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    lead = call(LEADS.rpc("GetLead"), pb.GetLeadRequest(lead_id=lead_id))
    owners = people()
    labels = status_labels()
    qualification = lead.qualification
    currency = qualification.budget.currency_code or base_currency()
    # What each form shows: the user's values when one was refused, else the lead's own.
    shown: dict[str, str] = {
        "budget": amount_text(qualification.budget.amount_minor, currency)
        if qualification.budget.currency_code
        else "",
        "budget_currency": currency,
        "authority": _key_of(AUTHORITIES, qualification.authority),
        "need": _key_of(NEEDS, qualification.need),
        "timeline": date_input(qualification.timeline),
        "notes": qualification.notes,
        "new_status": "",
        "status_reason": "",
        "opportunity_name": lead.company or f"{lead.first_name} {lead.last_name}".strip(),
        "owner": lead.assigned_user_id or user().user_id,
        "amount": "",
        "currency": currency,
        "close_date": "",
        "stage": "",
        "next_step": "",
        **(typed or {}),
    }
    stages = [stage.name for stage in sales_stages() if not stage.is_won and not stage.is_lost]
    return page(
        "console/lead.html",
        status=status,
        title=_display_name(lead),
        lead=lead,
        name=_display_name(lead),
        shown=shown,
        status_label=labels[lead.status],
        source_name=dict(lead_sources()).get(lead.lead_source_id, ""),
        assignee=names_of(owners).get(lead.assigned_user_id, lead.assigned_user_id),
        converted=lead.status == pb.LEAD_STATUS_CONVERTED,
        # Right after ConvertLead, its answer names the deal even if the lead's own record lags.
        deal_id=lead.converted_opportunity_id or request.args.get("deal", ""),
        authority_options=[("", gettext("Unknown"))] + [(k, _authority_labels()[k]) for k in AUTHORITIES],
        need_options=[("", gettext("Unknown"))] + [(k, _need_labels()[k]) for k in NEEDS],
        status_options=[(k, labels[v]) for k, v in TARGET_STATUSES.items() if v != lead.status],
        owner_options=[(person.user_id, person.display_name) for person in owners],
        stage_options=[("", gettext("The first open stage"))] + [(name, name) for name in stages],
        errors=errors or {},
        notice=_notice(),
    )


def _lead(lead_id: str) -> Response:
    return lead_page(lead_id)


def _qualify(lead_id: str) -> Response:
    reader = FormReader(request.form)
    currency = reader.currency("budget_currency") if reader.raw("budget") else reader.raw("budget_currency")
    budget = reader.amount("budget", currency)
    authority = reader.choice("authority", list(AUTHORITIES))
    need = reader.choice("need", list(NEEDS))
    timeline = reader.day("timeline")
    notes = reader.text("notes", pb.Qualification.DESCRIPTOR, "notes")
    if reader.errors:
        return _refused_form(lead_id, reader.errors)
    qualification = pb.Qualification(
        authority=AUTHORITIES.get(authority, pb.AUTHORITY_UNSPECIFIED),
        need=NEEDS.get(need, pb.NEED_UNSPECIFIED),
        timeline=proto_date(timeline),
        notes=notes,
    )
    if budget is not None:
        qualification.budget.CopyFrom(Money(currency_code=currency, amount_minor=budget))
    try:
        call(
            LEADS.rpc("QualifyLead"),
            pb.QualifyLeadRequest(lead_id=lead_id, qualification=qualification, expected_version=_version()),
        )
    except Problem as problem:
        return _refused(lead_id, problem, _QUALIFY_FIELDS)
    return see_other("console.lead", lead_id=lead_id, done="qualified")


def _status(lead_id: str) -> Response:
    reader = FormReader(request.form)
    target = reader.choice("new_status", list(TARGET_STATUSES), required=True)
    reason = reader.text("status_reason", pb.ChangeLeadStatusRequest.DESCRIPTOR, "reason")
    if target in _NEEDS_REASON and not reason:
        reader.fail("status_reason", gettext("Say why: a dead or recycled lead needs a reason."))
    if reader.errors:
        return _refused_form(lead_id, reader.errors)
    try:
        call(
            LEADS.rpc("ChangeLeadStatus"),
            pb.ChangeLeadStatusRequest(
                lead_id=lead_id, status=TARGET_STATUSES[target], reason=reason, expected_version=_version()
            ),
        )
    except Problem as problem:
        return _refused(lead_id, problem, _STATUS_FIELDS)
    return see_other("console.lead", lead_id=lead_id, done="status")


def _convert(lead_id: str) -> Response:
    reader = FormReader(request.form)
    descriptor = pb.ConvertLeadRequest.DESCRIPTOR
    name = reader.text("opportunity_name", descriptor, "opportunity_name")
    owner = reader.choice("owner", [person.user_id for person in people()])
    currency = reader.currency("currency")
    amount = reader.amount("amount", currency, required=True)
    close_date = reader.day("close_date", required=True)
    stage = reader.raw("stage")
    next_step = reader.text("next_step", descriptor, "next_step")
    if reader.errors or amount is None:
        return _refused_form(lead_id, reader.errors)
    try:
        # Idempotent by the lead: a second post never makes a second deal.
        converted = call(
            LEADS.rpc("ConvertLead"),
            pb.ConvertLeadRequest(
                lead_id=lead_id,
                opportunity_name=name,
                owner_user_id=owner,
                amount=Money(currency_code=currency, amount_minor=amount),
                expected_close_date=proto_date(close_date),
                sales_stage=stage,
                next_step=next_step,
            ),
        )
    except Problem as problem:
        return _refused(lead_id, problem, _CONVERT_FIELDS)
    return see_other("console.lead", lead_id=lead_id, done="converted", deal=converted.opportunity_id)


def _refused_form(lead_id: str, errors: dict[str, str]) -> Response:
    return lead_page(lead_id, status=422, errors=errors, typed=_typed())


def _refused(lead_id: str, problem: Problem, names: dict[str, str]) -> Response:
    if problem.status == 409:
        message = gettext(
            "Someone else changed this lead after you opened it; nothing was changed. Here it is as it "
            "is now: check it and try again."
        )
        return lead_page(lead_id, status=409, errors={"": message}, typed=_typed())
    if problem.status not in FORM_STATUSES:
        raise problem
    return lead_page(lead_id, status=422, errors=errors_by_field(problem, names), typed=_typed())


def _typed() -> dict[str, str]:
    return {key: value for key, value in request.form.items() if key not in ("csrf_token", "version")}


def _version() -> int:
    # Never 0 (which would skip the check): a form without its version is refused.
    text = request.form.get("version", "")
    if not text.isdigit() or int(text) == 0:
        raise Problem(400, "Bad request", gettext("This form has no version; open the lead again."))
    return int(text)


def _key_of(choices: dict[str, Any], value: int) -> str:
    return next((key for key, each in choices.items() if each == value), "")


def _display_name(lead: pb.Lead) -> str:
    return f"{lead.first_name} {lead.last_name}".strip() or lead.email or lead.id


def _authority_labels() -> dict[str, str]:
    return {
        "none": gettext("No authority"),
        "influencer": gettext("Influencer"),
        "decision_maker": gettext("Decision maker"),
    }


def _need_labels() -> dict[str, str]:
    return {
        "none": gettext("No need"),
        "low": gettext("Low"),
        "medium": gettext("Medium"),
        "high": gettext("High"),
    }


def _notice() -> str:
    return {
        "created": gettext("Lead created."),
        "merged": gettext("The details were added to this existing lead; no new lead was made."),
        "folded": gettext("The duplicates were merged into this lead."),
        "qualified": gettext("Qualification saved; the lead was scored again."),
        "status": gettext("Status changed."),
        "converted": gettext("Lead converted into a deal."),
    }.get(request.args.get("done", ""), "")
