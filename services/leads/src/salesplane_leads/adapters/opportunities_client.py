"""The opportunities service over gRPC, called with the leads service's own credentials (a service
principal that opportunities lets create deals only for a conversion), naming the user it acts for
in `x-salesplane-on-behalf-of` for the record; its refusals come back to our caller with the same
status code."""

from __future__ import annotations

from typing import TypeVar

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from salesplane.opportunities.v1 import opportunities_pb2, opportunities_pb2_grpc
from salesplane_leads.adapters.contract_mapping import date_to_proto, money_to_proto
from salesplane_leads.domain.conversion import OpportunityOrder
from salesplane_leads.service_layer.conversion import OpportunityRejected, OpportunityServiceUnavailable
from salesplane_platform.errors import (
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from salesplane_platform.identity import AUTHORIZATION_HEADER
from salesplane_platform.service_credentials import ServiceCredentials
from salesplane_platform.service_principals import on_behalf_of_metadata

R = TypeVar("R")
T = TypeVar("T")
# Violations reported by the opportunities service name fields of its request; ours carry this
# prefix so the caller can tell them from fields of ConvertLeadRequest.
VIOLATION_PREFIX = "opportunity."
DEFAULT_DEADLINE_SECONDS = 5.0


class GrpcOpportunityService:
    def __init__(
        self,
        channel: grpc.Channel,
        credentials: ServiceCredentials,
        *,
        deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
    ) -> None:
        self._stub = opportunities_pb2_grpc.OpportunityServiceStub(channel)
        self._credentials = credentials
        self._deadline = deadline_seconds

    def first_open_stage(self, *, on_behalf_of: str) -> str:
        response = self._call(
            self._stub.ListSalesStages, opportunities_pb2.ListSalesStagesRequest(), on_behalf_of
        )
        open_stages = sorted(
            (stage for stage in response.sales_stages if not stage.is_won and not stage.is_lost),
            key=lambda stage: stage.order,
        )
        if not open_stages:
            raise OpportunityRejected(
                FailedPrecondition("the opportunities service has no open sales stage to start in")
            )
        return open_stages[0].name

    def create_opportunity(self, order: OpportunityOrder, *, on_behalf_of: str) -> str:
        request = opportunities_pb2.CreateOpportunityRequest(
            name=order.name,
            owner_user_id=order.owner_user_id,
            amount=money_to_proto(order.amount),
            expected_close_date=date_to_proto(order.expected_close_date),
            sales_stage=order.sales_stage,
            account_name=order.account_name,
            next_step=order.next_step,
            lead_source_id=order.lead_source_id,
            campaign_id=order.campaign_id,
            lead_id=order.lead_id,
            request_id=order.request_id,
        )
        return self._call(self._stub.CreateOpportunity, request, on_behalf_of).id

    def _call(self, method: grpc.UnaryUnaryMultiCallable[R, T], request: R, on_behalf_of: str) -> T:
        try:
            token = self._credentials.bearer_token()
        except DomainError as error:
            # Nothing was sent, so nothing was created.
            raise OpportunityRejected(error) from error
        metadata = ((AUTHORIZATION_HEADER, f"Bearer {token}"), *on_behalf_of_metadata(on_behalf_of))
        try:
            return method(request, metadata=metadata, timeout=self._deadline)
        except grpc.RpcError as error:
            raise translated(error) from error


# Codes that say the call was refused: nothing was created. Any other failure leaves it unknown.
_REFUSALS = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.OUT_OF_RANGE,
    }
)


def translated(error: grpc.RpcError) -> OpportunityRejected | OpportunityServiceUnavailable:
    code = error.code()
    details = error.details() or code.name
    if code not in _REFUSALS:
        return OpportunityServiceUnavailable(
            f"the opportunities service did not complete the call ({code.name}: {details});"
            " calling ConvertLead again is safe"
        )
    return OpportunityRejected(_refusal(code, details, error))


def _refusal(code: grpc.StatusCode, details: str, error: grpc.RpcError) -> DomainError:
    message = f"opportunities service: {details}"
    status = rpc_status.from_call(error)
    attached = status.details if status else []
    # Both an invalid request and one the stored data refuses (a stage it lacks) name their fields.
    violations = [
        FieldViolation(VIOLATION_PREFIX + violation.field, violation.description)
        for detail in attached
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR)
        for violation in _unpacked(detail, error_details_pb2.BadRequest()).field_violations
    ]
    if code is grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgument(violations or [FieldViolation("opportunity", message)])
    if code is grpc.StatusCode.PERMISSION_DENIED:
        return PermissionDenied(message)
    if code is grpc.StatusCode.UNAUTHENTICATED:
        return Unauthenticated(message)
    if code is grpc.StatusCode.NOT_FOUND:
        for detail in attached:
            if detail.Is(error_details_pb2.ResourceInfo.DESCRIPTOR):
                info = _unpacked(detail, error_details_pb2.ResourceInfo())
                return NotFound(info.resource_type, info.resource_name)
        return NotFound("opportunity resource", details)
    reason = "FAILED_PRECONDITION"
    for detail in attached:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            reason = _unpacked(detail, error_details_pb2.ErrorInfo()).reason or reason
    return FailedPrecondition(message, reason=reason, violations=violations)


M = TypeVar("M", bound=Message)


def _unpacked(detail: any_pb2.Any, message: M) -> M:
    detail.Unpack(message)
    return message
