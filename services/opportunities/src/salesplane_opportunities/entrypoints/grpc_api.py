"""gRPC entry point: protobuf in, use case, protobuf out. Errors are mapped by the shared interceptor."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from salesplane.opportunities.v1 import opportunities_pb2 as pb
from salesplane.opportunities.v1 import opportunities_pb2_grpc as pb_grpc
from salesplane_opportunities.adapters.opportunity_mapping import (
    catalog_to_proto,
    exchange_rate_to_proto,
    opportunity_to_proto,
    stage_visit_to_proto,
)
from salesplane_opportunities.domain.listing import build_query
from salesplane_opportunities.entrypoints import requests
from salesplane_opportunities.service_layer import configuration, deals, queries
from salesplane_opportunities.service_layer.unit_of_work import OpportunitiesUnitOfWork
from salesplane_platform.grpc_interceptor import current_caller
from salesplane_platform.service_principals import on_behalf_of


class OpportunityServicer(pb_grpc.OpportunityServiceServicer):
    def __init__(self, unit_of_work: Callable[[], OpportunitiesUnitOfWork]) -> None:
        self._uow = unit_of_work

    def CreateOpportunity(
        self, request: pb.CreateOpportunityRequest, context: grpc.ServicerContext
    ) -> pb.Opportunity:
        caller = current_caller()
        opportunity = deals.create_opportunity(
            draft=requests.draft_from(request),
            request_id=request.request_id,
            caller=caller,
            uow=self._uow(),
            acting_for=on_behalf_of(caller, context.invocation_metadata()),
        )
        return opportunity_to_proto(opportunity)

    def UpdateOpportunity(
        self, request: pb.UpdateOpportunityRequest, context: grpc.ServicerContext
    ) -> pb.Opportunity:
        opportunity = deals.update_opportunity(
            opportunity_id=request.opportunity.id,
            changes=requests.changes_from(request),
            expected_version=request.expected_version,
            caller=current_caller(),
            uow=self._uow(),
        )
        return opportunity_to_proto(opportunity)

    def GetOpportunity(
        self, request: pb.GetOpportunityRequest, context: grpc.ServicerContext
    ) -> pb.Opportunity:
        opportunity = queries.get_opportunity(
            opportunity_id=request.opportunity_id, caller=current_caller(), uow=self._uow()
        )
        return opportunity_to_proto(opportunity)

    def ListOpportunities(
        self, request: pb.ListOpportunitiesRequest, context: grpc.ServicerContext
    ) -> pb.ListOpportunitiesResponse:
        caller = current_caller()
        query = build_query(requests.filter_from(request), request.page_size, request.page_token)
        page = queries.list_opportunities(query=query, caller=caller, uow=self._uow())
        return pb.ListOpportunitiesResponse(
            opportunities=[opportunity_to_proto(o) for o in page.opportunities],
            next_page_token=page.next_page_token,
        )

    def DeleteOpportunity(
        self, request: pb.DeleteOpportunityRequest, context: grpc.ServicerContext
    ) -> pb.DeleteOpportunityResponse:
        deals.delete_opportunity(
            opportunity_id=request.opportunity_id,
            expected_version=request.expected_version,
            caller=current_caller(),
            uow=self._uow(),
        )
        return pb.DeleteOpportunityResponse()

    def CloseOpportunity(
        self, request: pb.CloseOpportunityRequest, context: grpc.ServicerContext
    ) -> pb.Opportunity:
        opportunity = deals.close_opportunity(
            opportunity_id=request.opportunity_id,
            outcome=requests.outcome_from(request.outcome),
            reason=request.reason,
            sales_stage=request.sales_stage,
            expected_version=request.expected_version,
            caller=current_caller(),
            uow=self._uow(),
        )
        return opportunity_to_proto(opportunity)

    def ReopenOpportunity(
        self, request: pb.ReopenOpportunityRequest, context: grpc.ServicerContext
    ) -> pb.Opportunity:
        opportunity = deals.reopen_opportunity(
            opportunity_id=request.opportunity_id,
            sales_stage=request.sales_stage,
            expected_version=request.expected_version,
            caller=current_caller(),
            uow=self._uow(),
        )
        return opportunity_to_proto(opportunity)

    def ReassignOpportunity(
        self, request: pb.ReassignOpportunityRequest, context: grpc.ServicerContext
    ) -> pb.Opportunity:
        opportunity = deals.reassign_opportunity(
            opportunity_id=request.opportunity_id,
            new_owner_user_id=request.new_owner_user_id,
            expected_version=request.expected_version,
            caller=current_caller(),
            uow=self._uow(),
        )
        return opportunity_to_proto(opportunity)

    def ReassignOpenOpportunities(
        self, request: pb.ReassignOpenOpportunitiesRequest, context: grpc.ServicerContext
    ) -> pb.ReassignOpenOpportunitiesResponse:
        caller = current_caller()
        moved = deals.reassign_open_opportunities(
            from_user_id=request.from_user_id,
            to_user_id=request.to_user_id,
            caller=caller,
            acting_for=on_behalf_of(caller, context.invocation_metadata()),
            uow=self._uow(),
        )
        return pb.ReassignOpenOpportunitiesResponse(reassigned=moved)

    def GetStageHistory(
        self, request: pb.GetStageHistoryRequest, context: grpc.ServicerContext
    ) -> pb.GetStageHistoryResponse:
        history = queries.get_stage_history(
            opportunity_id=request.opportunity_id, caller=current_caller(), uow=self._uow()
        )
        return pb.GetStageHistoryResponse(
            entries=[stage_visit_to_proto(v, history.as_of) for v in history.visits]
        )

    def ListSalesStages(
        self, request: pb.ListSalesStagesRequest, context: grpc.ServicerContext
    ) -> pb.ListSalesStagesResponse:
        current_caller()
        return catalog_to_proto(configuration.list_sales_stages(uow=self._uow()))

    def ReplaceSalesStages(
        self, request: pb.ReplaceSalesStagesRequest, context: grpc.ServicerContext
    ) -> pb.ListSalesStagesResponse:
        catalog = configuration.replace_sales_stages(
            stages=requests.stages_from(request),
            expected_revision=request.expected_revision,
            caller=current_caller(),
            uow=self._uow(),
        )
        return catalog_to_proto(catalog)

    def ListExchangeRates(
        self, request: pb.ListExchangeRatesRequest, context: grpc.ServicerContext
    ) -> pb.ListExchangeRatesResponse:
        current_caller()
        listed = configuration.list_exchange_rates(currency=request.currency_code, uow=self._uow())
        return pb.ListExchangeRatesResponse(
            base_currency_code=listed.base_currency,
            rates=[exchange_rate_to_proto(r) for r in listed.rates],
        )

    def SetExchangeRate(
        self, request: pb.SetExchangeRateRequest, context: grpc.ServicerContext
    ) -> pb.ExchangeRate:
        rate = configuration.set_exchange_rate(
            currency=request.currency_code,
            rate=request.rate,
            effective_from=requests.effective_date_from(request),
            caller=current_caller(),
            uow=self._uow(),
        )
        return exchange_rate_to_proto(rate)
