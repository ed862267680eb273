"""GET /v1/audit-entries: every service's audit log asked at once and merged into one page, newest
first, with the keyset cursor passed to each."""

from __future__ import annotations

import itertools
from typing import Any

from flask.testing import FlaskClient
from google.protobuf.timestamp_pb2 import Timestamp

from salesplane.audit.v1 import audit_pb2
from salesplane_gateway.routes_audit import merge_audit_pages


def entry(entry_id: str, seconds: int, service: str) -> audit_pb2.AuditEntry:
    return audit_pb2.AuditEntry(
        entry_id=entry_id, occurred_at=Timestamp(seconds=seconds), service=service, actor="root"
    )


def test_pages_of_every_service_merge_into_the_newest_entries_with_more_when_some_were_left() -> None:
    request = audit_pb2.ListAuditEntriesRequest(page_size=3)
    pages = [
        audit_pb2.ListAuditEntriesResponse(entries=[entry("a", 50, "leads"), entry("b", 10, "leads")]),
        audit_pb2.ListAuditEntriesResponse(entries=[entry("c", 40, "opportunities")]),
        audit_pb2.ListAuditEntriesResponse(entries=[entry("e", 40, "forecasting"), entry("d", 5, "x")]),
        audit_pb2.ListAuditEntriesResponse(),
    ]

    merged = merge_audit_pages(request, pages)

    assert [e.entry_id for e in merged.entries] == ["a", "e", "c"]  # same time: by id, descending
    assert merged.more
    assert not merge_audit_pages(audit_pb2.ListAuditEntriesRequest(page_size=10), pages).more


def test_the_route_asks_every_service_with_the_filters_and_cursor_and_merges(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    # Every upstream target is the one fake here: each call answers the next service's page.
    seconds = itertools.count(100, -10)
    fake.on(
        "ListAuditEntries",
        lambda request, context: audit_pb2.ListAuditEntriesResponse(
            entries=[entry(f"e{next(seconds)}", 0, "s")], more=False
        ),
    )

    response = client.get(
        "/v1/audit-entries?actor=vp&subject_type=quota&page_size=2"
        "&before_time=2026-12-01T10:00:00Z&before_entry_id=e9",
        headers=bearer("root", "admin"),
    )

    assert response.status_code == 200, response.get_json()
    requests = fake.requests("ListAuditEntries")
    assert len(requests) == 4
    assert {(r.actor, r.subject_type, r.page_size, r.before_entry_id) for r in requests} == {
        ("vp", "quota", 2, "e9")
    }
    assert requests[0].before_time.ToJsonString() == "2026-12-01T10:00:00Z"
    body = response.get_json()
    assert len(body["entries"]) == 2 and body["more"] is True


def test_one_services_log_is_read_alone(client: FlaskClient, bearer: Any, fake: Any) -> None:
    response = client.get("/v1/audit-entries?service=leads", headers=bearer("root", "admin"))

    assert response.status_code == 200
    assert len(fake.requests("ListAuditEntries")) == 1
    assert client.get("/v1/audit-entries?service=mail", headers=bearer("root", "admin")).status_code == 400


def test_a_refusal_by_any_service_is_the_answer_not_a_partial_log(
    client: FlaskClient, bearer: Any, fake: Any
) -> None:
    fake.fail("ListAuditEntries", 7, "only administrators read the audit log")

    response = client.get("/v1/audit-entries", headers=bearer("ann", "rep"))

    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"


def test_a_bad_query_names_every_bad_parameter(client: FlaskClient, bearer: Any, fake: Any) -> None:
    response = client.get(
        "/v1/audit-entries?page_size=many&since=yesterday&colour=red", headers=bearer("root", "admin")
    )

    assert response.status_code == 400
    fields = {error["field"] for error in response.get_json()["errors"]}
    # Named by the gateway: no upstream knows of a `colour` parameter.
    assert {"page_size", "since", "colour"} <= fields
