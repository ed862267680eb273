"""Leads: the leads I may see, filtered (status, source, assignee, text, minimum score) a page at a
time; a new lead with its duplicate warnings (lead_new.py); a lead's page with qualification and
its score, status changes and conversion into a deal (lead_page.py); a CSV import with its per-row
report (lead_import.py).

The leads service decides which leads a user sees: a rep their own, a manager their subtree's and
the unassigned ones. A lead id typed into the URL that is not the user's is refused by it (403)."""

from __future__ import annotations

from flask import Blueprint, request
from werkzeug.wrappers import Response

from salesplane.leads.v1 import leads_pb2 as pb
from salesplane_gateway.console import lead_import, lead_new, lead_page
from salesplane_gateway.console.lead_page import status_labels
from salesplane_gateway.console.list_filters import (
    FORM_STATUSES,
    PAGE_SIZES,
    FormReader,
    chosen_paging,
    errors_by_field,
    lead_sources,
    names_of,
    paging_links,
    people,
)
from salesplane_gateway.console.localisation import gettext
from salesplane_gateway.console.pages import call, page, require_user
from salesplane_gateway.problems import Problem
from salesplane_gateway.routes_leads import LEADS

STATUSES = {
    "new": pb.LEAD_STATUS_NEW,
    "assigned": pb.LEAD_STATUS_ASSIGNED,
    "in_process": pb.LEAD_STATUS_IN_PROCESS,
    "converted": pb.LEAD_STATUS_CONVERTED,
    "recycled": pb.LEAD_STATUS_RECYCLED,
    "dead": pb.LEAD_STATUS_DEAD,
}
_FILTER_FIELDS = {
    "statuses": "status",
    "assigned_user_ids": "owner",
    "lead_source_id": "source",
    "text": "q",
    "min_score": "min_score",
    "page_size": "page_size",
}


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/leads", "leads", require_user(_leads), methods=["GET"])
    lead_new.register(blueprint)
    lead_import.register(blueprint)
    lead_page.register(blueprint)


def _leads() -> Response:
    owners = people()
    sources = lead_sources()
    reader = FormReader(request.args)
    filters = {
        "status": reader.choice("status", list(STATUSES)),
        "source": reader.choice("source", [source_id for source_id, _ in sources]),
        "owner": reader.choice("owner", [person.user_id for person in owners]),
        "q": reader.text("q", pb.ListLeadsRequest.DESCRIPTOR, "text"),
        "min_score": reader.raw("min_score"),
    }
    min_score = reader.percent("min_score")
    paging = chosen_paging()
    leads: list[pb.Lead] = []
    next_token = ""
    errors = reader.errors
    if not errors:
        listing = pb.ListLeadsRequest(
            page_size=paging.page_size,
            page_token=paging.page_token,
            statuses=[STATUSES[filters["status"]]] if filters["status"] else [],
            assigned_user_ids=[filters["owner"]] if filters["owner"] else [],
            lead_source_id=filters["source"],
            text=filters["q"],
        )
        if min_score is not None:
            listing.min_score = min_score
        try:
            answer = call(LEADS.rpc("ListLeads"), listing)
            leads, next_token = list(answer.leads), answer.next_page_token
        except Problem as problem:
            if problem.status not in FORM_STATUSES:
                raise
            errors = errors_by_field(problem, _FILTER_FIELDS)
    next_url, previous_url = paging_links("console.leads", paging, next_token)
    labels = status_labels()
    return page(
        "console/leads.html",
        status=422 if errors else 200,
        title=gettext("Leads"),
        leads=leads,
        filters=filters,
        status_options=[(name, labels[value]) for name, value in STATUSES.items()],
        source_options=sources,
        source_names=dict(sources),
        owner_options=[(person.user_id, person.display_name) for person in owners],
        owner_names=names_of(owners),
        status_labels=labels,
        page_size_options=[(size, str(size)) for size in PAGE_SIZES],
        paging=paging,
        next_url=next_url,
        previous_url=previous_url,
        errors=errors,
    )
