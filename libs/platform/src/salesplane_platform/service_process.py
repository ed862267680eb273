"""The composition root every service shares: migrations, gRPC server, outbox relay, event
consumer, health, metrics, graceful shutdown. A service supplies a ServiceDefinition."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import start_http_server
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from salesplane_platform.consumer_runner import ConsumerRunner, EventHandler
from salesplane_platform.db import make_engine, make_session_factory, ping
from salesplane_platform.grpc_interceptor import ServiceInterceptor
from salesplane_platform.health import ReadinessMonitor
from salesplane_platform.identity import TokenVerifier
from salesplane_platform.json_logging import configure_logging
from salesplane_platform.migrations import upgrade_to_head
from salesplane_platform.outbox_relay import OutboxRelay
from salesplane_platform.platform_tables import PlatformTables
from salesplane_platform.settings import ServiceSettings
from salesplane_platform.transport_factory import (
    consumer_count,
    make_publisher,
    make_subscriber,
    make_transport_probe,
    prepare_topics,
)
from salesplane_platform.unit_of_work import OutboxContext, SqlUnitOfWork

log = logging.getLogger(__name__)


@dataclass
class ServiceContext:
    """What a service's API and handlers are built from."""

    settings: ServiceSettings
    engine: Engine
    session_factory: sessionmaker[Session]
    outbox: OutboxContext
    extras: dict[str, Any] = field(default_factory=dict)
    # Resources the API or handlers opened (e.g. channels to other services), closed on stop.
    closables: list[Callable[[], None]] = field(default_factory=list)

    def unit_of_work(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.session_factory, self.outbox)


@dataclass(frozen=True)
class PeriodicJob:
    """Work a service does on a clock (e.g. reorganisations whose date has come), in the processes
    that run the consumer role. It must be safe to run in several replicas at once."""

    name: str
    interval_seconds: float
    # Builds the job's step from the service's context; the step is called every interval.
    make: Callable[[ServiceContext], Callable[[], object]]


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    default_grpc_port: int
    default_metrics_port: int
    tables: PlatformTables
    migrations: Path
    # Topic this service publishes its events to (through the outbox); None: it publishes nothing.
    topic: str | None
    # Adds the servicers to the server; returns their full service names (for health, reflection).
    register_api: Callable[[grpc.Server, ServiceContext], Sequence[str]]
    consumes: Sequence[str] = ()
    make_handler: Callable[[ServiceContext], EventHandler] | None = None
    periodic_jobs: Sequence[PeriodicJob] = ()


class ServiceProcess:
    """One running service. `start()` returns when it serves; `stop()` drains and shuts down."""

    def __init__(self, definition: ServiceDefinition, settings: ServiceSettings) -> None:
        self.definition = definition
        self.settings = settings
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: grpc.Server | None = None
        self._health = health.HealthServicer(experimental_non_blocking=True)
        # grpc's servicer starts out SERVING for the whole server; nothing is ready until the
        # first readiness check has passed.
        self._health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        self._closables: list[Callable[[], None]] = []
        self.grpc_port = 0
        self.metrics_port = 0
        self.context: ServiceContext

    def start(self) -> None:
        definition, settings = self.definition, self.settings
        engine = make_engine(settings.database_url)
        self._closables.append(engine.dispose)
        upgrade_to_head(engine, definition.migrations, lock_name=definition.name)
        topic = settings.topic(definition.topic) if definition.topic else None
        outbox = OutboxContext(definition.tables, definition.name, topic, threading.Event())
        self.context = ServiceContext(settings, engine, make_session_factory(engine), outbox)
        checks: dict[str, Callable[[], None]] = {"database": lambda: ping(engine)}

        metrics_server, _ = start_http_server(settings.metrics_port, addr="0.0.0.0")
        self.metrics_port = metrics_server.server_port
        self._closables.append(metrics_server.shutdown)

        if "relay" in settings.roles and topic is not None:
            prepare_topics(settings, [topic])
            publisher = make_publisher(settings)
            self._closables.append(publisher.close)
            relay = OutboxRelay(
                engine, definition.tables, publisher, wakeup=outbox.wakeup, lock_name=definition.name
            )
            self._spawn("outbox-relay", relay.run)
        if "consumer" in settings.roles and definition.make_handler is not None:
            handler = definition.make_handler(self.context)
            topics = [settings.topic(t) for t in definition.consumes]
            for member in range(consumer_count(settings)):
                subscriber = make_subscriber(settings, topics, member=member)
                self._closables.append(subscriber.close)
                runner = ConsumerRunner(
                    self.context.session_factory,
                    definition.tables,
                    subscriber,
                    handler,
                    max_batch=settings.consumer_max_batch,
                )
                self._spawn(f"event-consumer-{member}", runner.run)

        if "consumer" in settings.roles:
            for job in definition.periodic_jobs:
                self._spawn(job.name, _every(job.interval_seconds, job.make(self.context), job.name))

        if {"relay", "consumer"} & settings.roles:
            probe, release_probe = make_transport_probe(settings)
            checks["event transport"] = probe
            self._closables.append(release_probe)

        services: list[str] = []
        if "api" in settings.roles:
            self._server = grpc.server(
                futures.ThreadPoolExecutor(max_workers=settings.grpc_workers, thread_name_prefix="grpc"),
                interceptors=[ServiceInterceptor(TokenVerifier(settings.auth_secret))],
                options=[("grpc.so_reuseport", 0)],
            )
            services = list(definition.register_api(self._server, self.context))
            for service in services:
                self._health.set(service, health_pb2.HealthCheckResponse.NOT_SERVING)
            health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
            reflection.enable_server_reflection(
                [
                    *services,
                    health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                    reflection.SERVICE_NAME,
                ],
                self._server,
            )
            self.grpc_port = self._server.add_insecure_port(f"[::]:{settings.grpc_port}")
            self._server.start()

        monitor = ReadinessMonitor(self._health, services, checks)
        monitor.check_once()
        self._spawn("readiness", monitor.run)
        log.info(
            "service started",
            extra={
                "grpc_port": self.grpc_port,
                "metrics_port": self.metrics_port,
                "roles": sorted(settings.roles),
            },
        )

    def _spawn(self, name: str, target: Callable[[threading.Event], None]) -> None:
        thread = threading.Thread(target=target, args=(self._stop,), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        """Stop taking calls, let in-flight ones finish, then stop the relay and the consumer."""
        self._health.enter_graceful_shutdown()
        if self._server is not None:
            self._server.stop(self.settings.shutdown_grace_seconds).wait()
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.settings.shutdown_grace_seconds)
        opened = self.context.closables if hasattr(self, "context") else []
        for close in [*reversed(opened), *reversed(self._closables)]:
            try:
                close()
            except Exception:
                log.exception("error while shutting down")
        log.info("service stopped")

    def wait(self) -> None:
        self._stop.wait()


def _every(
    interval_seconds: float, step: Callable[[], object], name: str
) -> Callable[[threading.Event], None]:
    def run(stop: threading.Event) -> None:
        while True:
            try:
                step()
            except Exception:
                log.exception(
                    "a periodic job failed; it runs again at its next interval", extra={"job": name}
                )
            if stop.wait(interval_seconds):
                return

    return run


def run_service(definition: ServiceDefinition) -> None:
    """Console entry point: run until SIGTERM or SIGINT, then shut down gracefully."""
    settings = ServiceSettings.from_env(
        definition.name,
        default_grpc_port=definition.default_grpc_port,
        default_metrics_port=definition.default_metrics_port,
    )
    configure_logging(definition.name, settings.log_level)
    process = ServiceProcess(definition, settings)
    stopping = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    process.start()
    stopping.wait()
    process.stop()
