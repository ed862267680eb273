"""gRPC entry point: protobuf in, use case, protobuf out. Errors are mapped by the shared interceptor."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from salesplane.leads.v1 import leads_pb2, leads_pb2_grpc
from salesplane_leads.adapters.proto_mapping import draft_from_request, lead_to_proto
from salesplane_leads.service_layer import handlers
from salesplane_leads.service_layer.unit_of_work import LeadsUnitOfWork
from salesplane_platform.grpc_interceptor import current_caller


class LeadServicer(leads_pb2_grpc.LeadServiceServicer):
    def __init__(self, unit_of_work: Callable[[], LeadsUnitOfWork]) -> None:
        self._uow = unit_of_work

    def CreateLead(
        self, request: leads_pb2.CreateLeadRequest, context: grpc.ServicerContext
    ) -> leads_pb2.Lead:
        lead = handlers.create_lead(
            draft=draft_from_request(request), caller=current_caller(), uow=self._uow()
        )
        return lead_to_proto(lead)

    def GetLead(self, request: leads_pb2.GetLeadRequest, context: grpc.ServicerContext) -> leads_pb2.Lead:
        lead = handlers.get_lead(lead_id=request.lead_id, caller=current_caller(), uow=self._uow())
        return lead_to_proto(lead)
