"""A new lead, checked for duplicates by the service first.

The first post asks CreateLead to refuse duplicates (policy REJECT): when the service finds leads
with the same e-mail, phone, or person at the company, nothing is created and the form comes back
with those candidates, best first, and two more ways on:
* "Add these details to <the best candidate>": CreateLead again with policy MERGE, which fills that
  lead's empty fields from the form in one transaction (no new lead);
* "Create anyway": CreateLead with policy INSIST.
When the candidates are themselves duplicates of each other, a second form folds them into one
with MergeLeads. The idempotency key stays the same across these posts (a refused or duplicate-
finding create records nothing), so a double click never makes two leads."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from flask import Blueprint, request
from werkzeug.wrappers import Response

from salesplane.leads.v1 import leads_pb2 as pb
from salesplane_gateway.console.list_filters import (
    FORM_STATUSES,
    FormReader,
    Person,
    errors_by_field,
    lead_sources,
    people,
)
from salesplane_gateway.console.localisation import gettext
from salesplane_gateway.console.pages import call, page, require_user, see_other, user
from salesplane_gateway.problems import Problem
from salesplane_gateway.routes_leads import LEADS

FIELDS = (
    "first_name",
    "last_name",
    "company",
    "title",
    "email",
    "phone",
    "website",
    "description",
    "lead_source",
    "assigned",
)
POLICIES = {
    "reject": pb.DUPLICATE_POLICY_REJECT,
    "insist": pb.DUPLICATE_POLICY_INSIST,
    "merge": pb.DUPLICATE_POLICY_MERGE,
}
_SERVICE_FIELDS = {
    **{f"lead.{name}": name for name in FIELDS[:8]},
    "lead.lead_source_id": "lead_source",
    "assigned_user_id": "assigned",
}


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/leads/new", "lead_new", require_user(_new), methods=["GET", "POST"])
    blueprint.add_url_rule("/leads/merge", "lead_merge", require_user(_merge), methods=["POST"])


def reason_labels() -> dict[int, str]:
    return {
        pb.DUPLICATE_REASON_SAME_EMAIL: gettext("same e-mail address"),
        pb.DUPLICATE_REASON_SAME_PHONE: gettext("same phone number"),
        pb.DUPLICATE_REASON_SAME_PERSON_AT_COMPANY: gettext("same person at the same company"),
        pb.DUPLICATE_REASON_UNSPECIFIED: gettext("similar"),
    }


def field_labels() -> dict[str, str]:
    return {
        "first_name": gettext("First name"),
        "last_name": gettext("Last name"),
        "company": gettext("Company"),
        "title": gettext("Title"),
        "email": gettext("E-mail"),
        "phone": gettext("Phone"),
        "website": gettext("Website"),
        "description": gettext("Description"),
        "lead_source": gettext("Source"),
        "assigned": gettext("Assign to"),
    }


def _new() -> Response:
    sources = lead_sources()
    owners = people()
    if request.method == "GET":
        values = dict.fromkeys(FIELDS, "")
        values["assigned"] = user().user_id
        return _form(values, sources, owners, request_id=str(uuid.uuid4()))
    values = {name: request.form.get(name, "") for name in FIELDS}
    request_id = request.form.get("request_id", "")[:128]
    policy = request.form.get("on_duplicate", "reject")
    if policy not in POLICIES:
        raise Problem(400, "Bad request", gettext("Choose what to do with the duplicates."))
    checked, errors = _read(request.form, sources, [person.user_id for person in owners])
    if checked is None:
        return _form(values, sources, owners, request_id=request_id, errors=errors, status=422)
    create = pb.CreateLeadRequest(
        lead=checked,
        assigned_user_id=values["assigned"].strip(),
        on_duplicate=POLICIES[policy],
        request_id=request_id,
    )
    try:
        answer = call(LEADS.rpc("CreateLead"), create)
    except Problem as problem:
        if problem.status not in FORM_STATUSES:
            raise
        errors = errors_by_field(problem, _SERVICE_FIELDS)
        return _form(values, sources, owners, request_id=request_id, errors=errors, status=422)
    if answer.outcome == pb.CREATE_LEAD_OUTCOME_DUPLICATES_FOUND:
        # Under MERGE this means none of them may be changed by this user (or all are converted).
        return _form(
            values,
            sources,
            owners,
            request_id=request_id,
            duplicates=list(answer.duplicates),
            merge_refused=policy == "merge",
        )
    done = "merged" if answer.outcome == pb.CREATE_LEAD_OUTCOME_MERGED else "created"
    return see_other("console.lead", lead_id=answer.lead.id, done=done)


def _read(
    form: Mapping[str, str], sources: list[tuple[str, str]], owners: list[str]
) -> tuple[pb.LeadFields | None, dict[str, str]]:
    reader = FormReader(form)
    descriptor = pb.LeadFields.DESCRIPTOR
    texts = {
        name: reader.text(name, descriptor, name, required=name == "last_name")
        for name in (
            "first_name",
            "last_name",
            "company",
            "title",
            "email",
            "phone",
            "website",
            "description",
        )
    }
    source = reader.choice("lead_source", [source_id for source_id, _ in sources])
    reader.choice("assigned", owners)
    if reader.errors:
        return None, reader.errors
    fields = pb.LeadFields(lead_source_id=source)
    for name, value in texts.items():
        setattr(fields, name, value)
    return fields, {}


def _merge() -> Response:
    """Fold the other candidates into the one the user keeps: one MergeLeads call."""
    primary = request.form.get("primary", "")
    others = [lead_id for lead_id in request.form.getlist("candidate") if lead_id and lead_id != primary]
    if not primary or not others:
        raise Problem(400, "Bad request", gettext("Choose the lead to keep, and at least one other."))
    call(LEADS.rpc("MergeLeads"), pb.MergeLeadsRequest(primary_lead_id=primary, duplicate_lead_ids=others))
    return see_other("console.lead", lead_id=primary, done="folded")


def _form(
    values: Mapping[str, str],
    sources: list[tuple[str, str]],
    owners: list[Person],
    *,
    request_id: str,
    errors: dict[str, str] | None = None,
    duplicates: list[pb.DuplicateCandidate] | None = None,
    merge_refused: bool = False,
    status: int = 200,
) -> Response:
    return page(
        "console/lead_form.html",
        status=status,
        title=gettext("New lead"),
        values=values,
        labels=field_labels(),
        source_options=[("", gettext("None")), *sources],
        owner_options=[("", gettext("Nobody yet (the lead stays New)"))]
        + [(person.user_id, person.display_name) for person in owners],
        request_id=request_id,
        duplicates=duplicates or [],
        reason_labels=reason_labels(),
        merge_refused=merge_refused,
        errors=errors or {},
    )
