"""A deal's page: the deal as the service has it now, its stage history, and the forms to close it
as won or lost or to reopen it. The edit and action views render it again, with their errors,
when the service refuses a change."""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.wrappers import Response

from salesplane.opportunities.v1 import opportunities_pb2 as pb
from salesplane_gateway.console.list_filters import names_of, people
from salesplane_gateway.console.localisation import gettext
from salesplane_gateway.console.pages import call, page
from salesplane_gateway.routes_opportunities import OPPORTUNITIES


def status_labels() -> dict[int, str]:
    return {
        pb.OPPORTUNITY_STATUS_OPEN: gettext("Open"),
        pb.OPPORTUNITY_STATUS_WON: gettext("Won"),
        pb.OPPORTUNITY_STATUS_LOST: gettext("Lost"),
        pb.OPPORTUNITY_STATUS_UNSPECIFIED: "\u2013",
    }


def sales_stages() -> list[pb.SalesStage]:
    answer = call(OPPORTUNITIES.rpc("ListSalesStages"), pb.ListSalesStagesRequest())
    return sorted(answer.sales_stages, key=lambda stage: stage.order)


def deal_page(
    opportunity_id: str, *, status: int = 200, errors: dict[str, str] | None = None, **extra: Any
) -> Response:
    """The deal as the service has it now, with its stage history and the close and reopen forms
    (shown again with their errors when one was refused)."""
    deal = call(OPPORTUNITIES.rpc("GetOpportunity"), pb.GetOpportunityRequest(opportunity_id=opportunity_id))
    history = call(
        OPPORTUNITIES.rpc("GetStageHistory"), pb.GetStageHistoryRequest(opportunity_id=opportunity_id)
    ).entries
    stages = sales_stages()
    won = [stage.name for stage in stages if stage.is_won]
    lost = [stage.name for stage in stages if stage.is_lost]
    open_stages = [stage.name for stage in stages if not stage.is_won and not stage.is_lost]
    owners = names_of(people())
    return page(
        "console/deal.html",
        status=status,
        title=deal.name,
        deal=deal,
        history=history,
        is_open=deal.status == pb.OPPORTUNITY_STATUS_OPEN,
        won_stages=won,
        lost_stages=lost,
        won_options=[(name, name) for name in won],
        lost_options=[(name, name) for name in lost],
        open_options=[(name, name) for name in open_stages],
        owner_name=owners.get(deal.owner_user_id, deal.owner_user_id),
        status_labels=status_labels(),
        manual=pb.PROBABILITY_SOURCE_MANUAL,
        errors=errors or {},
        notice=_notice(),
        **extra,
    )


def _notice() -> str:
    return {
        "created": gettext("Deal created."),
        "saved": gettext("Deal saved."),
        "unchanged": gettext("Nothing was changed."),
        "won": gettext("Deal closed as won."),
        "lost": gettext("Deal closed as lost."),
        "reopened": gettext("Deal reopened."),
    }.get(request.args.get("done", ""), "")
