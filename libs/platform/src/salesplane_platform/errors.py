"""Errors the domain and service layers raise. Entry points translate them into gRPC statuses
(and the gateway into HTTP problems); nothing here knows about either."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


class ConfigurationError(Exception):
    """The process was started with settings it cannot run with."""


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class DomainError(Exception):
    """Base of the errors a caller can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(DomainError):
    def __init__(self, violations: list[FieldViolation] | FieldViolation) -> None:
        self.violations = violations if isinstance(violations, list) else [violations]
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in self.violations))


class NotFound(DomainError):
    def __init__(self, resource_type: str, resource_id: str) -> None:
        super().__init__(f"{resource_type} {resource_id!r} not found")
        self.resource_type = resource_type
        self.resource_id = resource_id


class FailedPrecondition(DomainError):
    def __init__(
        self,
        message: str,
        *,
        reason: str = "FAILED_PRECONDITION",
        metadata: Mapping[str, str] | None = None,
        violations: list[FieldViolation] | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        # Machine-readable facts of the refusal (google.rpc.ErrorInfo metadata), e.g. counts.
        self.metadata: Mapping[str, str] = dict(metadata or {})
        # The fields whose well-formed values the stored data refuses (a sales stage that is not
        # configured), so that a caller can point at them as at invalid ones.
        self.violations: list[FieldViolation] = list(violations or [])


class Conflict(DomainError):
    """A concurrent change won (optimistic concurrency); the caller should re-read and retry."""


class PermissionDenied(DomainError):
    pass


class Unavailable(DomainError):
    """Something this service depends on did not answer; retrying later is safe."""


class Unauthenticated(DomainError):
    pass


class Validator:
    """Collects every field violation of a request so the caller learns all of them at once."""

    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def require(self, condition: bool, field: str, description: str) -> bool:
        if not condition:
            self.violations.append(FieldViolation(field, description))
        return condition

    def fail(self, field: str, description: str) -> None:
        self.violations.append(FieldViolation(field, description))

    def raise_if_invalid(self) -> None:
        if self.violations:
            raise InvalidArgument(self.violations)

    def raise_if_refused(self, reason: str) -> None:
        """For checks of well-formed values against stored data or configuration (a lead source
        that does not exist, a currency other than the base one): FAILED_PRECONDITION naming every
        refused field, since the request's form is sound and only the data refuses it."""
        if self.violations:
            message = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
            raise FailedPrecondition(message, reason=reason, violations=self.violations)
