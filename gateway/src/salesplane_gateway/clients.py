"""gRPC clients of the upstream services: one channel per target address, created on first use, and
one generic callable per RPC, unary or server-streaming (the route table names RPCs by descriptor,
so no stubs are needed). Calls are traced: a client span each, its context in the metadata."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TypeVar, cast

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2_grpc

from salesplane.forecasting.v1 import forecasting_pb2, org_pb2
from salesplane.leads.v1 import leads_pb2
from salesplane.opportunities.v1 import opportunities_pb2
from salesplane.reporting.v1 import reporting_pb2
from salesplane_platform.grpc_tracing import traced_channel

# The gRPC service each upstream must serve; /readyz asks the health service about exactly these,
# so a target that points at the wrong service is not reported ready.
HEALTH_SERVICE_NAMES: dict[str, str] = {
    "leads": leads_pb2.DESCRIPTOR.services_by_name["LeadService"].full_name,
    "opportunities": opportunities_pb2.DESCRIPTOR.services_by_name["OpportunityService"].full_name,
    "forecasting": forecasting_pb2.DESCRIPTOR.services_by_name["ForecastingService"].full_name,
    "org": org_pb2.DESCRIPTOR.services_by_name["OrgService"].full_name,
    "reporting": reporting_pb2.DESCRIPTOR.services_by_name["ReportingService"].full_name,
}

ChannelFactory = Callable[[str], grpc.Channel]
_Made = TypeVar("_Made")

_CHANNEL_OPTIONS = [
    # gRPC's default reconnect backoff grows to 120 s; an upstream that comes back (a restart, a
    # gateway started before the services) should be reachable again within seconds.
    ("grpc.initial_reconnect_backoff_ms", 500),
    ("grpc.max_reconnect_backoff_ms", 5_000),
    # Report results and list pages can be larger than the 4 MiB default.
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
]


def insecure_channel(target: str) -> grpc.Channel:
    return traced_channel(grpc.insecure_channel(target, options=_CHANNEL_OPTIONS))


class ServiceClients:
    """Callables of every upstream's RPCs. Thread-safe; channels open lazily (upstreams at the same
    address share one, e.g. org and forecasting), `close()` closes them all."""

    def __init__(
        self, targets: Mapping[str, str], channel_factory: ChannelFactory = insecure_channel
    ) -> None:
        if missing := set(HEALTH_SERVICE_NAMES) - set(targets):
            raise ValueError(f"no target for upstreams {sorted(missing)}")
        self._targets = dict(targets)
        self._channel_factory = channel_factory
        self._channels: dict[str, grpc.Channel] = {}
        self._callables: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()
        self._closed = False

    def _channel_locked(self, upstream: str) -> grpc.Channel:
        if self._closed:
            raise RuntimeError("the service clients are closed")
        target = self._targets[upstream]
        channel = self._channels.get(target)
        if channel is None:
            channel = self._channel_factory(target)
            self._channels[target] = channel
        return channel

    def _cached(self, upstream: str, key: str, make: Callable[[grpc.Channel], _Made]) -> _Made:
        with self._lock:
            channel = self._channel_locked(upstream)
            made = self._callables.get((upstream, key))
            if made is None:
                made = make(channel)
                self._callables[(upstream, key)] = made
            # Each key has a single maker (an RPC's full name `unary`'s, "<full name> stream"
            # `server_streaming`'s, "health" the health stub), so what is cached under a key is what
            # this `make` returns.
            return cast(_Made, made)

    def unary(
        self, upstream: str, method: MethodDescriptor
    ) -> grpc.UnaryUnaryMultiCallable[Message, Message]:
        """The callable of one unary RPC on `upstream` (made on first use)."""

        def make(channel: grpc.Channel) -> grpc.UnaryUnaryMultiCallable[Message, Message]:
            return channel.unary_unary(
                f"/{method.containing_service.full_name}/{method.name}",
                request_serializer=message_factory.GetMessageClass(method.input_type).SerializeToString,
                response_deserializer=message_factory.GetMessageClass(method.output_type).FromString,
            )

        return self._cached(upstream, method.full_name, make)

    def server_streaming(
        self, upstream: str, method: MethodDescriptor
    ) -> grpc.UnaryStreamMultiCallable[Message, Message]:
        """The callable of one server-streaming RPC on `upstream` (made on first use)."""

        def make(channel: grpc.Channel) -> grpc.UnaryStreamMultiCallable[Message, Message]:
            return channel.unary_stream(
                f"/{method.containing_service.full_name}/{method.name}",
                request_serializer=message_factory.GetMessageClass(method.input_type).SerializeToString,
                response_deserializer=message_factory.GetMessageClass(method.output_type).FromString,
            )

        return self._cached(upstream, f"{method.full_name} stream", make)

    def health(self, upstream: str) -> health_pb2_grpc.HealthStub:
        return self._cached(upstream, "health", health_pb2_grpc.HealthStub)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            channels = list(self._channels.values())
            self._channels.clear()
            self._callables.clear()
        for channel in channels:
            channel.close()
