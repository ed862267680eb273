"""Pipeline: the deals I may see, filtered (stage, status, owner, close dates, text), sorted and a
page at a time; a deal with its stage history, closing it as won or lost and reopening it
(deal_actions.py); creating and editing one (deal_form.py).

Which deals appear is the opportunities service's decision from the caller's token: the owner
filter only narrows what it would show anyway, and a deal id typed into the URL that is not the
user's to see is refused by the service, which renders as the 403 page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from werkzeug.wrappers import Response

from salesplane.opportunities.v1 import opportunities_pb2 as pb
from salesplane_gateway.console import deal_actions, deal_form
from salesplane_gateway.console.deal_page import deal_page, sales_stages, status_labels
from salesplane_gateway.console.list_filters import (
    FORM_STATUSES,
    PAGE_SIZES,
    FormReader,
    chosen_paging,
    errors_by_field,
    names_of,
    paging_links,
    people,
    proto_date,
)
from salesplane_gateway.console.localisation import gettext
from salesplane_gateway.console.pages import call, page, require_user
from salesplane_gateway.problems import Problem
from salesplane_gateway.routes_opportunities import OPPORTUNITIES

STATUSES = {
    "open": pb.OPPORTUNITY_STATUS_OPEN,
    "won": pb.OPPORTUNITY_STATUS_WON,
    "lost": pb.OPPORTUNITY_STATUS_LOST,
}
STATUS_NAMES = {value: name for name, value in STATUSES.items()}
SORTS = {
    "close_date": pb.OPPORTUNITY_ORDER_FIELD_EXPECTED_CLOSE_DATE,
    "amount": pb.OPPORTUNITY_ORDER_FIELD_AMOUNT_BASE,
    "name": pb.OPPORTUNITY_ORDER_FIELD_NAME,
    "updated": pb.OPPORTUNITY_ORDER_FIELD_UPDATE_TIME,
    "probability": pb.OPPORTUNITY_ORDER_FIELD_PROBABILITY,
}
# The list request's fields as the filter form names them.
_FILTER_FIELDS = {
    "owner_user_ids": "owner",
    "sales_stages": "stage",
    "statuses": "status",
    "close_date_from": "close_from",
    "close_date_to": "close_to",
    "text": "q",
    "order_by": "sort",
    "page_size": "page_size",
}


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/pipeline", "pipeline", require_user(_pipeline), methods=["GET"])
    blueprint.add_url_rule("/deals/<opportunity_id>", "deal", require_user(_deal), methods=["GET"])
    deal_form.register(blueprint)
    deal_actions.register(blueprint)


def _pipeline() -> Response:
    stages = sales_stages()
    owners = people()
    reader = FormReader(request.args)
    filters: dict[str, Any] = {
        "status": reader.choice("status", [*STATUSES, "all"]) if "status" in request.args else "open",
        "stage": reader.choice("stage", [stage.name for stage in stages]),
        "owner": reader.choice("owner", [person.user_id for person in owners]),
        "q": reader.text("q", pb.ListOpportunitiesRequest.DESCRIPTOR, "text"),
        "sort": reader.choice("sort", list(SORTS)) or "close_date",
        "descending": request.args.get("descending", "") == "1",
    }
    close_from, close_to = reader.day("close_from"), reader.day("close_to")
    if close_from and close_to and close_to < close_from:
        reader.fail("close_to", gettext("Enter a date on or after the first one."))
    paging = chosen_paging()
    deals: list[pb.Opportunity] = []
    next_token = ""
    errors = reader.errors
    if not errors:
        listing = pb.ListOpportunitiesRequest(
            page_size=paging.page_size,
            page_token=paging.page_token,
            owner_user_ids=[filters["owner"]] if filters["owner"] else [],
            sales_stages=[filters["stage"]] if filters["stage"] else [],
            statuses=[STATUSES[filters["status"]]] if filters["status"] in STATUSES else [],
            close_date_from=proto_date(close_from),
            close_date_to=proto_date(close_to),
            text=filters["q"],
            order_by=SORTS[filters["sort"]],
            descending=filters["descending"],
        )
        try:
            answer = call(OPPORTUNITIES.rpc("ListOpportunities"), listing)
            deals, next_token = list(answer.opportunities), answer.next_page_token
        except Problem as problem:
            if problem.status not in FORM_STATUSES:
                raise
            errors = errors_by_field(problem, _FILTER_FIELDS)
    next_url, previous_url = paging_links("console.pipeline", paging, next_token)
    return page(
        "console/pipeline.html",
        status=422 if errors else 200,
        title=gettext("Pipeline"),
        deals=deals,
        filters=filters,
        close_from=request.args.get("close_from", ""),
        close_to=request.args.get("close_to", ""),
        stage_options=[(stage.name, stage.name) for stage in stages],
        owner_options=[(person.user_id, person.display_name) for person in owners],
        owner_names=names_of(owners),
        status_labels=status_labels(),
        sort_labels=_sort_labels(),
        page_size_options=[(size, str(size)) for size in PAGE_SIZES],
        paging=paging,
        next_url=next_url,
        previous_url=previous_url,
        errors=errors,
    )


def _sort_labels() -> dict[str, str]:
    return {
        "close_date": gettext("Close date"),
        "amount": gettext("Amount"),
        "name": gettext("Name"),
        "updated": gettext("Last changed"),
        "probability": gettext("Probability"),
    }


def _deal(opportunity_id: str) -> Response:
    return deal_page(opportunity_id)
