"""The gRPC edge: update masks and list filters from requests, and the opportunities service's
statuses turned into ours."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.any_pb2 import Any as AnyMessage
from google.protobuf.field_mask_pb2 import FieldMask
from google.rpc import error_details_pb2, status_pb2

from salesplane.leads.v1 import leads_pb2
from salesplane_leads.adapters.opportunities_client import translated
from salesplane_leads.domain.lead_status import LeadStatus
from salesplane_leads.entrypoints.grpc_api import changes_from_request, filter_from_request
from salesplane_leads.entrypoints.main import opportunities_address
from salesplane_leads.service_layer.conversion import OpportunityRejected, OpportunityServiceUnavailable
from salesplane_platform.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied


def update(*paths: str) -> leads_pb2.UpdateLeadRequest:
    return leads_pb2.UpdateLeadRequest(
        lead=leads_pb2.LeadFields(company="Acme", address=leads_pb2.Address(city="Paris", country_code="fr")),
        update_mask=FieldMask(paths=list(paths)),
    )


def test_masked_paths_become_changes_and_address_stands_for_all_its_fields() -> None:
    assert changes_from_request(update("company", "address.city")) == {
        "company": "Acme",
        "address.city": "Paris",
    }
    assert changes_from_request(update("address")) == {
        "address.street": "",
        "address.city": "Paris",
        "address.region": "",
        "address.postal_code": "",
        "address.country_code": "fr",
    }


@pytest.mark.parametrize("paths", [(), ("status",), ("company", "score")])
def test_an_empty_or_unknown_mask_is_an_invalid_argument(paths: tuple[str, ...]) -> None:
    with pytest.raises(InvalidArgument) as error:
        changes_from_request(update(*paths))
    assert [v.field for v in error.value.violations] == ["update_mask"]


def test_list_filters_come_from_the_request() -> None:
    request = leads_pb2.ListLeadsRequest(
        statuses=[leads_pb2.LEAD_STATUS_NEW, leads_pb2.LEAD_STATUS_DEAD],
        assigned_user_ids=[" bob "],
        text=" acme ",
        min_score=0,
    )

    found = filter_from_request(request)

    assert (found.statuses, found.assigned_user_ids, found.text, found.min_score) == (
        frozenset({LeadStatus.NEW, LeadStatus.DEAD}),
        frozenset({"bob"}),
        "acme",
        0,
    )
    assert filter_from_request(leads_pb2.ListLeadsRequest()).min_score is None


@pytest.mark.parametrize("status", [leads_pb2.LEAD_STATUS_UNSPECIFIED, 42])
def test_an_unspecified_or_unknown_status_filter_is_invalid(status: int) -> None:
    with pytest.raises(InvalidArgument):
        filter_from_request(leads_pb2.ListLeadsRequest(statuses=[status]))


class FailedCall(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str, *detail_messages: object) -> None:
        self._code, self._details = code, details
        packed = []
        for message in detail_messages:
            wrapped = AnyMessage()
            wrapped.Pack(message)  # type: ignore[arg-type]
            packed.append(wrapped)
        status = status_pb2.Status(code=code.value[0], message=details, details=packed)
        self._trailers = (("grpc-status-details-bin", status.SerializeToString()),) if packed else ()

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple[tuple[str, bytes], ...]:
        return self._trailers


def refusal(error: grpc.RpcError) -> object:
    found = translated(error)
    assert isinstance(found, OpportunityRejected)
    return found.error


def test_field_violations_of_the_opportunities_service_keep_their_code_with_a_prefix() -> None:
    bad_request = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field="sales_stage", description="unknown stage")
        ]
    )
    error = refusal(FailedCall(grpc.StatusCode.INVALID_ARGUMENT, "sales_stage: unknown stage", bad_request))

    assert isinstance(error, InvalidArgument)
    assert [(v.field, v.description) for v in error.violations] == [
        ("opportunity.sales_stage", "unknown stage")
    ]


def test_an_invalid_argument_without_details_is_still_an_invalid_argument() -> None:
    error = refusal(FailedCall(grpc.StatusCode.INVALID_ARGUMENT, "bad"))
    assert isinstance(error, InvalidArgument) and error.violations[0].field == "opportunity"


def test_refusals_keep_their_code() -> None:
    assert isinstance(refusal(FailedCall(grpc.StatusCode.PERMISSION_DENIED, "not yours")), PermissionDenied)
    info = error_details_pb2.ErrorInfo(reason="STAGE_CLOSED", domain="salesplane.dev")
    precondition = refusal(FailedCall(grpc.StatusCode.FAILED_PRECONDITION, "closed", info))
    assert isinstance(precondition, FailedPrecondition) and precondition.reason == "STAGE_CLOSED"
    resource = error_details_pb2.ResourceInfo(resource_type="sales_stage", resource_name="Nope")
    missing = refusal(FailedCall(grpc.StatusCode.NOT_FOUND, "missing", resource))
    assert isinstance(missing, NotFound) and (missing.resource_type, missing.resource_id) == (
        "sales_stage",
        "Nope",
    )


@pytest.mark.parametrize(
    "code",
    [
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.ABORTED,
    ],
)
def test_a_call_without_a_clear_answer_is_unavailable_and_safe_to_retry(code: grpc.StatusCode) -> None:
    found = translated(FailedCall(code, "down"))
    assert isinstance(found, OpportunityServiceUnavailable)
    assert "calling ConvertLead again is safe" in found.message


def test_the_opportunities_address_comes_from_the_environment() -> None:
    assert opportunities_address({}) == "localhost:50052"
    assert (
        opportunities_address({"SALESPLANE_OPPORTUNITIES_TARGET": "opportunities:50052"})
        == "opportunities:50052"
    )
    assert (
        opportunities_address({"SALESPLANE_OPPORTUNITIES_TARGET": " opp.internal:7000 "})
        == "opp.internal:7000"
    )
