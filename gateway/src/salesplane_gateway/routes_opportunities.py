"""Routes of OpportunityService: opportunities, their stage history, sales stages, exchange rates."""

from __future__ import annotations

from salesplane.opportunities.v1 import opportunities_pb2
from salesplane_gateway.merge_patch import Companion, MergePatchBody
from salesplane_gateway.routing import JsonBody, Route, Service

OPPORTUNITIES = Service(opportunities_pb2, "OpportunityService", upstream="opportunities")
rpc = OPPORTUNITIES.rpc

ITEM = "/v1/opportunities/{opportunity_id}"

OPPORTUNITY_PATCH = MergePatchBody(
    field="opportunity",
    # As UpdateOpportunityRequest.update_mask lists them. The amount is merged member by member so
    # that a new amount_minor keeps the currency; best and worst case are replaced whole.
    paths=(
        "name",
        "account_name",
        "owner_user_id",
        "amount.amount_minor",
        "amount.currency_code",
        "expected_close_date",
        "sales_stage",
        "probability",
        "best_case",
        "worst_case",
        "next_step",
        "lead_source_id",
        "campaign_id",
    ),
    companions={
        # null: follow the stage (or the amount) again; a value: set by hand.
        "probability": Companion("probability_source", when_set="manual", when_null="stage"),
        "best_case": Companion("best_case_manual", when_set=True, when_null=False),
        "worst_case": Companion("worst_case_manual", when_set=True, when_null=False),
    },
)

OPPORTUNITY_ROUTES = (
    Route(
        "POST",
        "/v1/opportunities",
        rpc("CreateOpportunity"),
        "Open an opportunity",
        body=JsonBody(),
        status=201,
        etag="version",
        location="/v1/opportunities/{id}",
        caller_fills=("owner_user_id",),
    ),
    Route(
        "GET",
        "/v1/opportunities",
        rpc("ListOpportunities"),
        "List opportunities, filtered and sorted, a page at a time",
        query={
            "page_size": "page_size",
            "page_token": "page_token",
            "owner_user_id": "owner_user_ids",
            "sales_stage": "sales_stages",
            "status": "statuses",
            "close_date_from": "close_date_from",
            "close_date_to": "close_date_to",
            "amount_base_min": "amount_base_min",
            "amount_base_max": "amount_base_max",
            "text": "text",
            "order_by": "order_by",
            "descending": "descending",
            "lead_id": "lead_id",
            "campaign_id": "campaign_id",
        },
    ),
    Route("GET", ITEM, rpc("GetOpportunity"), "Read an opportunity", etag="version"),
    Route(
        "PATCH",
        ITEM,
        rpc("UpdateOpportunity"),
        "Change some fields of an opportunity (JSON merge patch)",
        body=OPPORTUNITY_PATCH,
        path_fields={"opportunity_id": "opportunity.id"},
        if_match="expected_version",
        etag="version",
    ),
    Route(
        "DELETE",
        ITEM,
        rpc("DeleteOpportunity"),
        "Delete an opportunity",
        query={"expected_version": "expected_version"},
        if_match="expected_version",
        status=204,
    ),
    Route(
        "POST",
        ITEM + ":close",
        rpc("CloseOpportunity"),
        "Close an opportunity as won or lost",
        body=JsonBody(),
        if_match="expected_version",
        etag="version",
    ),
    Route(
        "POST",
        ITEM + ":reopen",
        rpc("ReopenOpportunity"),
        "Move a closed opportunity back into an open stage",
        body=JsonBody(),
        if_match="expected_version",
        etag="version",
    ),
    Route(
        "POST",
        ITEM + ":reassign",
        rpc("ReassignOpportunity"),
        "Hand an opportunity to another owner",
        body=JsonBody(),
        if_match="expected_version",
        etag="version",
    ),
    Route("GET", ITEM + "/stage-history", rpc("GetStageHistory"), "The stages an opportunity has been in"),
    Route("GET", "/v1/sales-stages", rpc("ListSalesStages"), "The sales stages, in order", etag="revision"),
    Route(
        "PUT",
        "/v1/sales-stages",
        rpc("ReplaceSalesStages"),
        "Replace the ordered list of sales stages (admin)",
        body=JsonBody(),
        if_match="expected_revision",
        etag="revision",
    ),
    Route(
        "GET",
        "/v1/exchange-rates",
        rpc("ListExchangeRates"),
        "Exchange rates to the base currency",
        query={"currency_code": "currency_code"},
    ),
    Route(
        "PUT",
        "/v1/exchange-rates/{currency_code}/{effective_from}",
        rpc("SetExchangeRate"),
        "Set the rate of a currency from a date on (admin)",
        body=JsonBody(),
    ),
    Route(
        "POST",
        "/v1/opportunities:reassign-open",
        rpc("ReassignOpenOpportunities"),
        "Hand every open deal of one user to another (admin)",
        body=JsonBody(),
    ),
)
