"""Audit entries in the contract (salesplane.audit.v1): the stored record to an AuditEntry, with the
changes since the subject's previous entry, and a list request to a query."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf import struct_pb2, timestamp_pb2

from salesplane.audit.v1 import audit_pb2
from salesplane_platform.audit_log import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    MISSING,
    AuditQuery,
    AuditRecord,
    field_changes,
)
from salesplane_platform.errors import Validator
from salesplane_platform.text_rules import check_text

# The aggregate type of an AuditEntryRecorded event's envelope.
AUDIT_AGGREGATE = "audit_entry"


def audit_entry_proto(record: AuditRecord, service: str) -> audit_pb2.AuditEntry:
    entry = audit_pb2.AuditEntry(
        entry_id=record.entry_id,
        service=service,
        actor=record.actor,
        request_id=record.request_id,
        subject_type=record.subject_type,
        subject_id=record.subject_id,
        subject_version=record.subject_version,
        action=record.action,
        has_previous=record.previous_state is not None,
    )
    entry.occurred_at.FromDatetime(record.occurred_at)
    entry.state.update(dict(record.state))
    if record.previous_state is not None:
        for change in field_changes(record.previous_state, record.state):
            field = entry.changes.add(path=change.path)
            if change.before is not MISSING:
                _set_value(getattr(field, "from"), change.before)  # `from` is a Python keyword
            if change.after is not MISSING:
                _set_value(field.to, change.after)
    return entry


def _set_value(target: struct_pb2.Value, value: Any) -> None:
    # Struct.update is the one public door to the JSON-to-Value conversion.
    holder = struct_pb2.Struct()
    holder.update({"v": value})
    target.CopyFrom(holder.fields["v"])


def audit_query(request: audit_pb2.ListAuditEntriesRequest) -> AuditQuery:
    """The request as a query; INVALID_ARGUMENT naming each bad field at once."""
    check = Validator()
    check.require(
        0 <= request.page_size <= MAX_PAGE_SIZE, "page_size", f"must be between 1 and {MAX_PAGE_SIZE}"
    )
    has_time, has_id = request.HasField("before_time"), bool(request.before_entry_id)
    check.require(
        has_time == has_id, "before_entry_id", "give both before_time and before_entry_id, or neither"
    )
    for name in ("subject_type", "subject_id", "actor", "action", "request_id", "before_entry_id"):
        # PostgreSQL refuses NUL in text: unchecked, such a filter failed as INTERNAL.
        check_text(check, name, getattr(request, name), 1000)
    since = _instant(check, "since", request.since) if request.HasField("since") else None
    before_time = _instant(check, "before_time", request.before_time) if has_time else None
    check.raise_if_invalid()
    return AuditQuery(
        subject_type=request.subject_type,
        subject_id=request.subject_id,
        actor=request.actor,
        action=request.action,
        request_id=request.request_id,
        since=since,
        before=(before_time, request.before_entry_id) if before_time is not None else None,
        limit=request.page_size or DEFAULT_PAGE_SIZE,
    )


def _instant(check: Validator, field: str, value: timestamp_pb2.Timestamp) -> datetime | None:
    # A Timestamp's nanos outside 0..999,999,999 or seconds outside the years 1..9999 make
    # ToDatetime raise ValueError (or OverflowError): the caller's error, not INTERNAL.
    try:
        return value.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        check.fail(field, "must be a valid timestamp between years 1 and 9999")
        return None
