"""Unary calls to the upstream services on behalf of the HTTP caller."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import grpc
from flask import g
from google.protobuf.message import Message

from salesplane_gateway.problems import problem_from_rpc_error
from salesplane_gateway.request_context import state
from salesplane_gateway.routing import Rpc
from salesplane_platform.identity import AUTHORIZATION_HEADER

REQUEST_ID_METADATA = "x-request-id"


def call(
    rpc: Rpc,
    message: Message,
    *,
    http_name: Callable[[str], str] | None = None,
    timeout_seconds: float | None = None,
) -> Message:
    """One call with the caller's token, the request id and a deadline (by default the configured
    one). A failure becomes a problem whose field violations use `http_name` to name fields as the
    HTTP caller sent them."""
    metadata = ((AUTHORIZATION_HEADER, f"Bearer {g.bearer_token}"), (REQUEST_ID_METADATA, g.request_id))
    method = state().clients.unary(rpc.upstream, rpc.method)
    timeout = timeout_seconds or state().config.rpc_timeout_seconds
    try:
        return method(message, timeout=timeout, metadata=metadata)
    except grpc.RpcError as error:
        problem = problem_from_rpc_error(error, rpc.upstream)
        if http_name is not None:
            problem.errors = [replace(e, field=http_name(e.field)) for e in problem.errors]
        raise problem from None
