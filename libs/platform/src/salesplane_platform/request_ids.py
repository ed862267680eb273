"""The id of the request being served, carried from the gateway (X-Request-Id) to every service it
calls (x-request-id metadata), so that a log line and an audit entry name the request that caused
them."""

from __future__ import annotations

import contextvars
import re

REQUEST_ID_METADATA = "x-request-id"
# Kept only when short and plain: it ends up in logs and in the audit log.
_PLAIN = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
_REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("salesplane_request_id", default="")


def current_request_id() -> str:
    """The request id bound on this thread; empty outside a request (a job, a consumer)."""
    return _REQUEST_ID.get()


def bind_request_id(value: str | bytes | None) -> contextvars.Token[str]:
    text = value.decode(errors="replace") if isinstance(value, bytes) else value or ""
    return _REQUEST_ID.set(text if _PLAIN.match(text) else "")


def unbind_request_id(token: contextvars.Token[str]) -> None:
    _REQUEST_ID.reset(token)
