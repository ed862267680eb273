"""Checks of request values every use case shares, and retrying a use case that lost a race."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from salesplane_leads.service_layer.unit_of_work import AlreadyStored
from salesplane_platform.errors import Conflict, FieldViolation, InvalidArgument, Validator
from salesplane_platform.identifiers import is_uuid
from salesplane_platform.text_rules import check_text

T = TypeVar("T")

MAX_REQUEST_ID_LENGTH = 128


def require_uuid(field: str, value: str) -> None:
    if not is_uuid(value):
        raise InvalidArgument(FieldViolation(field, "must be a UUID (lower-case, canonical form)"))


def check_request_id(check: Validator, value: str) -> None:
    check_text(check, "request_id", value, MAX_REQUEST_ID_LENGTH)


def expected(version: int) -> int | None:
    """0 in a request means 'whatever the current version is'."""
    if version < 0:
        raise InvalidArgument(FieldViolation("expected_version", "must not be negative"))
    return version or None


def retry_lost_races(use_case: Callable[[], T], *, attempts: int = 3, on_conflict: bool = False) -> T:
    """Run an idempotent use case again when a concurrent call wrote the same unique key first (or,
    with `on_conflict`, changed the same record): the next run sees that write and answers from it."""
    retried: tuple[type[Exception], ...] = (AlreadyStored, Conflict) if on_conflict else (AlreadyStored,)
    for attempt in range(attempts):
        try:
            return use_case()
        except retried:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
