"""The walking skeleton's promise: a deal created through the HTTP gateway shows in its owner's
rollup within a second, over real Kafka and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from salesplane_platform.identity import issue_token
from salesplane_testing.processes import free_port
from tests.e2e.conftest import SECRET
from tests.e2e.story_helpers import promtool_problems

pytestmark = pytest.mark.e2e


def call(method: str, url: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_deal_created_through_the_gateway_reaches_the_owners_rollup_within_a_second(
    services, tmp_path: Path
):
    opportunities = services("opportunities")
    forecasting = services("forecasting")
    port = free_port()
    env = {
        **os.environ,
        "SALESPLANE_AUTH_SECRET": SECRET,
        "SALESPLANE_GATEWAY_PORT": str(port),
        "SALESPLANE_GATEWAY_HOST": "127.0.0.1",
        # The stories drive one user faster than a person would; the limit is tested in gateway/tests.
        "SALESPLANE_GATEWAY_RATE_LIMIT_PER_SECOND": "0",
        "SALESPLANE_GATEWAY_METRICS_PORT": str(metrics_port := free_port()),
        "SALESPLANE_OPPORTUNITIES_TARGET": opportunities.target,
        "SALESPLANE_FORECASTING_TARGET": forecasting.target,
    }
    log = (tmp_path / "gateway.log").open("wb")
    gateway = subprocess.Popen(
        [str(Path(sys.executable).parent / "salesplane-gateway")], env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        token = issue_token(SECRET, "alice", ["rep"])
        admin = issue_token(SECRET, "root", ["admin"])
        user = {"display_name": "Alice", "roles": ["rep"], "active": True}
        assert call("PUT", f"{base}/v1/users/alice", admin, user)[0] in (200, 201)
        deal = {
            "name": "Acme renewal",
            "owner_user_id": "alice",
            "amount": {"currency_code": "USD", "amount_minor": 1_250_000},
            "expected_close_date": "2026-12-15",
            "sales_stage": "Negotiation/Review",
        }
        # Only a user of the organisation owns deals; she reaches the opportunities service's
        # replica by event, so a create right after her creation may be asked to retry.
        deadline = time.monotonic() + 10
        while (answer := call("POST", f"{base}/v1/opportunities", token, deal))[0] == 422:
            assert "not a user of the organisation" in answer[1]["detail"] and time.monotonic() < deadline
            time.sleep(0.1)
        status, created = answer
        assert status == 201, created
        started = time.monotonic()
        rollup: dict = {}
        while time.monotonic() - started < 1.0:
            status, rollup = call("GET", f"{base}/v1/rollups/alice?period=2026-Q4", token)
            assert status == 200, rollup
            if rollup.get("lines"):
                break
            time.sleep(0.02)
        line = rollup["lines"][0]
        assert (line["currency_code"], line["opportunity_count"], line["amount"]["amount_minor"]) == (
            "USD",
            1,
            1_250_000,
        )
        assert line["weighted_amount"]["amount_minor"] == 1_000_000

        status, problem = call(
            "POST", f"{base}/v1/opportunities", token, {"name": "", "amount": {"amount_minor": -1}}
        )
        assert status == 400 and problem["errors"]
        status, problem = call("GET", f"{base}/v1/opportunities/not-a-uuid", token)
        assert status == 400
        status, problem = call("GET", f"{base}/v1/opportunities/{'0' * 8}-0000-4000-8000-{'0' * 12}", token)
        assert status == 404

        # The edge's RED metrics, by route template (never by id), on the gateway's metrics port.
        scraped = (
            urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
        )
        assert promtool_problems(scraped) == []
        requests = {
            (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
            for family in text_string_to_metric_families(scraped)
            if family.name == "http_server_requests"
            for s in family.samples
            if s.name == "http_server_requests_total"
        }
        assert requests[("POST", "/v1/opportunities", "201")] == 1
        assert requests[("GET", "/v1/opportunities/{opportunity_id}", "404")] == 1
        assert requests[("GET", "/v1/opportunities/{opportunity_id}", "400")] == 1
        assert not [route for _, route, _ in requests if "0000" in route]
    finally:
        gateway.terminate()
        gateway.wait(timeout=15)
