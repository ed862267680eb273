"""Domain errors as gRPC statuses with google.rpc error details, so clients (and the gateway) get
machine-readable field violations, not just a message."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from salesplane_platform.errors import (
    Conflict,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)

ERROR_DOMAIN = "salesplane.dev"


def _packed(message: object) -> any_pb2.Any:
    wrapped = any_pb2.Any()
    wrapped.Pack(message)  # type: ignore[arg-type]
    return wrapped


def _bad_request(violations: list[FieldViolation]) -> any_pb2.Any:
    return _packed(
        error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                for v in violations
            ]
        )
    )


def status_for(error: DomainError) -> status_pb2.Status:
    details: list[any_pb2.Any] = []
    if isinstance(error, InvalidArgument):
        code = code_pb2.INVALID_ARGUMENT
        details.append(_bad_request(error.violations))
    elif isinstance(error, NotFound):
        code = code_pb2.NOT_FOUND
        details.append(
            _packed(
                error_details_pb2.ResourceInfo(
                    resource_type=error.resource_type,
                    resource_name=error.resource_id,
                    description=error.message,
                )
            )
        )
    elif isinstance(error, FailedPrecondition):
        code = code_pb2.FAILED_PRECONDITION
        info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata)
        details.append(_packed(info))
        if error.violations:
            details.append(_bad_request(error.violations))
    elif isinstance(error, Conflict):
        code = code_pb2.ABORTED
        details.append(_packed(error_details_pb2.ErrorInfo(reason="VERSION_MISMATCH", domain=ERROR_DOMAIN)))
    elif isinstance(error, PermissionDenied):
        code = code_pb2.PERMISSION_DENIED
    elif isinstance(error, Unauthenticated):
        code = code_pb2.UNAUTHENTICATED
    elif isinstance(error, Unavailable):
        code = code_pb2.UNAVAILABLE
    else:
        code = code_pb2.UNKNOWN
    return status_pb2.Status(code=code, message=error.message, details=details)


def grpc_status_for(error: DomainError) -> grpc.Status:
    status: grpc.Status = rpc_status.to_status(status_for(error))
    return status
