"""Errors as RFC 9457 problem details (`application/problem+json`), and the mapping of gRPC statuses
onto them.

Status mapping (the rich google.rpc details the services attach are read via grpc_status):

  INVALID_ARGUMENT, OUT_OF_RANGE   400  field violations from google.rpc.BadRequest in `errors`
  UNAUTHENTICATED                  401
  PERMISSION_DENIED                403
  NOT_FOUND                        404
  ALREADY_EXISTS                   409
  ABORTED                          409  `reason` VERSION_MISMATCH: re-read and retry
  FAILED_PRECONDITION              422  the request is well-formed but the resource's state does not
                                        allow it; retrying will not help. Not 409, so that 409 always
                                        means "a concurrent change won, re-read and retry".
  RESOURCE_EXHAUSTED               429
  UNAVAILABLE                      503
  DEADLINE_EXCEEDED                504
  anything else                    502  with a generic detail; the upstream's message is only logged

For 4xx statuses the upstream's message is shown as `detail`: the services write those messages
for callers. 5xx details never carry upstream internals.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from flask import Response
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from salesplane_platform.errors import FieldViolation

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://salesplane.dev/problems/"


def problem_type(slug: str) -> str:
    return PROBLEM_TYPE_BASE + slug


@dataclass(eq=False)
class Problem(Exception):
    """An error the gateway answers with a problem+json body."""

    status: int
    title: str
    detail: str
    type: str = "about:blank"
    errors: Sequence[FieldViolation] = ()
    reason: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.status} {self.title}: {self.detail}")

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "errors": [{"field": e.field, "description": e.description} for e in self.errors],
        }
        if self.reason:
            body["reason"] = self.reason
        body.update(self.extensions)
        return body

    def to_response(self) -> Response:
        response = Response(json.dumps(self.to_json()), status=self.status, mimetype=PROBLEM_JSON)
        response.headers.update(self.headers)
        return response


def validation_problem(
    errors: Sequence[FieldViolation], detail: str = "The request has invalid fields."
) -> Problem:
    return Problem(400, "Invalid request", detail, problem_type("invalid-request"), errors=errors)


def unauthenticated_problem(detail: str) -> Problem:
    return Problem(
        401,
        "Unauthenticated",
        detail,
        problem_type("unauthenticated"),
        headers={"WWW-Authenticate": 'Bearer realm="salesplane"'},
    )


def rate_limited_problem(retry_after_seconds: int) -> Problem:
    """The caller has spent their rate limit (rate_limits.py)."""
    return Problem(
        429,
        "Too many requests",
        f"The request rate limit is spent; retry in {retry_after_seconds} s.",
        problem_type("rate-limited"),
        headers={"Retry-After": str(retry_after_seconds)},
    )


def identity_provider_unavailable_problem(detail: str) -> Problem:
    return Problem(
        503,
        "Service unavailable",
        detail,
        problem_type("service-unavailable"),
        headers={"Retry-After": "5"},
    )


@dataclass(frozen=True)
class _Mapping:
    status: int
    title: str
    slug: str
    # Whether the upstream's message may be shown to the caller.
    show_message: bool = True


_BY_CODE: dict[grpc.StatusCode, _Mapping] = {
    grpc.StatusCode.INVALID_ARGUMENT: _Mapping(400, "Invalid request", "invalid-request"),
    grpc.StatusCode.OUT_OF_RANGE: _Mapping(400, "Invalid request", "invalid-request"),
    grpc.StatusCode.UNAUTHENTICATED: _Mapping(401, "Unauthenticated", "unauthenticated"),
    grpc.StatusCode.PERMISSION_DENIED: _Mapping(403, "Permission denied", "permission-denied"),
    grpc.StatusCode.NOT_FOUND: _Mapping(404, "Not found", "not-found"),
    grpc.StatusCode.ALREADY_EXISTS: _Mapping(409, "Already exists", "already-exists"),
    grpc.StatusCode.ABORTED: _Mapping(409, "Conflict", "conflict"),
    grpc.StatusCode.FAILED_PRECONDITION: _Mapping(422, "Failed precondition", "failed-precondition"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: _Mapping(429, "Too many requests", "too-many-requests", False),
    grpc.StatusCode.UNAVAILABLE: _Mapping(503, "Service unavailable", "service-unavailable", False),
    grpc.StatusCode.DEADLINE_EXCEEDED: _Mapping(504, "Upstream timeout", "upstream-timeout", False),
}
_UPSTREAM_ERROR = _Mapping(502, "Upstream error", "upstream-error", False)

# A caller told to retry is told when: clients and proxies back off by Retry-After instead of
# hammering a service that is restarting or a database that is failing over.
RETRY_AFTER_SECONDS = 2

_GENERIC_DETAIL = {
    429: "The service is overloaded; retry later.",
    502: "A backend service failed to answer the request.",
    503: "A backend service is not reachable right now; retry later.",
    504: "A backend service did not answer in time; retry later.",
}


def problem_from_rpc_error(error: grpc.RpcError, upstream: str) -> Problem:
    """The problem an HTTP caller sees for a failed gRPC call."""
    code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
    message = (error.details() if isinstance(error, grpc.Call) else None) or ""
    mapping = _BY_CODE.get(code, _UPSTREAM_ERROR)
    errors: list[FieldViolation] = []
    reason: str | None = None
    for detail in _status_details(error):
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            errors.extend(FieldViolation(v.field, v.description) for v in bad_request.field_violations)
        elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason or reason
    if mapping.status >= 500:
        log.warning(
            "upstream call failed",
            extra={"upstream": upstream, "grpc_code": code.name, "grpc_message": message},
        )
    if not mapping.show_message:
        problem = Problem(
            mapping.status, mapping.title, _GENERIC_DETAIL[mapping.status], problem_type(mapping.slug)
        )
        if mapping.status in (429, 503, 504):
            problem.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return problem
    slug, title = mapping.slug, mapping.title
    if code == grpc.StatusCode.ABORTED and reason == "VERSION_MISMATCH":
        slug, title = "version-mismatch", "Version mismatch"
    if code == grpc.StatusCode.INVALID_ARGUMENT and errors:
        message = "The request has invalid fields."
    problem = Problem(
        mapping.status, title, message or title, problem_type(slug), errors=errors, reason=reason
    )
    if mapping.status == 401:
        problem.headers["WWW-Authenticate"] = 'Bearer realm="salesplane"'
    return problem


def _status_details(error: grpc.RpcError) -> Sequence[Any]:
    if not isinstance(error, grpc.Call):
        return ()
    try:
        status: status_pb2.Status | None = rpc_status.from_call(error)
    except ValueError:  # trailing status inconsistent with the call's code: ignore the details
        return ()
    return list(status.details) if status is not None else ()
