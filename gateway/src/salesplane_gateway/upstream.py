"""Calls to the upstream services on behalf of the HTTP caller: unary ones, and server-streaming ones
whose messages are passed on as they arrive."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Protocol

import grpc
from flask import g
from google.protobuf.message import Message

from salesplane_gateway.problems import Problem, problem_from_rpc_error
from salesplane_gateway.request_context import state
from salesplane_gateway.routing import Rpc
from salesplane_platform.grpc_tracing import trace_metadata
from salesplane_platform.identity import AUTHORIZATION_HEADER
from salesplane_platform.request_ids import REQUEST_ID_METADATA

log = logging.getLogger(__name__)

HttpName = Callable[[str], str]


def call(
    rpc: Rpc,
    message: Message,
    *,
    http_name: HttpName | None = None,
    timeout_seconds: float | None = None,
) -> Message:
    """One call with the caller's token, the request id and a deadline (by default the configured
    one). A failure becomes a problem whose field violations use `http_name` to name fields as the
    HTTP caller sent them."""
    method = state().clients.unary(rpc.upstream, rpc.method)
    try:
        return method(message, timeout=_timeout(timeout_seconds), metadata=_metadata())
    except grpc.RpcError as error:
        raise _problem(error, rpc, http_name) from None


class PendingCall:
    """A unary call under way (`start`): its answer, or its failure as the problem `call` raises."""

    def __init__(self, rpc: Rpc, future: grpc.Future[Message], http_name: HttpName | None) -> None:
        self._rpc = rpc
        self._future = future
        self._http_name = http_name

    def result(self) -> Message:
        try:
            return self._future.result()
        except grpc.RpcError as error:
            raise _problem(error, self._rpc, self._http_name) from None

    def cancel(self) -> None:
        self._future.cancel()


def start(rpc: Rpc, message: Message, *, http_name: HttpName | None = None) -> PendingCall:
    """A call as `call` makes it, without waiting: a page that needs several answers starts them all
    and then waits for each, so it costs the slowest call rather than their sum."""
    method = state().clients.unary(rpc.upstream, rpc.method)
    return PendingCall(rpc, method.future(message, timeout=_timeout(None), metadata=_metadata()), http_name)


def call_each(rpcs: Sequence[Rpc], message: Message, *, http_name: HttpName | None = None) -> list[Message]:
    """The same call made on several upstreams at once, as `call` makes one; the first failure
    (in the order given) becomes the problem: a partial answer would look complete."""
    pending = [
        (
            rpc,
            state()
            .clients.unary(rpc.upstream, rpc.method)
            .future(message, timeout=_timeout(None), metadata=_metadata()),
        )
        for rpc in rpcs
    ]
    answers: list[Message] = []
    for rpc, future in pending:
        try:
            answers.append(future.result())
        except grpc.RpcError as error:
            for _, other in pending:
                other.cancel()
            raise _problem(error, rpc, http_name) from None
    return answers


def call_streaming(
    rpc: Rpc,
    message: Message,
    *,
    http_name: HttpName | None = None,
    timeout_seconds: float | None = None,
) -> ResponseStream:
    """A server-streaming call, made as `call` makes a unary one; the deadline covers the whole
    stream. The first message is awaited here, so that a failure before it (a bad argument, an
    unknown report, the deadline) is a problem like any unary call's."""
    method = state().clients.server_streaming(rpc.upstream, rpc.method)
    try:
        responses = method(message, timeout=_timeout(timeout_seconds), metadata=_metadata())
        first = next(responses, None)
    except grpc.RpcError as error:
        raise _problem(error, rpc, http_name) from None
    return ResponseStream(rpc, responses, first, request_id=g.request_id)


class StreamBroken(Exception):
    """An upstream stream failed after its first message: the HTTP answer has started with a success
    status, so all that is left is to cut it short (the caller sees an incomplete body)."""


class _Responses(Protocol):
    """What grpc's streaming call object offers (the stubs do not name its type)."""

    def __next__(self) -> Message: ...

    def cancel(self) -> bool: ...


class ResponseStream(Iterator[Message]):
    """The messages of a started server-streaming call, the first already received. Iterating needs
    no request context (a streamed HTTP body is sent after the view returned). `close()` cancels the
    call; the WSGI server closes the body when it is sent or the client went away."""

    def __init__(self, rpc: Rpc, responses: _Responses, first: Message | None, *, request_id: str) -> None:
        self._rpc = rpc
        self._responses = responses
        self._first = first
        self._started = first is not None
        self._request_id = request_id

    def __next__(self) -> Message:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        if not self._started:
            raise StopIteration
        try:
            return next(self._responses)
        except grpc.RpcError as error:
            code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
            log.warning(
                "upstream stream failed after the answer started",
                extra={
                    "upstream": self._rpc.upstream,
                    "rpc": self._rpc.full_name,
                    "grpc_code": code.name,
                    "grpc_message": error.details() if isinstance(error, grpc.Call) else None,
                    "request_id": self._request_id,
                },
            )
            raise StreamBroken(f"{self._rpc.full_name} failed mid-stream: {code.name}") from None

    def close(self) -> None:
        self._responses.cancel()


def _metadata() -> tuple[tuple[str, str], ...]:
    # The HTTP request's trace context: a unary call's client span replaces it with its own, a
    # streaming call (which has none, grpc_tracing.py) passes it on as it is.
    return (
        (AUTHORIZATION_HEADER, f"Bearer {g.bearer_token}"),
        (REQUEST_ID_METADATA, g.request_id),
        *trace_metadata(),
    )


def _timeout(timeout_seconds: float | None) -> float:
    return timeout_seconds or state().config.rpc_timeout_seconds


def _problem(error: grpc.RpcError, rpc: Rpc, http_name: HttpName | None) -> Problem:
    problem = problem_from_rpc_error(error, rpc.upstream)
    if http_name is not None:
        problem.errors = [replace(e, field=http_name(e.field)) for e in problem.errors]
    return problem
