"""Small conversions and waits the end-to-end stories share."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import grpc
from sqlalchemy import create_engine, text

from salesplane.common.v1.common_pb2 import Date
from salesplane_testing.go_tools import go_tool

T = TypeVar("T")

# Forecast settings the stories share: include from 70 %, upside from 40 %, a January fiscal year.
THREE_BUCKETS: dict[str, object] = {
    "fiscal_year_start_month": 1,
    "range_scheme": "three_buckets",
    "ranges": [
        {"name": "Include", "min_probability": 70, "max_probability": 100, "commit_stage": "include"},
        {"name": "Upside", "min_probability": 40, "max_probability": 69, "commit_stage": "upside"},
        {"name": "Exclude", "min_probability": 0, "max_probability": 39, "commit_stage": "exclude"},
    ],
    "show_likely": True,
    "show_best": True,
    "show_worst": True,
}


def proto_date(day: date) -> Date:
    return Date(year=day.year, month=day.month, day=day.day)


def instant(timestamp: Any) -> datetime:
    return timestamp.ToDatetime(tzinfo=UTC)


def eventually(check: Callable[[], T], timeout: float = 30.0) -> T:
    """`check`'s result once it stops failing (an assertion, or an RPC refused while the services
    catch up); its last failure after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except (AssertionError, grpc.RpcError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.25)


class HttpGateway:
    """The gateway as a web client reaches it: JSON in and out, a bearer token per call."""

    def __init__(self, base: str, token: Callable[[str], str]) -> None:
        self.base = base
        self._token = token

    def call(self, method: str, path: str, user: str, body: dict | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"{self.base}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self._token(user)}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def ok(self, method: str, path: str, user: str, body: dict | None = None) -> dict:
        status, answer = self.call(method, path, user, body)
        assert status in (200, 201), (method, path, status, answer)
        return answer


def await_organisation(database_url: str, user_ids: Iterable[str], timeout: float = 60.0) -> None:
    """Wait until a service's replica of the organisation (org_reporting_lines) has these users,
    active: only they may own deals and leads there, and they arrive by event."""
    wanted = set(user_ids)
    engine = create_engine(database_url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            with engine.connect() as connection:
                rows = connection.execute(text("SELECT user_id FROM org_reporting_lines WHERE active"))
                missing = wanted - {row[0] for row in rows}
            if not missing:
                return
            assert time.monotonic() < deadline, f"not replicated within {timeout:.0f} s: {sorted(missing)}"
            time.sleep(0.1)
    finally:
        engine.dispose()


def promtool_problems(exposition: str) -> list[str]:
    """What `promtool check metrics` says of a /metrics page (naming, units, help, types)."""
    found = go_tool("promtool")
    assert found, "promtool not found: run tools/install-promtool.sh (make test does)"
    checked = subprocess.run(
        [found, "check", "metrics"], input=exposition, capture_output=True, text=True, timeout=30
    )
    return [line for line in (checked.stdout + checked.stderr).splitlines() if line.strip()]
