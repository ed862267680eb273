"""Small conversions and waits the end-to-end stories share."""

from __future__ import annotations

import time
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
