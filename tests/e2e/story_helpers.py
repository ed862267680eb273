"""Small conversions and waits the end-to-end stories share."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import grpc

from salesplane.common.v1.common_pb2 import Date

T = TypeVar("T")


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
