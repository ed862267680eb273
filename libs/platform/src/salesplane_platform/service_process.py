"""The composition root every service shares: migrations, gRPC server, outbox relay, event
consumer, health, metrics, graceful shutdown. A service supplies a ServiceDefinition.

Every background loop runs under a Supervisor (restarted if it dies, its heartbeat watched);
the API's readiness covers its database, the event side's (health "events") also the transport
and those loops; liveness only the loops. Every RPC, published record and consumed batch has its
span (tracing.py says where they are exported)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import Engine, Table
from sqlalchemy.orm import Session, sessionmaker

from salesplane_platform import grpc_metrics
from salesplane_platform.audit_api import add_audit_service
from salesplane_platform.authentication import TokenVerifiers, Verifier
from salesplane_platform.consumer_runner import ConsumerRunner, EventHandler
from salesplane_platform.db import make_engine, make_session_factory, observe_pool, ping
from salesplane_platform.dead_letters import DeadLetters
from salesplane_platform.dead_letters_api import add_dead_letter_service
from salesplane_platform.grpc_interceptor import ServiceInterceptor
from salesplane_platform.grpc_tracing import tracing_server_interceptor
from salesplane_platform.health import EVENTS_SERVICE, ReadinessMonitor, TruthfulHealthServicer
from salesplane_platform.json_logging import configure_logging
from salesplane_platform.local_log import LOCAL_LOG_SYSTEM
from salesplane_platform.messaging_spans import KAFKA
from salesplane_platform.migrations import upgrade_to_head
from salesplane_platform.ops_http import start_ops_server
from salesplane_platform.org_identity import OrgBoundVerifier, table_directory
from salesplane_platform.outbox_relay import OutboxRelay
from salesplane_platform.platform_tables import PlatformTables
from salesplane_platform.server_reflection import enable_reflection
from salesplane_platform.service_principals import NO_SERVICE_RPCS, ServiceRpcs
from salesplane_platform.settings import ServiceSettings
from salesplane_platform.supervision import Heartbeat, Loop, Supervisor
from salesplane_platform.topics import AUDIT as AUDIT_TOPIC
from salesplane_platform.tracing import configure_tracing, exporting
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
    # The organisation's members as this service sees them (user_id, roles, active, email): the
    # roles and active flag of the provider's users come from here (org_identity.py).
    org_members: Table | None = None
    # The RPCs each service principal may call (service_principals.service_rpcs); none by default.
    service_rpcs: ServiceRpcs = field(default_factory=lambda: NO_SERVICE_RPCS)


class ServiceProcess:
    """One running service. `start()` returns when it serves; `stop()` drains and shuts down."""

    def __init__(self, definition: ServiceDefinition, settings: ServiceSettings) -> None:
        self.definition = definition
        self.settings = settings
        self._stop = threading.Event()
        self.supervisor = Supervisor(self._stop, stuck_after_seconds=settings.worker_stuck_seconds)
        self._server: grpc.Server | None = None
        self._grpc_workers: futures.ThreadPoolExecutor | None = None
        self._health = TruthfulHealthServicer(self.supervisor.live_problem)
        self._monitor: ReadinessMonitor | None = None
        # grpc's servicer starts out SERVING for the whole server; nothing is ready until the
        # first readiness check has passed.
        self._health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        self._health.set(EVENTS_SERVICE, health_pb2.HealthCheckResponse.NOT_SERVING)
        self._closables: list[Callable[[], None]] = []
        self.grpc_port = 0
        self.metrics_port = 0
        self.context: ServiceContext

    def _verifier(self) -> Verifier:
        """Tokens verified as the settings say; users' roles from the organisation's members."""
        settings, members = self.settings, self.definition.org_members
        verifiers = TokenVerifiers(settings.auth)
        if members is None:
            return verifiers
        by_email = settings.oidc is not None and settings.oidc.user_claim == "email"
        directory = table_directory(self.context.session_factory, members, by_email=by_email)
        return OrgBoundVerifier(verifiers, directory, bootstrap_admins=settings.bootstrap_admins)

    def start(self) -> None:
        definition, settings = self.definition, self.settings
        engine = make_engine(
            settings.database_url, statement_timeout_ms=settings.database_statement_timeout_ms
        )
        observe_pool(engine)
        self._closables.append(engine.dispose)
        upgrade_to_head(engine, definition.migrations, lock_name=definition.name)
        topic = settings.topic(definition.topic) if definition.topic else None
        audit_topic = settings.topic(AUDIT_TOPIC)
        outbox = OutboxContext(
            definition.tables, definition.name, topic, threading.Event(), audit_topic=audit_topic
        )
        self.context = ServiceContext(settings, engine, make_session_factory(engine), outbox)
        checks: dict[str, Callable[[], None]] = {
            "workers": self.supervisor.check_ready,
            "database": lambda: ping(engine),
        }

        ops_server = start_ops_server(
            settings.metrics_port,
            ready_problem=self._ready_problem,
            live_problem=self.supervisor.live_problem,
        )
        self.metrics_port = ops_server.server_port
        self._closables.append(ops_server.shutdown)

        # The messaging.system of the transport's spans.
        messaging_system = KAFKA if settings.uses_kafka else LOCAL_LOG_SYSTEM
        if "relay" in settings.roles:
            prepare_topics(settings, [t for t in (topic, audit_topic) if t is not None])
            publisher = make_publisher(settings)
            self._closables.append(publisher.close)
            relay = OutboxRelay(
                engine,
                definition.tables,
                publisher,
                wakeup=outbox.wakeup,
                lock_name=definition.name,
                messaging_system=messaging_system,
                publish_spans=exporting(),
            )
            self.supervisor.spawn("outbox-relay", relay.run)
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
                    # The local log is polled every 20 ms whatever the timeout; a short one only
                    # lets a stop end sooner.
                    poll_timeout_seconds=0.5 if settings.uses_kafka else 0.1,
                    messaging_system=messaging_system,
                    consumer_group=settings.consumer_group,
                )
                self.supervisor.spawn(f"event-consumer-{member}", runner.run)

        if "consumer" in settings.roles:
            for job in definition.periodic_jobs:
                self.supervisor.spawn(
                    job.name,
                    _every(job.interval_seconds, job.make(self.context), job.name),
                    stuck_after_seconds=max(settings.worker_stuck_seconds, 3 * job.interval_seconds),
                )

        if {"relay", "consumer"} & settings.roles:
            probe, release_probe = make_transport_probe(settings)
            checks["event transport"] = probe
            self._closables.append(release_probe)

        services: list[str] = []
        if "api" in settings.roles:
            self._grpc_workers = futures.ThreadPoolExecutor(
                max_workers=settings.grpc_workers, thread_name_prefix="grpc"
            )
            self._server = grpc.server(
                self._grpc_workers,
                interceptors=[
                    tracing_server_interceptor(),
                    ServiceInterceptor(self._verifier(), definition.service_rpcs),
                ],
                options=[("grpc.so_reuseport", 0)],
            )
            services = list(definition.register_api(self._server, self.context))
            services.append(
                add_audit_service(
                    self._server, self.context.session_factory, definition.tables.audit_log, definition.name
                )
            )
            make_handler = definition.make_handler
            if make_handler is not None:
                dead_letters = DeadLetters(self.context.session_factory, definition.tables)
                services.append(
                    add_dead_letter_service(self._server, dead_letters, lambda: make_handler(self.context))
                )
            grpc_metrics.initialise(services)
            for service in services:
                self._health.set(service, health_pb2.HealthCheckResponse.NOT_SERVING)
            health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
            enable_reflection(
                self._server, [*services, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name]
            )
            self.grpc_port = self._server.add_insecure_port(f"[::]:{settings.grpc_port}")
            self._server.start()

        # The API is ready while its database answers; the broker and the loops gate "events".
        monitor = self._monitor = ReadinessMonitor(
            self._health, services, checks, serving_checks={"database"}
        )
        monitor.check_once()
        self.supervisor.spawn(
            "readiness", lambda stop, beat: monitor.run(stop, beat, changed=self.supervisor.changed)
        )
        log.info(
            "service started",
            extra={
                "grpc_port": self.grpc_port,
                "metrics_port": self.metrics_port,
                "roles": sorted(settings.roles),
            },
        )

    def _ready_problem(self) -> str | None:
        return "starting" if self._monitor is None else self._monitor.failing

    def stop(self) -> None:
        """Stop taking calls, let in-flight ones finish, then stop the relay and the consumer; all
        within `shutdown_grace_seconds`, even while the broker or the database does not answer."""
        grace = self.settings.shutdown_grace_seconds
        deadline = time.monotonic() + grace
        self._health.enter_graceful_shutdown()
        if self._server is not None:
            # In-flight calls may take half the grace period; the workers and the closing the rest.
            self._server.stop(grace / 2).wait(grace / 2 + 1)
            # Idle workers end now; only a call still stuck on a dependency keeps its thread.
            if self._grpc_workers is not None:
                self._grpc_workers.shutdown(wait=False, cancel_futures=True)
        self._stop.set()
        # Wake the loops that wait on an event of their own rather than on `_stop`.
        self.supervisor.changed.set()
        if hasattr(self, "context"):
            self.context.outbox.wakeup.set()
        # Keep a little time to close clients even if a worker does not end in time.
        still_running = self.supervisor.join(deadline - min(3.0, grace / 4))
        if still_running:
            log.warning("workers did not stop in time", extra={"workers": still_running})
        opened = self.context.closables if hasattr(self, "context") else []
        for close in [*reversed(opened), *reversed(self._closables)]:
            _close_by(close, deadline)
        log.info("service stopped")

    def wait(self) -> None:
        self._stop.wait()


def _every(interval_seconds: float, step: Callable[[], object], name: str) -> Loop:
    def run(stop: threading.Event, heartbeat: Heartbeat) -> None:
        while True:
            heartbeat.beat()
            try:
                step()
            except Exception:
                log.exception(
                    "a periodic job failed; it runs again at its next interval", extra={"job": name}
                )
            if stop.wait(interval_seconds):
                return

    return run


def settings_from_env(definition: ServiceDefinition) -> ServiceSettings:
    """The service's settings from the environment (for the service and its admin commands)."""
    return ServiceSettings.from_env(
        definition.name,
        default_grpc_port=definition.default_grpc_port,
        default_metrics_port=definition.default_metrics_port,
    )


def run_service(definition: ServiceDefinition) -> None:
    """Console entry point: run until SIGTERM or SIGINT, then shut down gracefully."""
    settings = settings_from_env(definition)
    configure_logging(definition.name, settings.log_level)
    stop_tracing = configure_tracing(definition.name)
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
    stop_tracing()
    # A call still running on a dead dependency must not hold the pod past its grace period:
    # grpc's worker threads are not daemons, and the interpreter would wait for them at exit.
    others = [t for t in threading.enumerate() if not t.daemon and t is not threading.main_thread()]
    deadline = time.monotonic() + 1.0  # idle grpc workers end within moments of their shutdown
    for thread in others:
        thread.join(max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() for t in others):
        log.warning("exiting with calls still running")
        logging.shutdown()
        os._exit(0)


def _close_by(close: Callable[[], None], deadline: float) -> None:
    """Call `close`, waiting for it no later than `deadline` (a client closing during an outage
    may wait on the network); an error or a hang is logged and shutdown goes on."""

    def run() -> None:
        try:
            close()
        except Exception:
            log.exception("error while shutting down")

    closer = threading.Thread(target=run, name="closing", daemon=True)
    closer.start()
    closer.join(max(0.0, deadline - time.monotonic()))
    if closer.is_alive():
        log.warning("a client did not close within the grace period", extra={"client": repr(close)})
