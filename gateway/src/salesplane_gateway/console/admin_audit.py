"""Admin / audit log: who changed what, when, from what, to what, in every service, with filters
and paging. Like GET /v1/audit-entries, the page asks every audited service at once with the same
request and merges their pages newest first: the gateway's own fan-out list and merge
(routes_audit), so the console and the API cannot disagree about what the next page is.

Paging is the audit API's keyset cursor: "Older" passes the last shown entry's time and id, and
each service answers strictly older entries."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, time
from typing import Any, Literal

from flask import Blueprint, request
from google.protobuf.json_format import MessageToDict
from google.protobuf.struct_pb2 import Value
from google.protobuf.timestamp_pb2 import Timestamp
from werkzeug.wrappers import Response

from salesplane.audit.v1 import audit_pb2
from salesplane_gateway import upstream
from salesplane_gateway.console.admin_forms import FormCheck
from salesplane_gateway.console.localisation import current_locale, gettext
from salesplane_gateway.console.pages import page, require_user
from salesplane_gateway.routes_audit import AUDIT, AUDITED_UPSTREAMS, merge_audit_pages

PAGE_SIZES = (25, 50, 100, 200)
TEXT_FILTERS = ("subject_type", "subject_id", "actor", "action", "request_id")
_REQUEST = audit_pb2.ListAuditEntriesRequest.DESCRIPTOR
# A changed value is shown up to this long; the whole record is one click away.
MAX_VALUE_CHARS = 160


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/admin/audit", "admin_audit", require_user(_audit), methods=["GET"])


def _audit() -> Response:
    args = request.args
    filters = {name: args.get(name, "").strip() for name in (*TEXT_FILTERS, "since", "service", "page_size")}
    checked = FormCheck()
    message = audit_pb2.ListAuditEntriesRequest()
    for name in TEXT_FILTERS:
        setattr(message, name, checked.text(name, filters[name], _REQUEST, name))
    since = checked.day("since", filters["since"])
    if since is not None:
        # The start of that day where the reader is: "since 1 Oct" means their 1 October.
        start = datetime.combine(date(since.year, since.month, since.day), time(), current_locale().zone)
        message.since.FromDatetime(start)
    if filters["service"] and filters["service"] not in AUDITED_UPSTREAMS:
        checked.fail("service", gettext("Choose a service from the list."))
    # The select offers a few sizes; a link may carry any the API takes (1..500).
    message.page_size = checked.whole("page_size", filters["page_size"] or "50", _REQUEST, "page_size") or 50
    _cursor(message, checked)
    if not checked.ok():
        return _page(filters, checked.errors, [], more=False, status=422)
    upstreams = (filters["service"],) if filters["service"] else AUDITED_UPSTREAMS
    rpcs = [replace(AUDIT.rpc("ListAuditEntries"), upstream=name) for name in upstreams]
    # One service refusing (a non-admin: PERMISSION_DENIED) fails the page: a partial log would
    # look complete.
    answers = upstream.call_each(rpcs, message)
    merged = merge_audit_pages(message, answers)
    assert isinstance(merged, audit_pb2.ListAuditEntriesResponse)
    return _page(filters, {}, list(merged.entries), more=merged.more)


def _cursor(message: audit_pb2.ListAuditEntriesRequest, checked: FormCheck) -> None:
    before_time, before_id = request.args.get("before_time", ""), request.args.get("before_entry_id", "")
    if not before_time and not before_id:
        return
    try:
        stamp = Timestamp()
        stamp.FromJsonString(before_time)
    except ValueError:
        checked.fail("", gettext("That page link is broken: start again from the newest entries."))
        return
    message.before_time.CopyFrom(stamp)
    message.before_entry_id = before_id


def _page(
    filters: dict[str, str],
    errors: dict[str, str],
    entries: list[audit_pb2.AuditEntry],
    *,
    more: bool,
    status: int = 200,
) -> Response:
    newest = {name: value for name, value in filters.items() if value}
    older: dict[str, str] = {}
    if more and entries:
        last = entries[-1]
        older = {
            **newest,
            "before_time": last.occurred_at.ToJsonString(),
            "before_entry_id": last.entry_id,
        }
    return page(
        "console/admin_audit.html",
        status=status,
        title=gettext("Audit log"),
        filters=filters,
        errors=errors,
        entries=[_shown(entry) for entry in entries],
        older=older,
        newest=newest,
        paged=bool(request.args.get("before_time")),
        services=[("", gettext("All services"))] + [(name, name) for name in AUDITED_UPSTREAMS],
        page_sizes=[
            (str(size), str(size))
            for size in sorted(
                {*PAGE_SIZES, *([int(filters["page_size"])] if filters["page_size"].isdigit() else [])}
            )
        ],
    )


def _shown(entry: audit_pb2.AuditEntry) -> dict[str, Any]:
    return {
        "entry": entry,
        "changes": [(change.path, _value(change, "from"), _value(change, "to")) for change in entry.changes],
        "state": json.dumps(MessageToDict(entry.state), indent=2, sort_keys=True, ensure_ascii=False),
    }


def _value(change: audit_pb2.FieldChange, side: Literal["from", "to"]) -> str | None:
    """One side of a change as short JSON text; None when the field was absent on that side."""
    if not change.HasField(side):
        return None
    value: Value = getattr(change, side)
    text = json.dumps(MessageToDict(value), ensure_ascii=False, sort_keys=True)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"
