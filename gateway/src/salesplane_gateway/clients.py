"""gRPC clients of the upstream services: one channel per upstream, created on first use."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TypeVar

import grpc
from grpc_health.v1 import health_pb2_grpc

from salesplane.forecasting.v1 import forecasting_pb2, forecasting_pb2_grpc
from salesplane.leads.v1 import leads_pb2, leads_pb2_grpc
from salesplane.opportunities.v1 import opportunities_pb2, opportunities_pb2_grpc
from salesplane.reporting.v1 import reporting_pb2, reporting_pb2_grpc

# The gRPC service each upstream must serve; /readyz asks the health service about exactly these,
# so a target that points at the wrong service is not reported ready.
HEALTH_SERVICE_NAMES: dict[str, str] = {
    "leads": leads_pb2.DESCRIPTOR.services_by_name["LeadService"].full_name,
    "opportunities": opportunities_pb2.DESCRIPTOR.services_by_name["OpportunityService"].full_name,
    "forecasting": forecasting_pb2.DESCRIPTOR.services_by_name["ForecastingService"].full_name,
    "reporting": reporting_pb2.DESCRIPTOR.services_by_name["ReportingService"].full_name,
}

ChannelFactory = Callable[[str], grpc.Channel]
_Stub = TypeVar("_Stub")

_CHANNEL_OPTIONS = [
    # gRPC's default reconnect backoff grows to 120 s; an upstream that comes back (a restart, a
    # gateway started before the services) should be reachable again within seconds.
    ("grpc.initial_reconnect_backoff_ms", 500),
    ("grpc.max_reconnect_backoff_ms", 5_000),
    # Report results can be larger than the 4 MiB default.
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
]


def insecure_channel(target: str) -> grpc.Channel:
    return grpc.insecure_channel(target, options=_CHANNEL_OPTIONS)


class ServiceClients:
    """Stubs of every upstream. Thread-safe; channels open lazily, `close()` closes them all."""

    def __init__(
        self, targets: Mapping[str, str], channel_factory: ChannelFactory = insecure_channel
    ) -> None:
        if missing := set(HEALTH_SERVICE_NAMES) - set(targets):
            raise ValueError(f"no target for upstreams {sorted(missing)}")
        self._targets = dict(targets)
        self._channel_factory = channel_factory
        self._channels: dict[str, grpc.Channel] = {}
        self._stubs: dict[str, object] = {}
        self._lock = threading.Lock()
        self._closed = False

    @property
    def targets(self) -> dict[str, str]:
        return dict(self._targets)

    def channel(self, upstream: str) -> grpc.Channel:
        with self._lock:
            return self._channel_locked(upstream)

    def _channel_locked(self, upstream: str) -> grpc.Channel:
        if self._closed:
            raise RuntimeError("the service clients are closed")
        channel = self._channels.get(upstream)
        if channel is None:
            channel = self._channel_factory(self._targets[upstream])
            self._channels[upstream] = channel
        return channel

    def _stub(self, key: str, upstream: str, make: Callable[[grpc.Channel], _Stub]) -> _Stub:
        with self._lock:
            stub = self._stubs.get(key)
            if stub is None:
                stub = make(self._channel_locked(upstream))
                self._stubs[key] = stub
            return stub  # type: ignore[return-value]

    @property
    def opportunities(self) -> opportunities_pb2_grpc.OpportunityServiceStub:
        return self._stub("opportunities", "opportunities", opportunities_pb2_grpc.OpportunityServiceStub)

    @property
    def leads(self) -> leads_pb2_grpc.LeadServiceStub:
        return self._stub("leads", "leads", leads_pb2_grpc.LeadServiceStub)

    @property
    def forecasting(self) -> forecasting_pb2_grpc.ForecastingServiceStub:
        return self._stub("forecasting", "forecasting", forecasting_pb2_grpc.ForecastingServiceStub)

    @property
    def reporting(self) -> reporting_pb2_grpc.ReportingServiceStub:
        return self._stub("reporting", "reporting", reporting_pb2_grpc.ReportingServiceStub)

    def health(self, upstream: str) -> health_pb2_grpc.HealthStub:
        return self._stub(f"health:{upstream}", upstream, health_pb2_grpc.HealthStub)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            channels = list(self._channels.values())
            self._channels.clear()
            self._stubs.clear()
        for channel in channels:
            channel.close()

    def __enter__(self) -> ServiceClients:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
