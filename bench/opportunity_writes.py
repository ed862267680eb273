"""Opportunity writes through gRPC: updates per second and latency percentiles.

    python bench/opportunity_writes.py                 # PostgreSQL + real Kafka (started here)
    python bench/opportunity_writes.py --embedded      # SQLite + local event log
Options: --updates N (default 5000), --clients N (default 8).

The client runs on the same machine as the service. Also reports how long the relay needed to
publish every event (outbox drained).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import threading
import time

import grpc
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import func, select

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.opportunities.v1 import opportunities_pb2 as pb
from salesplane.opportunities.v1 import opportunities_pb2_grpc as pb_grpc
from salesplane_opportunities.adapters.tables import platform
from salesplane_opportunities.entrypoints.main import DEFINITION
from salesplane_platform.identity import issue_token
from salesplane_platform.service_process import ServiceProcess
from salesplane_platform.settings import ServiceSettings


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(settings: ServiceSettings, updates: int, clients: int) -> None:
    process = ServiceProcess(DEFINITION, settings)
    process.start()
    metadata = [("authorization", f"Bearer {issue_token(settings.auth_secret, 'bench', ['admin'])}")]
    channel = grpc.insecure_channel(f"127.0.0.1:{process.grpc_port}")
    stub = pb_grpc.OpportunityServiceStub(channel)
    # The deals are in EUR and the base currency is USD: they are valued at this rate.
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
        for i in range(clients * 20)
    ]
    latencies: list[float] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        mine = ids[index::clients]
        local: list[float] = []
        for n in range(updates // clients):
            request = pb.UpdateOpportunityRequest(
                opportunity=pb.Opportunity(
                    id=mine[n % len(mine)], amount=Money(currency_code="EUR", amount_minor=n)
                ),
                update_mask=FieldMask(paths=["amount.amount_minor"]),
            )
            started = time.perf_counter()
            stub.UpdateOpportunity(request, metadata=metadata)
            local.append(time.perf_counter() - started)
        with lock:
            latencies.extend(local)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    with process.context.engine.connect() as connection:
        while connection.execute(select(func.count()).select_from(platform.outbox)).scalar_one():
            connection.rollback()
            time.sleep(0.01)
    drained = time.perf_counter() - started
    channel.close()
    process.stop()
    print(f"backend:        {'sqlite + local log' if not settings.uses_kafka else 'postgresql + kafka'}")
    print(f"updates:        {len(latencies)} by {clients} concurrent clients")
    print(f"throughput:     {len(latencies) / elapsed:,.0f} updates/s")
    print(f"latency p50:    {statistics.median(latencies) * 1000:.2f} ms")
    print(f"latency p99:    {percentile(latencies, 0.99) * 1000:.2f} ms")
    print(f"outbox drained: {drained:.2f} s after start ({len(latencies) / drained:,.0f} events/s published)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--embedded", action="store_true")
    parser.add_argument("--updates", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=8)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as stack:
        environ = {"SALESPLANE_DATA_DIR": scratch, "SALESPLANE_LOG_LEVEL": "WARNING"}
        if not options.embedded:
            from salesplane_testing.kafka_broker import KafkaBroker
            from salesplane_testing.postgres_server import PostgresServer

            postgres = stack.enter_context(PostgresServer())
            broker = stack.enter_context(KafkaBroker())
            environ["SALESPLANE_DATABASE_URL"] = postgres.create_database("bench")
            environ["SALESPLANE_KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
        settings = ServiceSettings.from_env(
            "opportunities", default_grpc_port=0, default_metrics_port=0, environ=environ
        )
        run(settings, options.updates, options.clients)


if __name__ == "__main__":
    main()
