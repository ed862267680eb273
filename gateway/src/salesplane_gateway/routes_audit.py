"""The audit log: every service keeps its own (salesplane.audit.v1.AuditService); the gateway asks
all four at once and merges their pages into one, newest first.

The page is a keyset cursor that every service understands on its own: the last entry a client
kept, (occurred_at, entry_id). Each service returns its entries strictly older than that, so the
merge of the four pages' newest `page_size` is exactly the next page of the merged log, with no
per-service state in the cursor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from flask import request
from google.protobuf.message import Message

from salesplane.audit.v1 import audit_pb2
from salesplane_gateway.json_to_proto import JsonDecoder
from salesplane_gateway.routing import FanOut, Route, Service
from salesplane_gateway.transcoding import JsonPresenter
from salesplane_platform.audit_log import DEFAULT_PAGE_SIZE

# org is served by forecasting: asking it too would list forecasting's entries twice.
AUDITED_UPSTREAMS = ("leads", "opportunities", "forecasting", "reporting")
AUDIT = Service(audit_pb2, "AuditService", upstream="forecasting")


def chosen_upstreams() -> tuple[str, ...]:
    """?service=forecasting reads one service's log (the others need not be up); none: all."""
    chosen = request.args.get("service")
    return (chosen,) if chosen in AUDITED_UPSTREAMS else AUDITED_UPSTREAMS


class AuditPresenter(JsonPresenter):
    query: Mapping[str, dict[str, Any]] = {
        "service": {
            "name": "service",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": list(AUDITED_UPSTREAMS)},
            "description": "Only this service's audit log; by default every service's, merged.",
        }
    }

    def check_query(self, decoder: JsonDecoder) -> None:
        given = request.args.getlist("service")
        if given and (len(given) > 1 or given[0] not in AUDITED_UPSTREAMS):
            decoder.fail("service", f"must be one of {list(AUDITED_UPSTREAMS)}, given once")


def merge_audit_pages(request: Message, answers: Sequence[Message]) -> Message:
    """The newest page_size entries of every service's page; `more` when any were left over."""
    page_size = cast(audit_pb2.ListAuditEntriesRequest, request).page_size or DEFAULT_PAGE_SIZE
    pages = [cast(audit_pb2.ListAuditEntriesResponse, answer) for answer in answers]
    entries = sorted(
        (entry for page in pages for entry in page.entries),
        key=lambda e: (e.occurred_at.seconds, e.occurred_at.nanos, e.entry_id),
        reverse=True,
    )
    return audit_pb2.ListAuditEntriesResponse(
        entries=entries[:page_size],
        more=len(entries) > page_size or any(page.more for page in pages),
    )


AUDIT_ROUTES = (
    Route(
        "GET",
        "/v1/audit-entries",
        AUDIT.rpc("ListAuditEntries"),
        "Every service's audit log, merged, newest first (admin)",
        description=(
            "Who changed what, when, from what, to what, through which request: quotas and splits, "
            "commits, adjustments, rates, stages, forecast settings, scoring rules, users, roles and "
            "reporting lines, deals and leads. Filters combine. To read on, pass the last entry's "
            "occurred_at and entry_id as before_time and before_entry_id while `more` is true."
        ),
        query={
            name: name
            for name in (
                "subject_type",
                "subject_id",
                "actor",
                "action",
                "request_id",
                "since",
                "before_time",
                "before_entry_id",
                "page_size",
            )
        },
        presenter=AuditPresenter(),
        fan_out=FanOut(chosen_upstreams, merge_audit_pages),
    ),
)
