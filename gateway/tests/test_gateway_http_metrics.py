"""The gateway's RED metrics: every answer counted under its route template and status, refusals
by the edge included, and the time each took."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from prometheus_client import REGISTRY

OPPORTUNITY = "/v1/opportunities/{opportunity_id}"


def count(method: str, route: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "http_server_requests_total", {"method": method, "route": route, "status": status}
    )
    return value or 0.0


def observed(method: str, route: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "http_server_request_duration_seconds_count", {"method": method, "route": route}
        )
        or 0.0
    )


def test_answers_are_counted_by_route_template_and_status(
    client: FlaskClient, bearer: Any, opportunity_id: str
) -> None:
    before_ok, before_401 = count("GET", OPPORTUNITY, "200"), count("GET", OPPORTUNITY, "401")
    before_seen = observed("GET", OPPORTUNITY)

    assert client.get(f"/v1/opportunities/{opportunity_id}", headers=bearer()).status_code == 200
    assert client.get(f"/v1/opportunities/{opportunity_id}").status_code == 401  # refused at the edge

    assert count("GET", OPPORTUNITY, "200") == before_ok + 1
    assert count("GET", OPPORTUNITY, "401") == before_401 + 1
    assert observed("GET", OPPORTUNITY) == before_seen + 2
    # Never by the id a caller sent: that would make a series per deal.
    ids = [
        s
        for family in REGISTRY.collect()
        if family.name == "http_server_requests"
        for s in family.samples
        if opportunity_id in s.labels.get("route", "")
    ]
    assert ids == []


def test_a_path_no_route_matches_is_one_series(client: FlaskClient) -> None:
    before = count("GET", "unmatched", "404")

    client.get("/no/such/thing/1")
    client.get("/no/such/thing/2")

    assert count("GET", "unmatched", "404") == before + 2
    assert REGISTRY.get_sample_value("http_server_requests_in_flight") == 0
