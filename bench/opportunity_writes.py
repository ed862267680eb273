"""Opportunity writes through gRPC: updates per second and latency percentiles.

    python bench/opportunity_writes.py                 # PostgreSQL + real Kafka (started here)
    python bench/opportunity_writes.py --embedded      # SQLite + local event log

Everything runs as separate OS processes on this machine, as it would in a cluster: the
opportunities service as `--replicas` API processes behind client-side round robin (what a
Kubernetes Service with several pods gives), one of them also running the outbox relay, and the
load generator as `--client-processes` processes with `--concurrency` requests in flight each.
The figures include the relay publishing every event to the broker while the writes run: the run
ends when the outbox is empty.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import statistics
import tempfile
import threading
import time
from pathlib import Path

import grpc
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import Engine, create_engine, func, select

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.opportunities.v1 import opportunities_pb2 as pb
from salesplane.opportunities.v1 import opportunities_pb2_grpc as pb_grpc
from salesplane_opportunities.adapters.tables import platform
from salesplane_platform.identity import issue_token
from salesplane_platform.settings import DEV_AUTH_SECRET
from salesplane_testing.bench_harness import development_environment
from salesplane_testing.processes import ServiceHandle


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def client_process(
    targets: list[str], ids: list[str], updates: int, concurrency: int, start_at: float, out: object
) -> None:
    metadata = [("authorization", f"Bearer {issue_token(DEV_AUTH_SECRET, 'bench', ['admin'])}")]
    stubs = [pb_grpc.OpportunityServiceStub(grpc.insecure_channel(t)) for t in targets]
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        mine = ids[index::concurrency]
        local: list[float] = []
        for n in range(updates // concurrency):
            request = pb.UpdateOpportunityRequest(
                opportunity=pb.Opportunity(
                    id=mine[n % len(mine)], amount=Money(currency_code="EUR", amount_minor=n)
                ),
                update_mask=FieldMask(paths=["amount.amount_minor"]),
            )
            stub = stubs[(index + n) % len(stubs)]
            started = time.perf_counter()
            stub.UpdateOpportunity(request, metadata=metadata, timeout=30)
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
    out.send(latencies)  # type: ignore[attr-defined]


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
                        owner_user_id=f"rep{i % 50}",
                        amount=Money(currency_code="EUR", amount_minor=100_000),
                        expected_close_date=Date(year=2026, month=12, day=1),
                        sales_stage="Prospecting",
                    ),
                    metadata=metadata,
                ).id
                for i in range(options.deals)
            ]
        engine = create_engine(environ["SALESPLANE_DATABASE_URL"])
        wait_for_empty_outbox(engine)
        processes = options.client_processes
        per_process = options.updates // processes
        start_at = time.time() + 0.5
        pipes = []
        workers = []
        for index in range(processes):
            receive, send = multiprocessing.Pipe(duplex=False)
            worker = multiprocessing.Process(
                target=client_process,
                args=(targets, ids[index::processes], per_process, options.concurrency, start_at, send),
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
        wait_for_empty_outbox(engine)
        drained = time.time() - start_at
        engine.dispose()
    finally:
        for replica in replicas:
            replica.stop()
    backend = "sqlite + local log" if options.embedded else "postgresql + kafka"
    print(f"backend:        {backend}")
    print(
        f"setup:          {options.replicas} API replicas (one runs the relay), {processes} client "
        f"processes x {options.concurrency} in flight, {options.deals} deals"
    )
    print(f"updates:        {len(latencies)}")
    print(f"throughput:     {len(latencies) / elapsed:,.0f} updates/s")
    print(f"latency p50:    {statistics.median(latencies) * 1000:.2f} ms")
    print(f"latency p99:    {percentile(latencies, 0.99) * 1000:.2f} ms")
    print(f"latency max:    {max(latencies) * 1000:.2f} ms")
    print(f"outbox drained: {drained:.2f} s after start ({len(latencies) / drained:,.0f} events/s published)")


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
            from salesplane_testing.postgres_server import PostgresServer

            postgres = stack.enter_context(PostgresServer())
            broker = stack.enter_context(KafkaBroker())
            environ["SALESPLANE_DATABASE_URL"] = postgres.create_database("bench")
            environ["SALESPLANE_KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
        run(environ, options, Path(scratch))


if __name__ == "__main__":
    main()
