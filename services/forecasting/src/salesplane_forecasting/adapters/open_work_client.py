"""A user's open work in the leads and opportunities services, over gRPC with forecasting's own
service credentials (never an administrator's token): the services let `service:forecasting` call
only these RPCs. The administrator it acts for goes in `x-salesplane-on-behalf-of`, for the record.

A service that does not answer is UNAVAILABLE to our caller (the deactivation then does not
happen); its refusals keep their meaning."""

from __future__ import annotations

from typing import TypeVar

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from salesplane.leads.v1 import leads_pb2, leads_pb2_grpc
from salesplane.opportunities.v1 import opportunities_pb2, opportunities_pb2_grpc
from salesplane_platform.errors import Conflict, DomainError, FailedPrecondition, Unavailable
from salesplane_platform.identity import AUTHORIZATION_HEADER
from salesplane_platform.service_credentials import ServiceCredentials
from salesplane_platform.service_principals import on_behalf_of_metadata

R = TypeVar("R")
T = TypeVar("T")
COUNT_DEADLINE_SECONDS = 5.0
# A hand-over moves a batch per transaction; a user with many open records takes a while.
REASSIGN_DEADLINE_SECONDS = 60.0


class GrpcOpenWork:
    def __init__(
        self,
        leads: grpc.Channel,
        opportunities: grpc.Channel,
        credentials: ServiceCredentials,
        *,
        count_deadline_seconds: float = COUNT_DEADLINE_SECONDS,
        reassign_deadline_seconds: float = REASSIGN_DEADLINE_SECONDS,
    ) -> None:
        self._leads = leads_pb2_grpc.LeadServiceStub(leads)
        self._opportunities = opportunities_pb2_grpc.OpportunityServiceStub(opportunities)
        self._credentials = credentials
        self._count_deadline = count_deadline_seconds
        self._reassign_deadline = reassign_deadline_seconds

    def count_open_leads(self, user_id: str) -> int:
        request = leads_pb2.CountOpenLeadsRequest(user_id=user_id)
        answer = self._call("leads", self._leads.CountOpenLeads, request, "", self._count_deadline)
        return answer.open_leads

    def reassign_open_leads(self, *, from_user_id: str, to_user_id: str, on_behalf_of: str) -> int:
        request = leads_pb2.ReassignOpenLeadsRequest(from_user_id=from_user_id, to_user_id=to_user_id)
        answer = self._call(
            "leads", self._leads.ReassignOpenLeads, request, on_behalf_of, self._reassign_deadline
        )
        return answer.reassigned

    def reassign_open_opportunities(self, *, from_user_id: str, to_user_id: str, on_behalf_of: str) -> int:
        request = opportunities_pb2.ReassignOpenOpportunitiesRequest(
            from_user_id=from_user_id, to_user_id=to_user_id
        )
        answer = self._call(
            "opportunities",
            self._opportunities.ReassignOpenOpportunities,
            request,
            on_behalf_of,
            self._reassign_deadline,
        )
        return answer.reassigned

    def _call(
        self,
        service: str,
        method: grpc.UnaryUnaryMultiCallable[R, T],
        request: R,
        on_behalf_of: str,
        deadline: float,
    ) -> T:
        metadata = (
            (AUTHORIZATION_HEADER, f"Bearer {self._credentials.bearer_token()}"),
            *on_behalf_of_metadata(on_behalf_of),
        )
        try:
            return method(request, metadata=metadata, timeout=deadline)
        except grpc.RpcError as error:
            raise translated(service, error) from error


def translated(service: str, error: grpc.RpcError) -> DomainError:
    code = error.code()
    details = error.details() or code.name
    if code is grpc.StatusCode.FAILED_PRECONDITION:
        return FailedPrecondition(f"{service} service: {details}", reason=_reason(error))
    if code is grpc.StatusCode.ABORTED:
        return Conflict(f"{service} service: {details}; retry")
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        # Forecasting's own credentials, not the caller's, were refused: a deployment to fix.
        return Unavailable(
            f"the {service} service refused the forecasting service's credentials ({details}); "
            "nothing was deactivated"
        )
    return Unavailable(
        f"the {service} service did not complete the call ({code.name}: {details}); nothing was "
        "deactivated, and repeating the request is safe"
    )


def _reason(error: grpc.RpcError) -> str:
    status = rpc_status.from_call(error)
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason or "FAILED_PRECONDITION"
    return "FAILED_PRECONDITION"
