"""gRPC entry point: protobuf in, use case, protobuf out. Errors are mapped by the shared interceptor."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from salesplane.opportunities.v1 import opportunities_pb2, opportunities_pb2_grpc
from salesplane_opportunities.adapters.proto_mapping import (
    date_from_proto,
    opportunity_to_proto,
    stage_to_proto,
)
from salesplane_opportunities.domain.opportunity import OpportunityChanges, OpportunityDraft
from salesplane_opportunities.service_layer import handlers
from salesplane_opportunities.service_layer.unit_of_work import OpportunitiesUnitOfWork
from salesplane_platform.errors import FieldViolation, InvalidArgument
from salesplane_platform.grpc_interceptor import current_caller

UPDATABLE_PATHS = frozenset(
    {
        "name",
        "owner_user_id",
        "amount",
        "amount.amount_minor",
        "amount.currency_code",
        "expected_close_date",
        "sales_stage",
        "probability",
    }
)


class OpportunityServicer(opportunities_pb2_grpc.OpportunityServiceServicer):
    def __init__(self, unit_of_work: Callable[[], OpportunitiesUnitOfWork]) -> None:
        self._uow = unit_of_work

    def CreateOpportunity(
        self, request: opportunities_pb2.CreateOpportunityRequest, context: grpc.ServicerContext
    ) -> opportunities_pb2.Opportunity:
        draft = OpportunityDraft(
            name=request.name,
            owner_user_id=request.owner_user_id,
            amount_minor=request.amount.amount_minor,
            currency=request.amount.currency_code,
            expected_close_date=date_from_proto(request.expected_close_date),
            sales_stage=request.sales_stage,
            probability=request.probability if request.HasField("probability") else None,
        )
        opportunity = handlers.create_opportunity(draft=draft, caller=current_caller(), uow=self._uow())
        return opportunity_to_proto(opportunity)

    def UpdateOpportunity(
        self, request: opportunities_pb2.UpdateOpportunityRequest, context: grpc.ServicerContext
    ) -> opportunities_pb2.Opportunity:
        changes = changes_from_request(request)
        opportunity = handlers.update_opportunity(
            opportunity_id=request.opportunity.id,
            changes=changes,
            expected_version=request.expected_version or None,
            caller=current_caller(),
            uow=self._uow(),
        )
        return opportunity_to_proto(opportunity)

    def GetOpportunity(
        self, request: opportunities_pb2.GetOpportunityRequest, context: grpc.ServicerContext
    ) -> opportunities_pb2.Opportunity:
        opportunity = handlers.get_opportunity(
            opportunity_id=request.opportunity_id, caller=current_caller(), uow=self._uow()
        )
        return opportunity_to_proto(opportunity)

    def ListSalesStages(
        self, request: opportunities_pb2.ListSalesStagesRequest, context: grpc.ServicerContext
    ) -> opportunities_pb2.ListSalesStagesResponse:
        current_caller()
        catalog = handlers.list_sales_stages(uow=self._uow())
        return opportunities_pb2.ListSalesStagesResponse(
            sales_stages=[stage_to_proto(s, i) for i, s in enumerate(catalog.stages)]
        )


def changes_from_request(request: opportunities_pb2.UpdateOpportunityRequest) -> OpportunityChanges:
    paths = set(request.update_mask.paths)
    if not paths:
        raise InvalidArgument(FieldViolation("update_mask", "must name at least one field to change"))
    if unknown := paths - UPDATABLE_PATHS:
        raise InvalidArgument(
            FieldViolation(
                "update_mask", f"unknown or read-only paths {sorted(unknown)}; use {sorted(UPDATABLE_PATHS)}"
            )
        )
    new = request.opportunity
    amount_minor = currency = None
    if paths & {"amount", "amount.amount_minor"}:
        amount_minor = new.amount.amount_minor
    if paths & {"amount", "amount.currency_code"}:
        currency = new.amount.currency_code
    expected_close_date = None
    if "expected_close_date" in paths:
        expected_close_date = date_from_proto(new.expected_close_date)
        if expected_close_date is None:
            raise InvalidArgument(FieldViolation("expected_close_date", "must be a valid calendar date"))
    follows_stage = (
        "probability" in paths and new.probability_source == opportunities_pb2.PROBABILITY_SOURCE_STAGE
    )
    return OpportunityChanges(
        name=new.name if "name" in paths else None,
        owner_user_id=new.owner_user_id if "owner_user_id" in paths else None,
        amount_minor=amount_minor,
        currency=currency,
        expected_close_date=expected_close_date,
        sales_stage=new.sales_stage if "sales_stage" in paths else None,
        probability=new.probability if "probability" in paths and not follows_stage else None,
        probability_follows_stage=follows_stage,
    )
