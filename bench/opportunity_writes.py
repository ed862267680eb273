"""Opportunity writes through gRPC: updates per second and latency percentiles, beside the
ceiling of a trivial unary gRPC call between processes measured in the same run.

    python bench/opportunity_writes.py                 # durable PostgreSQL + real Kafka (started here)
    python bench/opportunity_writes.py --embedded      # SQLite + local event log

Everything runs as separate OS processes on this machine, as it would in a cluster: the
opportunities service as `--replicas` API processes behind client-side round robin (what a
Kubernetes Service with several pods gives), one of them also running the outbox relay, and the
load generator as `--client-processes` processes with `--concurrency` requests in flight each.
The figures include the relay publishing every event to the broker while the writes run: the run
ends when the outbox is empty.

PostgreSQL runs with its durable defaults (fsync and synchronous_commit on, read back with SHOW and
printed), not the test fixture's fast settings: every update's commit, with its outbox row, is on
disk before it is answered.

The ceiling: as many bare gRPC server processes as replicas (the same number of worker threads,
no interceptor, no database) answering the standard grpc.health.v1 Check, driven by the same
client processes, concurrency and round robin, just before the updates: what a unary call between
two processes costs on this machine. Targets (through gRPC, the outbox on durable PostgreSQL):
updates/s >= 1,500 and p99 <= 20 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import grpc
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from sqlalchemy import Engine, create_engine, func, select, text

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.opportunities.v1 import opportunities_pb2 as pb
from salesplane.opportunities.v1 import opportunities_pb2_grpc as pb_grpc
from salesplane_opportunities.adapters.tables import platform
from salesplane_platform.identity import issue_token
from salesplane_platform.settings import DEV_AUTH_SECRET, ServiceSettings
from salesplane_testing import bench_results
from salesplane_testing.bench_harness import development_environment
from salesplane_testing.organisation import seed_members
from salesplane_testing.processes import ServiceHandle

# The load each client process drives: the benchmark's updates, or the ceiling's health checks.
UPDATE = "update"
HEALTH_CHECK = "health check"
HEALTH_REQUEST = health_pb2.HealthCheckRequest()
OWNERS = [f"rep{i}" for i in range(50)]
TARGET_UPDATES_PER_SECOND = 1_500.0
TARGET_P99_MS = 20.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def unary_method(kind: str, channel: grpc.Channel) -> Callable[..., object]:
    if kind == HEALTH_CHECK:
        return health_pb2_grpc.HealthStub(channel).Check
    return pb_grpc.OpportunityServiceStub(channel).UpdateOpportunity


def request_for(kind: str, opportunity_id: str, n: int) -> Message:
    if kind == HEALTH_CHECK:
        return HEALTH_REQUEST
    return pb.UpdateOpportunityRequest(
        opportunity=pb.Opportunity(id=opportunity_id, amount=Money(currency_code="EUR", amount_minor=n)),
        update_mask=FieldMask(paths=["amount.amount_minor"]),
    )


def client_process(
    kind: str,
    targets: list[str],
    ids: list[str],
    calls: int,
    concurrency: int,
    start_at: float,
    out: Connection,
) -> None:
    # The health checks carry the same token as the updates: the same bytes on the wire.
    metadata = [("authorization", f"Bearer {issue_token(DEV_AUTH_SECRET, 'bench', ['admin'])}")]
    methods = [unary_method(kind, grpc.insecure_channel(t)) for t in targets]
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        mine = ids[index::concurrency]
        local: list[float] = []
        for n in range(calls // concurrency):
            request = request_for(kind, mine[n % len(mine)], n)
            method = methods[(index + n) % len(methods)]
            started = time.perf_counter()
            method(request, metadata=metadata, timeout=30)
            local.append(time.perf_counter() - started)
        with lock:
            latencies.extend(local)

    while time.time() < start_at:
        time.sleep(0.001)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.send(latencies)


@dataclass(frozen=True)
class Load:
    """The calls' latencies (seconds), their common start (time.time()) and the seconds from it to
    the last answer."""

    latencies: list[float]
    start_at: float
    elapsed: float

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.elapsed

    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    def p99_ms(self) -> float:
        return percentile(self.latencies, 0.99) * 1000


def drive(kind: str, targets: list[str], ids: list[str], options: argparse.Namespace) -> Load:
    """`--updates` calls of `kind` from `--client-processes` processes, `--concurrency` in flight each,
    round robin over `targets`, all starting at the same instant."""
    processes = options.client_processes
    per_process = options.updates // processes
    start_at = time.time() + 0.5
    pipes = []
    workers = []
    for index in range(processes):
        receive, send = multiprocessing.Pipe(duplex=False)
        worker = multiprocessing.Process(
            target=client_process,
            args=(kind, targets, ids[index::processes], per_process, options.concurrency, start_at, send),
        )
        worker.start()
        pipes.append(receive)
        workers.append(worker)
    latencies: list[float] = []
    for receive in pipes:
        latencies.extend(receive.recv())
    elapsed = time.time() - start_at
    for worker in workers:
        worker.join()
    return Load(latencies, start_at, elapsed)


def health_server_process(workers: int, ready: Connection) -> None:
    """A bare gRPC server answering grpc.health.v1 Check (SERVING) until it is terminated."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=[("grpc.so_reuseport", 0)])
    servicer = health.HealthServicer()
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    ready.send(port)
    server.wait_for_termination()


@contextlib.contextmanager
def health_servers(count: int, workers: int) -> Iterator[list[str]]:
    """`count` bare health servers as processes; yields their targets, terminates them after."""
    # Spawned, not forked: a fresh interpreter, not a copy of this one with its gRPC channels.
    context = multiprocessing.get_context("spawn")
    processes = []
    targets = []
    try:
        for _ in range(count):
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=health_server_process, args=(workers, send), daemon=True)
            process.start()
            processes.append(process)
            if not receive.poll(60):
                raise TimeoutError("a health server process did not report its port within 60 s")
            targets.append(f"127.0.0.1:{receive.recv()}")
        yield targets
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(10)


def grpc_workers(environ: dict[str, str]) -> int:
    """The worker threads of each replica's gRPC server, read by the service's own settings code."""
    return ServiceSettings.from_env(
        "opportunities", default_grpc_port=0, default_metrics_port=0, environ={**os.environ, **environ}
    ).grpc_workers


def durability(engine: Engine) -> dict[str, str]:
    """The server's own fsync and synchronous_commit, as SHOW reports them."""
    with engine.connect() as connection:
        return {
            name: str(connection.execute(text(f"SHOW {name}")).scalar_one())
            for name in ("fsync", "synchronous_commit")
        }


def run(environ: dict[str, str], options: argparse.Namespace, scratch: Path) -> None:
    replicas: list[ServiceHandle] = []
    for index in range(options.replicas):
        roles = "api,relay" if index == 0 else "api"
        replica = ServiceHandle(
            "opportunities", {**environ, "SALESPLANE_ROLES": roles}, scratch, starts=index * 100
        )
        replica.start()
        replicas.append(replica)
    try:
        # Only a user of the organisation owns deals: the owners in the service's replica of it, as
        # forecasting's UserChanged events would put them (forecasting does not run here).
        seed_members(environ["SALESPLANE_DATABASE_URL"], OWNERS)
        targets = [r.target for r in replicas]
        metadata = [("authorization", f"Bearer {issue_token(DEV_AUTH_SECRET, 'bench', ['admin'])}")]
        with grpc.insecure_channel(targets[0]) as channel:
            stub = pb_grpc.OpportunityServiceStub(channel)
            # The deals are in EUR and the base currency is USD: every write converts at this rate.
            stub.SetExchangeRate(
                pb.SetExchangeRateRequest(
                    currency_code="EUR", rate="1.0850", effective_from=Date(year=2026, month=1, day=1)
                ),
                metadata=metadata,
            )
            ids = [
                stub.CreateOpportunity(
                    pb.CreateOpportunityRequest(
                        name=f"deal {i}",
                        owner_user_id=OWNERS[i % len(OWNERS)],
                        amount=Money(currency_code="EUR", amount_minor=100_000),
                        expected_close_date=Date(year=2026, month=12, day=1),
                        sales_stage="Prospecting",
                    ),
                    metadata=metadata,
                ).id
                for i in range(options.deals)
            ]
        engine = create_engine(environ["SALESPLANE_DATABASE_URL"])
        durable = {} if options.embedded else durability(engine)
        wait_for_empty_outbox(engine)
        workers = grpc_workers(environ)
        with health_servers(len(targets), workers) as ceiling_targets:
            ceiling = drive(HEALTH_CHECK, ceiling_targets, ids, options)
        updates = drive(UPDATE, targets, ids, options)
        wait_for_empty_outbox(engine)
        drained = time.time() - updates.start_at
        engine.dispose()
    finally:
        for replica in replicas:
            replica.stop()
    report(options, durable, workers, ceiling, updates, drained)


def report(
    options: argparse.Namespace,
    durable: dict[str, str],
    workers: int,
    ceiling: Load,
    updates: Load,
    drained: float,
) -> None:
    backend = "sqlite + local log" if options.embedded else "postgresql + kafka"
    print(f"backend:        {backend}")
    if durable:
        print("durable: " + " ".join(f"{name}={value}" for name, value in durable.items()))
    print(
        f"setup:          {options.replicas} API replicas (one runs the relay), {options.client_processes} "
        f"client processes x {options.concurrency} in flight, {options.deals} deals"
    )
    print(
        f"ceiling:        {ceiling.per_second:,.0f} health Check calls/s, p50 {ceiling.p50_ms():.2f} ms, "
        f"p99 {ceiling.p99_ms():.2f} ms ({options.replicas} bare gRPC server processes x {workers} "
        "threads, the same clients)"
    )
    print(f"updates:        {len(updates.latencies)}")
    ratio = updates.per_second / ceiling.per_second
    print(
        f"throughput:     {updates.per_second:,.0f} updates/s = {ratio:.2f} of the ceiling "
        f"(target >= {TARGET_UPDATES_PER_SECOND:,.0f})"
    )
    print(f"latency p50:    {updates.p50_ms():.2f} ms (ceiling {ceiling.p50_ms():.2f} ms)")
    print(
        f"latency p99:    {updates.p99_ms():.2f} ms (ceiling {ceiling.p99_ms():.2f} ms; "
        f"target <= {TARGET_P99_MS:g} ms)"
    )
    print(f"latency max:    {max(updates.latencies) * 1000:.2f} ms")
    published = len(updates.latencies) / drained
    print(f"outbox drained: {drained:.2f} s after start ({published:,.0f} events/s published)")
    record(options, durable, ceiling, updates, published)


def record(
    options: argparse.Namespace, durable: dict[str, str], ceiling: Load, updates: Load, published: float
) -> None:
    """The targets hold for durable PostgreSQL; the embedded run is recorded apart, for reference."""
    targeted = not options.embedded

    def target(**bounds: float) -> bench_results.Target:
        return bench_results.Target(**bounds) if targeted else bench_results.Target()

    figures = [
        bench_results.Figure(
            name="updates through gRPC",
            value=updates.per_second,
            unit="calls/s",
            target=target(at_least=TARGET_UPDATES_PER_SECOND),
            ceiling_name="health Check",
            ceiling=ceiling.per_second,
        ),
        bench_results.Figure(
            name="update latency p99",
            value=updates.p99_ms(),
            unit="ms",
            target=target(at_most=TARGET_P99_MS),
            ceiling_name="health Check p99",
            ceiling=ceiling.p99_ms(),
            lower_is_better=True,
        ),
        bench_results.Figure(
            name="update latency p50",
            value=updates.p50_ms(),
            unit="ms",
            ceiling_name="health Check p50",
            ceiling=ceiling.p50_ms(),
            lower_is_better=True,
        ),
        bench_results.Figure(name="events published (outbox drained)", value=published, unit="events/s"),
    ]
    setup = (
        f"{options.replicas} replicas, {options.client_processes} client processes x "
        f"{options.concurrency} in flight, {len(updates.latencies)} updates"
    )
    backend = "sqlite + local log" if options.embedded else "postgresql + kafka"
    notes = [f"{backend}; {setup}"]
    if durable:
        notes.append("durable: " + " ".join(f"{name}={value}" for name, value in durable.items()))
    bench_results.record("writes-embedded" if options.embedded else "writes", figures, notes=notes)


def wait_for_empty_outbox(engine: Engine) -> None:
    with engine.connect() as connection:
        while connection.execute(select(func.count()).select_from(platform.outbox)).scalar_one():
            connection.rollback()
            time.sleep(0.01)


def main() -> None:
    development_environment()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--embedded", action="store_true")
    parser.add_argument("--updates", type=int, default=10000)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--client-processes", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--deals", type=int, default=400)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as stack:
        environ = {"SALESPLANE_DATA_DIR": scratch, "SALESPLANE_LOG_LEVEL": "WARNING"}
        if options.embedded:
            environ["SALESPLANE_DATABASE_URL"] = f"sqlite:///{scratch}/opportunities.db"
        else:
            from salesplane_testing.kafka_broker import KafkaBroker
            from salesplane_testing.postgres_server import DURABLE_SETTINGS, PostgresServer

            postgres = stack.enter_context(PostgresServer(settings=DURABLE_SETTINGS))
            broker = stack.enter_context(KafkaBroker())
            environ["SALESPLANE_DATABASE_URL"] = postgres.create_database("bench")
            environ["SALESPLANE_KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
        run(environ, options, Path(scratch))


if __name__ == "__main__":
    main()
