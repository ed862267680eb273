"""gRPC server metrics in the shape of grpc-ecosystem's go-grpc-prometheus (and py-grpc-prometheus),
which the stock Grafana dashboards and alerts for gRPC expect: started, handled (by code), messages
received and sent, and the handling time, each labelled grpc_type / grpc_service / grpc_method.

Every method a service serves has its series from the start, at zero (`initialise`): a rate() over
a counter that appears only with its first failure misses that failure, and an absent series
cannot be told from a method that is never called."""

from __future__ import annotations

import functools
from collections.abc import Iterable

import grpc
from google.protobuf import descriptor_pool
from prometheus_client import Counter, Histogram

_LABELS = ["grpc_type", "grpc_service", "grpc_method"]

STARTED = Counter("grpc_server_started", "RPCs started on the server.", _LABELS)
HANDLED = Counter(
    "grpc_server_handled", "RPCs completed on the server, whatever their outcome.", [*_LABELS, "grpc_code"]
)
MSG_RECEIVED = Counter("grpc_server_msg_received", "Messages received from clients.", _LABELS)
MSG_SENT = Counter("grpc_server_msg_sent", "Messages sent to clients.", _LABELS)
HANDLING = Histogram(
    "grpc_server_handling_seconds",
    "Time from an RPC's start until the server finished it.",
    _LABELS,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

UNARY = "unary"
SERVER_STREAM = "server_stream"
CLIENT_STREAM = "client_stream"
BIDI_STREAM = "bidi_stream"


def rpc_type(*, client_streaming: bool, server_streaming: bool) -> str:
    if client_streaming:
        return BIDI_STREAM if server_streaming else CLIENT_STREAM
    return SERVER_STREAM if server_streaming else UNARY


class RpcMeter:
    """The series of one method."""

    def __init__(self, kind: str, service: str, method: str) -> None:
        labels = (kind, service, method)
        self._labels = labels
        self._started = STARTED.labels(*labels)
        self._received = MSG_RECEIVED.labels(*labels)
        self._sent = MSG_SENT.labels(*labels)
        self._handling = HANDLING.labels(*labels)

    def started(self) -> None:
        self._started.inc()

    def received(self) -> None:
        self._received.inc()

    def sent(self) -> None:
        self._sent.inc()

    def handled(self, code: grpc.StatusCode, seconds: float) -> None:
        HANDLED.labels(*self._labels, code.name).inc()
        self._handling.observe(seconds)


@functools.cache
def meter_for(kind: str, service: str, method: str) -> RpcMeter:
    """One meter per method, made once: intercept_service runs for every call, and label lookups
    would otherwise be repeated on each."""
    return RpcMeter(kind, service, method)


def initialise(service_names: Iterable[str]) -> None:
    """Zero series for every method of these services (by their descriptors), every code included."""
    pool = descriptor_pool.Default()
    for name in service_names:
        try:
            service = pool.FindServiceByName(name)
        except KeyError:
            continue  # not described by a generated module (e.g. a generic handler of its own)
        for method in service.methods:
            kind = rpc_type(
                client_streaming=method.client_streaming, server_streaming=method.server_streaming
            )
            labels = (kind, service.full_name, method.name)
            for counter in (STARTED, MSG_RECEIVED, MSG_SENT):
                counter.labels(*labels)
            HANDLING.labels(*labels)
            for code in grpc.StatusCode:
                HANDLED.labels(*labels, code.name)
