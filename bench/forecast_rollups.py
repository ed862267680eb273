"""Forecast rollups: opportunity events through Kafka into PostgreSQL rollups, and the O(1) rollup
read against a recompute-at-read-time query, in the same run.

    python bench/forecast_rollups.py                          # 200,000 events, 50,000 deals, 5,000 users
    python bench/forecast_rollups.py --events 50000 --deals 10000 --users 1000
    python bench/forecast_rollups.py --profile                # + where the consumer's time goes

A real PostgreSQL and a real Kafka broker are started here. The organisation (`--users`, six levels:
one VP, four levels of managers with an even fan-out, 5 for 5,000 users, and every other user a rep
under the first-line managers: 1 -> 5 -> 25 -> 125 -> 625 -> 4,219) is written straight into
the forecasting database, and `--events` OpportunityChanged envelopes (several versions per deal,
interleaved as a live stream would be; owners mostly reps, some managers; open, won, lost and a few
deleted deals closing across 2026) are produced onto the opportunities topic beforehand: producing
is not what is measured.

Then ONE forecasting process with SALESPLANE_ROLES=consumer reads them. Throughput is taken from
the consumer's own counter (its metrics endpoint, scraped every 0.1 s) between its first committed
batch and the moment every deal's newest version is applied, so the process start and the group
join are left out (they are printed separately). CPU seconds of the consumer, of PostgreSQL and of
the broker over the same window show what one consumer process costs on this machine.

The result is checked once against `rebuild_rollups` (in a transaction rolled back afterwards), and
against the recompute query. Reads are timed in this process on one warm connection: the rollup
read (`read_rollup`: the one primary-key row of own and team totals) and the recompute at read time
(a recursive CTE down the user's subtree joined to the tracked deals of the period, summing the same
measures for both scopes), for the VP, a level-2 manager, a first-line manager and a rep; and once
through gRPC (ForecastingService.GetRollup on a forecasting API process).

`--max-batch` sets the consumer's batch (SALESPLANE_CONSUMER_MAX_BATCH; unset: the service's default).
`--profile` then replays the same topic in this process (fresh database and consumer group) with
the service's own ConsumerRunner and the same batch size, timing each step of every batch, and
profiles `--profile-batches` batches with cProfile on another fresh database.

The PostgreSQL started here runs with fsync=off and synchronous_commit=off (the test settings):
commit latency is not part of these figures. The run takes about a minute plus the consumer's time
(200,000 events at the target of 10,000 events/s: 20 s); `--profile` adds the in-process replay.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.record import default_records as kafka_default_records
from kafka.record import util as kafka_util
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.forecasting.v1 import forecasting_pb2, forecasting_pb2_grpc
from salesplane.opportunities.v1 import events_pb2, opportunities_pb2
from salesplane_forecasting.adapters import hierarchy, rollup_store, settings_store, tables
from salesplane_forecasting.domain.contributions import MEASURES, ROLLUP_MEASURES
from salesplane_forecasting.domain.deals import Deal
from salesplane_forecasting.entrypoints import opportunity_consumer as handler_module
from salesplane_forecasting.entrypoints.main import DEFINITION
from salesplane_forecasting.entrypoints.opportunity_consumer import (
    OPPORTUNITIES_TOPIC,
    OpportunityRollupHandler,
)
from salesplane_forecasting.service_layer import rollups as rollup_use_cases
from salesplane_platform import consumer_runner
from salesplane_platform.consumer_runner import ConsumerRunner
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.events import build_envelope, decode_envelope, unpack_payload
from salesplane_platform.identity import issue_token
from salesplane_platform.kafka_transport import KafkaSubscriber, ensure_topics
from salesplane_platform.migrations import upgrade_to_head
from salesplane_platform.settings import DEV_AUTH_SECRET, ServiceSettings
from salesplane_testing import bench_results
from salesplane_testing.bench_harness import development_environment
from salesplane_testing.bench_results import Figure, Target
from salesplane_testing.processes import ServiceHandle, free_port

PERIOD = "2026-Q4"
LEVELS = 6  # the VP, four levels of managers, the reps
EUR_RATE = 1.085
OPEN_STAGES = [
    ("Prospecting", 10),
    ("Qualification", 20),
    ("Needs Analysis", 30),
    ("Value Proposition", 45),
    ("Proposal/Price Quote", 60),
    ("Negotiation/Review", 75),
    ("Verbal Commit", 90),
]
TICKS = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"# {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# ----------------------------------------------------------------------------- the organisation


@dataclass(frozen=True)
class Org:
    rows: list[dict[str, Any]]
    levels: list[list[str]]  # user ids per level, the VP first

    @property
    def reps(self) -> list[str]:
        return self.levels[-1]

    @property
    def managers(self) -> list[str]:
        return [u for level in self.levels[:-1] for u in level]


def build_org(total: int) -> Org:
    """One VP, four levels of managers with fan-out f, every other user a rep under the level-4
    managers; f is the largest fan-out that leaves at least four reps per manager."""
    fanout = 1
    while sum((fanout + 1) ** k for k in range(LEVELS - 1)) * 5 <= total:
        fanout += 1
    levels: list[list[str]] = [["vp-0"]]
    for depth in range(1, LEVELS - 1):
        levels.append([f"mgr{depth}-{i}" for i in range(len(levels[-1]) * fanout)])
    managers = sum(len(level) for level in levels)
    levels.append([f"rep-{i}" for i in range(total - managers)])
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for depth, level in enumerate(levels):
        above = levels[depth - 1] if depth else []
        for index, user_id in enumerate(level):
            rows.append(
                {
                    "user_id": user_id,
                    "display_name": user_id,
                    "email": f"{user_id}@bench.example",
                    "roles": "rep" if depth == LEVELS - 1 else "manager",
                    "manager_user_id": above[index % len(above)] if above else None,
                    "active": True,
                    "version": 1,
                    "updated_at": now,
                }
            )
    return Org(rows, levels)


def create_org(engine: Engine, org: Org) -> None:
    with engine.begin() as connection:
        connection.execute(tables.users.insert(), org.rows)


# ----------------------------------------------------------------------------- the events


@dataclass
class Workload:
    records: list[tuple[bytes, bytes]]  # key, value
    final_versions: dict[str, int]


def make_workload(org: Org, events: int, deals: int, seed: int) -> Workload:
    """`events` envelopes over `deals` deals (each at least one version), interleaved at random;
    each version carries the deal's full new state as the opportunities service publishes it."""
    rng = random.Random(seed)
    counts = [1] * deals
    for _ in range(events - deals):
        counts[rng.randrange(deals)] += 1
    order = [index for index, count in enumerate(counts) for _ in range(count)]
    rng.shuffle(order)
    managers = org.managers
    owners = [rng.choice(managers) if rng.random() < 0.1 else rng.choice(org.reps) for _ in range(deals)]
    versions = [0] * deals
    records: list[tuple[bytes, bytes]] = []
    now = datetime.now(UTC)
    for index in order:
        versions[index] += 1
        version = versions[index]
        deal_id = f"opp-{index:06d}"
        if rng.random() < 0.03:  # reassigned
            owners[index] = rng.choice(org.reps)
        kind = events_pb2.CHANGE_KIND_CREATED if version == 1 else events_pb2.CHANGE_KIND_UPDATED
        roll = rng.random()
        if roll < 0.10:
            stage, probability, status = "Closed Won", 100, opportunities_pb2.OPPORTUNITY_STATUS_WON
        elif roll < 0.18:
            stage, probability, status = "Closed Lost", 0, opportunities_pb2.OPPORTUNITY_STATUS_LOST
        else:
            stage, probability = rng.choice(OPEN_STAGES)
            status = opportunities_pb2.OPPORTUNITY_STATUS_OPEN
            if version > 1 and roll > 0.99:
                kind = events_pb2.CHANGE_KIND_DELETED
        currency = "EUR" if rng.random() < 0.3 else "USD"
        amount = rng.randrange(100_000, 50_000_000)
        base = round(amount * EUR_RATE) if currency == "EUR" else amount
        opportunity = opportunities_pb2.Opportunity(
            id=deal_id,
            name=f"deal {index}",
            owner_user_id=owners[index],
            amount=Money(currency_code=currency, amount_minor=amount),
            expected_close_date=Date(year=2026, month=rng.randint(1, 12), day=rng.randint(1, 28)),
            sales_stage=stage,
            probability=probability,
            version=version,
            status=status,
            account_name=f"account {index % 997}",
            amount_base=Money(currency_code="USD", amount_minor=base),
            exchange_rate="1.0850" if currency == "EUR" else "1",
            best_case_base=Money(currency_code="USD", amount_minor=base * 5 // 4),
            worst_case_base=Money(currency_code="USD", amount_minor=base * 3 // 5),
        )
        envelope = build_envelope(
            payload=events_pb2.OpportunityChanged(opportunity=opportunity, kind=kind),
            aggregate_type="opportunity",
            aggregate_id=deal_id,
            aggregate_version=version,
            producer="opportunities",
            actor="bench",
            occurred_at=now,
        )
        records.append((deal_id.encode(), envelope.SerializeToString()))
    return Workload(records, {f"opp-{i:06d}": v for i, v in enumerate(versions)})


def produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> float:
    started = time.perf_counter()
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks=1,
        linger_ms=50,
        batch_size=1 << 20,
        max_request_size=8 << 20,
        client_id="bench-producer",
    )
    try:
        for key, value in records:
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=300)
    finally:
        producer.close(timeout=30)
    return time.perf_counter() - started


@dataclass(frozen=True)
class RawRate:
    records: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.records / self.seconds


def raw_consume(bootstrap: str, topic: str, total: int, max_batch: int, *, decode: bool) -> RawRate:
    """The ceiling: a plain kafka-python consumer (partitions assigned, no group, from the start,
    the same poll size as the service) reading the whole topic and, with `decode`, decoding each
    envelope and its OpportunityChanged payload with the service's own functions: the least the
    consumer must do before applying anything. Timed from the first poll to the last record."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, client_id="bench-raw", group_id=None
    )
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        seen = 0
        started = time.perf_counter()
        while seen < total:
            batches = consumer.poll(timeout_ms=2000, max_records=max_batch)
            if not batches and time.perf_counter() - started > 120:
                raise TimeoutError(f"the raw consumer read {seen:,} of {total:,} records")
            for records in batches.values():
                if decode:
                    for record in records:
                        envelope = decode_envelope(record.value)
                        unpack_payload(envelope, events_pb2.OpportunityChanged)
                seen += len(records)
        return RawRate(seen, time.perf_counter() - started)
    finally:
        consumer.close()


def rss_mib(pid: int) -> float:
    """Resident memory of a process, 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# ----------------------------------------------------------------------------- processes


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads), 0 when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def tree_cpu_seconds(root: int | None) -> float:
    """CPU of a process and its living descendants (PostgreSQL: the postmaster and its backends)."""
    if root is None:
        return 0.0
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            children[int(stat[stat.rindex(")") + 2 :].split()[1])].append(int(entry.name))
    total, pending = 0.0, [root]
    while pending:
        pid = pending.pop()
        total += cpu_seconds(pid)
        pending.extend(children.get(pid, []))
    return total


@dataclass
class ConsumerMetrics:
    events: float = 0.0
    batches: float = 0.0
    batch_seconds: float = 0.0


def scrape(port: int) -> ConsumerMetrics | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as reply:
            body = reply.read().decode()
    except OSError:
        return None
    found = ConsumerMetrics()
    for line in body.splitlines():
        if line.startswith("consumer_events_total{"):
            found.events += float(line.rsplit(" ", 1)[1])
        elif line.startswith("consumer_batch_seconds_count "):
            found.batches = float(line.rsplit(" ", 1)[1])
        elif line.startswith("consumer_batch_seconds_sum "):
            found.batch_seconds = float(line.rsplit(" ", 1)[1])
    return found


@dataclass
class ConsumerProcess:
    """The forecasting service as one consumer process (it has no gRPC server to wait on)."""

    env: dict[str, str]
    log_path: Path
    metrics_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [str(Path(sys.executable).parent / "salesplane-forecasting")]
        env = {
            **os.environ,
            **self.env,
            "SALESPLANE_ROLES": "consumer",
            "SALESPLANE_GRPC_PORT": str(free_port()),
            "SALESPLANE_METRICS_PORT": str(self.metrics_port),
        }
        with self.log_path.open("wb") as log_file:
            self.process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-40:])
            raise RuntimeError(f"the consumer exited with {self.process.returncode}:\n{tail}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@dataclass
class ConsumeResult:
    spawn_to_first_batch: float
    window_seconds: float
    window_events: float
    total_events: float
    spawn_to_done: float
    consumer_cpu: float
    postgres_cpu: float
    broker_cpu: float
    batches: float
    batch_seconds: float
    # The consumer's resident memory at its first batch, at its highest, and when it was done.
    rss_first: float
    rss_peak: float
    rss_done: float


def consumed_state(engine: Engine) -> tuple[int, int]:
    """How many deals are tracked and the sum of their applied versions: equal to the workload's
    deal count and final versions' sum only once every deal's newest version is applied."""
    t = tables.tracked_opportunities.c
    with engine.connect() as connection:
        count, total = connection.execute(select(func.count(), func.coalesce(func.sum(t.version), 0))).one()
    return int(count), int(total)


def scrape_all(consumers: list[ConsumerProcess]) -> ConsumerMetrics | None:
    """The consumers' counters summed; None until every one of them answers."""
    total = ConsumerMetrics()
    for consumer in consumers:
        found = scrape(consumer.metrics_port)
        if found is None:
            return None
        total.events += found.events
        total.batches += found.batches
        total.batch_seconds += found.batch_seconds
    return total


def run_consumer(
    consumers: list[ConsumerProcess],
    engine: Engine,
    workload: Workload,
    postgres_pid: int | None,
    broker_pid: int | None,
    timeout: float,
) -> ConsumeResult:
    """Spawn the consumer processes (one group) and time them from the first committed batch of
    any of them until every deal's newest version is applied: with several, their group joins
    and the rebalances while they join are inside the window, as they are when a deployment
    scales out."""
    wanted = (len(workload.final_versions), sum(workload.final_versions.values()))

    def consumers_cpu() -> float:
        return sum(cpu_seconds(c.pid) for c in consumers)

    def consumers_rss() -> float:
        return sum(rss_mib(c.pid) for c in consumers)

    spawned = time.monotonic()
    for consumer in consumers:
        consumer.start()
    deadline = spawned + timeout
    first: tuple[float, ConsumerMetrics, float, float, float] | None = None
    while time.monotonic() < deadline:
        for consumer in consumers:
            consumer.check_alive()
        metrics = scrape_all(consumers)
        if metrics is not None and metrics.events > 0:
            first = (
                time.monotonic(),
                metrics,
                consumers_cpu(),
                tree_cpu_seconds(postgres_pid),
                tree_cpu_seconds(broker_pid),
            )
            break
        time.sleep(0.02)
    if first is None:
        raise TimeoutError(f"the consumers applied nothing within {timeout:.0f} s")
    first_at, first_metrics, first_cpu, first_pg, first_broker = first
    log(f"first batch committed {first_at - spawned:.1f} s after the processes were spawned")
    last_report = first_at
    rss_first = rss_peak = consumers_rss()
    while True:
        rss_peak = max(rss_peak, consumers_rss())
        if time.monotonic() > deadline:
            raise TimeoutError(f"not every deal's newest version was applied within {timeout:.0f} s")
        for consumer in consumers:
            consumer.check_alive()
        metrics = scrape_all(consumers) or metrics
        now = time.monotonic()
        # The counters move after each batch's commit: once they have every event, check the rows
        # (with several consumers a rebalance redelivers some, so the sum may pass the total).
        caught_up = metrics is not None and metrics.events >= len(workload.records)
        if caught_up and consumed_state(engine) == wanted:
            break
        if now - last_report > 10 and metrics is not None:
            log(f"{metrics.events:,.0f} events consumed")
            last_report = now
        time.sleep(0.1)
    done_at = time.monotonic()
    assert metrics is not None
    return ConsumeResult(
        spawn_to_first_batch=first_at - spawned,
        window_seconds=done_at - first_at,
        window_events=metrics.events - first_metrics.events,
        total_events=metrics.events,
        spawn_to_done=done_at - spawned,
        consumer_cpu=consumers_cpu() - first_cpu,
        postgres_cpu=tree_cpu_seconds(postgres_pid) - first_pg,
        broker_cpu=tree_cpu_seconds(broker_pid) - first_broker,
        batches=metrics.batches - first_metrics.batches,
        batch_seconds=metrics.batch_seconds - first_metrics.batch_seconds,
        rss_first=rss_first,
        rss_peak=rss_peak,
        rss_done=consumers_rss(),
    )


# ----------------------------------------------------------------------------- checks and reads


def rollup_rows(session: Session) -> dict[tuple[str, str], tuple[int, ...]]:
    """Every rollup row (own measures, then team measures) but those that came back to zero (a
    rebuild does not write them)."""
    c = tables.rollup_totals.c
    rows = session.execute(select(c.user_id, c.period_id, *[c[name] for name in ROLLUP_MEASURES]))
    found = {(row[0], row[1]): tuple(row[2:]) for row in rows}
    return {key: measures for key, measures in found.items() if any(measures)}


def matches_rebuild(engine: Engine) -> tuple[bool, int, float]:
    session = Session(engine)
    try:
        incremental = rollup_rows(session)
        started = time.perf_counter()
        rollup_store.rebuild_rollups(session, recompute_contributions=False)
        rebuild_seconds = time.perf_counter() - started
        rebuilt = rollup_rows(session)
    finally:
        session.rollback()
        session.close()
    return incremental == rebuilt, len(incremental), rebuild_seconds


def newest_versions_applied(engine: Engine, workload: Workload) -> int:
    t = tables.tracked_opportunities.c
    with engine.connect() as connection:
        tracked = dict(connection.execute(select(t.opportunity_id, t.version)).all())
    return sum(1 for deal, version in workload.final_versions.items() if tracked.get(deal) == version)


def _measure_sql() -> str:
    open_ = "t.status = 'open'"
    include = f"{open_} AND t.commit_stage = 'include'"
    upside = f"{open_} AND t.commit_stage = 'upside'"
    base, best, worst = "t.amount_base_minor", "t.best_base_minor", "t.worst_base_minor"
    spec = {
        "won_count": ("1", "t.status = 'won'"),
        "won_minor": (base, "t.status = 'won'"),
        "open_count": ("1", open_),
        "pipeline_minor": (base, open_),
        "weighted_percent_minor": (f"{base} * t.probability", open_),
        "included_count": ("1", include),
        "included_likely_minor": (base, include),
        "included_best_minor": (best, include),
        "included_worst_minor": (worst, include),
        "upside_count": ("1", upside),
        "upside_likely_minor": (base, upside),
        "upside_best_minor": (best, upside),
        "upside_worst_minor": (worst, upside),
    }
    columns = []
    for scope, extra in (("own", " AND t.owner_user_id = :root"), ("team", "")):
        for name in MEASURES:
            value, condition = spec[name]
            columns.append(f"COALESCE(SUM({value}) FILTER (WHERE {condition}{extra}), 0) AS {scope}_{name}")
    return ",\n       ".join(columns)


SUBTREE = """
WITH RECURSIVE subtree (user_id, depth) AS (
    SELECT CAST(:root AS VARCHAR(64)), 0
  UNION ALL
    SELECT u.user_id, s.depth + 1
      FROM users u JOIN subtree s ON u.manager_user_id = s.user_id
     WHERE s.depth < 64
)
"""
SUBTREE_SIZE = text(f"{SUBTREE}SELECT count(*) FROM subtree")
# The same figures as the rollup row (own and team), computed at read time from the tracked deals.
RECOMPUTE = text(
    f"""{SUBTREE}SELECT {_measure_sql()}
  FROM subtree s
  JOIN tracked_opportunities t ON t.owner_user_id = s.user_id
 WHERE t.period_id = :period
"""
)


def recompute(session: Session, user_id: str, period_id: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    row = session.execute(RECOMPUTE, {"root": user_id, "period": period_id}).one()
    values = tuple(int(v) for v in row)
    return values[: len(MEASURES)], values[len(MEASURES) :]


def rollup(session: Session, user_id: str, period_id: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    read = rollup_store.read_rollup(session, user_id, period_id)
    return tuple(getattr(read.own, n) for n in MEASURES), tuple(getattr(read.team, n) for n in MEASURES)


def time_calls(call: Callable[[], object], runs: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        call()
    latencies = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - started)
    return latencies


def time_interleaved(
    fast: Callable[[], object], slow: Callable[[], object], fast_runs: int, slow_runs: int
) -> tuple[list[float], list[float]]:
    """Time both in alternating rounds (one slow call, then its share of fast ones), so that both
    see the same background load on a shared machine."""
    time_calls(fast, 0, 200)
    time_calls(slow, 0, 3)
    per_round = max(1, fast_runs // slow_runs)
    fast_latencies: list[float] = []
    slow_latencies: list[float] = []
    for _ in range(slow_runs):
        slow_latencies += time_calls(slow, 1, 0)
        fast_latencies += time_calls(fast, min(per_round, fast_runs - len(fast_latencies)), 0)
    fast_latencies += time_calls(fast, fast_runs - len(fast_latencies), 0)
    return fast_latencies, slow_latencies


@dataclass
class ReadFigures:
    label: str
    user_id: str
    subtree: int
    deals: int
    rollup: list[float]
    recompute: list[float]
    agrees: bool


def time_reads(engine: Engine, org: Org, rollup_runs: int, recompute_runs: int) -> list[ReadFigures]:
    picks = [
        ("VP (top)", org.levels[0][0], max(5, recompute_runs)),
        ("level-2 manager", org.levels[2][0], recompute_runs * 2),
        ("first-line manager", org.levels[LEVELS - 2][0], recompute_runs * 4),
        ("rep", org.reps[0], recompute_runs * 4),
    ]
    figures = []
    with Session(engine) as session:
        for label, user_id, runs in picks:
            size = session.execute(SUBTREE_SIZE, {"root": user_id}).scalar_one()
            computed = recompute(session, user_id, PERIOD)
            agrees = computed == rollup(session, user_id, PERIOD)
            rollup_latencies, recompute_latencies = time_interleaved(
                lambda u=user_id: rollup_store.read_rollup(session, u, PERIOD),
                lambda u=user_id: recompute(session, u, PERIOD),
                rollup_runs,
                runs,
            )
            figures.append(
                ReadFigures(
                    label,
                    user_id,
                    int(size),
                    computed[1][0] + computed[1][2],
                    rollup_latencies,
                    recompute_latencies,
                    agrees,
                )
            )
        session.rollback()
    return figures


def time_lower_layers(engine: Engine, user_id: str, runs: int) -> tuple[list[float], list[float]]:
    """read_rollup's select without the ORM Session around it: on a Core connection, and as one
    statement on the bare psycopg connection (where the rest of the rollup read's time goes)."""
    c = tables.rollup_totals.c
    statement = select(tables.rollup_totals).where(c.user_id == user_id, c.period_id == PERIOD)
    with engine.connect() as connection:
        core = time_calls(lambda: connection.execute(statement).all(), runs, 200)
        cursor = connection.connection.driver_connection.cursor()
        query = "SELECT * FROM rollup_totals WHERE user_id = %s AND period_id = %s"
        arguments = (user_id, PERIOD)
        raw = time_calls(lambda: cursor.execute(query, arguments).fetchall(), runs, 200)
        connection.rollback()
    return core, raw


def time_grpc(env: dict[str, str], scratch: Path, org: Org, runs: int) -> dict[str, list[float]]:
    api = ServiceHandle("forecasting", {**env, "SALESPLANE_ROLES": "api"}, scratch, starts=100)
    api.start()
    try:
        metadata = [("authorization", f"Bearer {issue_token(DEV_AUTH_SECRET, 'bench', ['admin'])}")]
        found: dict[str, list[float]] = {}
        with grpc.insecure_channel(api.target) as channel:
            stub = forecasting_pb2_grpc.ForecastingServiceStub(channel)
            for label, user_id in (("VP (top)", org.levels[0][0]), ("rep", org.reps[0])):
                request = forecasting_pb2.GetRollupRequest(user_id=user_id, period_id=PERIOD)
                found[label] = time_calls(
                    lambda r=request: stub.GetRollup(r, metadata=metadata, timeout=10), runs, 100
                )
        return found
    finally:
        api.stop()


# ----------------------------------------------------------------------------- in-process profile


class StepTimer:
    """Wall time (and rows handed over) per named step, by wrapping functions; restored afterwards."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.rows: dict[str, int] = defaultdict(int)
        self._restore: list[tuple[object, str, object]] = []

    def wrap(
        self, owner: object, attribute: str, label: str, rows: Callable[[tuple[Any, ...]], int] | None = None
    ) -> None:
        original = getattr(owner, attribute)
        seconds, calls, counted = self.seconds, self.calls, self.rows

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                seconds[label] += time.perf_counter() - started
                calls[label] += 1
                if rows is not None:
                    counted[label] += rows(args)

        self._restore.append((owner, attribute, original))
        setattr(owner, attribute, timed)

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()
        self.rows.clear()

    @contextlib.contextmanager
    def installed(self) -> Iterator[StepTimer]:
        try:
            yield self
        finally:
            for owner, attribute, original in reversed(self._restore):
                setattr(owner, attribute, original)
            self._restore.clear()


POLL = "kafka poll (fetch + record decoding, kafka-python)"
CRC = "CRC-32C of the record batches"
PROCESS = "ConsumerRunner.process (one transaction per batch)"
KAFKA_COMMIT = "kafka offset commit"
# The steps inside ConsumerRunner.process, in the order they run.
INNER_STEPS = [
    "envelope decode (protobuf)",
    "consumed_versions lookup (SQL)",
    "payload unpack (protobuf Any)",
    "deal_of (event -> Deal)",
    "hierarchy lock (SQL)",
    "settings load (SQL)",
    "commit-stage overrides (SQL)",
    "load tracked deals FOR UPDATE (SQL)",
    "Deal.placed (periods, commit stage)",
    "own_deltas (per owner and period)",
    "carry-up: chains (SQL), sums, rollup upsert (SQL)",
    "tracked deals upsert (SQL)",
    "deal history fold (load, fold, save)",
    "consumed_versions upsert (SQL)",
]


@dataclass
class Steps:
    seconds: dict[str, float]
    calls: dict[str, int]
    rows: dict[str, int]
    elapsed: float
    events: int
    batches: int


def fresh_database(postgres: Any, org: Org, name: str) -> Engine:
    engine = make_engine(postgres.create_database(name))
    upgrade_to_head(engine, DEFINITION.migrations, lock_name=DEFINITION.name)
    create_org(engine, org)
    return engine


def in_process_consumer(
    engine: Engine, bootstrap: str, topic: str, group: str, max_batch: int
) -> tuple[ConsumerRunner, KafkaSubscriber]:
    subscriber = KafkaSubscriber(bootstrap, [topic], group_id=group, client_id=f"bench-{group}")
    runner = ConsumerRunner(
        make_session_factory(engine),
        tables.platform,
        subscriber,
        OpportunityRollupHandler("USD"),
        max_batch=max_batch,
    )
    return runner, subscriber


def next_batch(subscriber: KafkaSubscriber, max_batch: int, timeout: float) -> list[Any]:
    """The next non-empty poll, or [] when nothing came within the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = subscriber.poll(max_batch, 0.5)
        if records:
            return records
    return []


def profile_steps(
    postgres: Any, org: Org, bootstrap: str, topic: str, prefix: str, total: int, max_batch: int
) -> Steps:
    """Replay the whole topic in this process, timing every step of every batch (no profiler)."""
    engine = fresh_database(postgres, org, "bench_steps")
    runner, subscriber = in_process_consumer(engine, bootstrap, topic, f"{prefix}steps", max_batch)
    timer = StepTimer()
    inner = iter(INNER_STEPS)
    timer.wrap(subscriber, "poll", POLL)
    timer.wrap(kafka_default_records, "calc_crc32c", CRC)
    timer.wrap(consumer_runner, "decode_envelope", next(inner))
    timer.wrap(runner, "_unseen", next(inner))
    timer.wrap(handler_module, "unpack_payload", next(inner))
    timer.wrap(handler_module, "deal_of", next(inner))
    timer.wrap(hierarchy, "lock_hierarchy", next(inner))
    timer.wrap(settings_store, "load", next(inner))
    timer.wrap(rollup_store, "overrides_of", next(inner))
    timer.wrap(rollup_store, "load_tracked", next(inner))
    timer.wrap(Deal, "placed", next(inner))
    timer.wrap(rollup_use_cases, "own_deltas", next(inner))
    timer.wrap(rollup_store, "carry_up_own_deltas", next(inner), rows=lambda args: len(args[1]))
    timer.wrap(rollup_store, "save_tracked", next(inner), rows=lambda args: len(args[1]))
    timer.wrap(handler_module, "fold_versions", next(inner), rows=lambda args: len(args[1]))
    timer.wrap(runner, "_remember", next(inner), rows=lambda args: len(args[1]))
    timer.wrap(runner, "process", PROCESS)
    timer.wrap(subscriber, "commit", KAFKA_COMMIT)
    consumed = batches = 0
    try:
        with timer.installed():
            records = next_batch(subscriber, max_batch, 60)  # the group join is not timed
            timer.reset()
            started = time.perf_counter()
            while records:
                runner.process(records)
                subscriber.commit(records)
                consumed += len(records)
                batches += 1
                if consumed >= total:
                    break
                records = next_batch(subscriber, max_batch, 30)
            elapsed = time.perf_counter() - started
    finally:
        subscriber.close()
        engine.dispose()
    return Steps(dict(timer.seconds), dict(timer.calls), dict(timer.rows), elapsed, consumed, batches)


def profile_batches(
    postgres: Any, org: Org, bootstrap: str, topic: str, prefix: str, batches: int, max_batch: int
) -> str:
    """cProfile over `batches` polls + batches on another fresh database; the top functions."""
    engine = fresh_database(postgres, org, "bench_cprofile")
    runner, subscriber = in_process_consumer(engine, bootstrap, topic, f"{prefix}cprofile", max_batch)
    profiler = cProfile.Profile()
    profiled = 0
    try:
        records = next_batch(subscriber, max_batch, 60)
        # Skip the first batches: they insert most rollup rows, later ones mostly update them.
        for _ in range(5):
            runner.process(records)
            subscriber.commit(records)
            records = next_batch(subscriber, max_batch, 10)
        for _ in range(batches):
            if not records:
                break
            profiled += len(records)
            profiler.enable()
            runner.process(records)
            subscriber.commit(records)
            records = subscriber.poll(max_batch, 0.5) or next_batch(subscriber, max_batch, 10)
            profiler.disable()
    finally:
        subscriber.close()
        engine.dispose()
    if not profiled:
        return "(no batches left to profile after the warm-up: use more --events)"
    out = io.StringIO()
    out.write(f"{profiled:,} events profiled\n")
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(35)
    return out.getvalue()


@dataclass(frozen=True)
class ScalePoint:
    partitions: int
    consumers: int
    ceiling: float  # raw consume + decode of the same topic, records/s
    result: ConsumeResult
    events: int  # the workload's events after the first committed batch
    matches: bool

    @property
    def rate(self) -> float:
        return self.events / self.result.window_seconds

    @property
    def core_seconds_per_event(self) -> float:
        """Consumers', PostgreSQL's and the broker's CPU per event: what capacity planning needs."""
        r = self.result
        return (r.consumer_cpu + r.postgres_cpu + r.broker_cpu) / self.events


def scale_out(
    options: argparse.Namespace,
    postgres: Any,
    broker: Any,
    org: Org,
    workload: Workload,
    base_env: dict[str, str],
    scratch: Path,
) -> list[ScalePoint]:
    """The same workload consumed by 1, 2, 4 ... forecasting consumer processes of one group, over
    topics of 6 and 12 partitions; each run on a fresh database and a fresh topic (produced before
    the run, as in the main measurement)."""
    points: list[ScalePoint] = []
    for partitions in options.partitions:
        for count in options.consumers:
            prefix = f"bench-{uuid.uuid4().hex[:8]}-p{partitions}c{count}."
            topic = f"{prefix}{OPPORTUNITIES_TOPIC}"
            ensure_topics(broker.bootstrap_servers, [topic], partitions=partitions)
            produce(broker.bootstrap_servers, topic, workload.records)
            ceiling = raw_consume(broker.bootstrap_servers, topic, len(workload.records), 5000, decode=True)
            name = f"bench_scale_p{partitions}_c{count}"
            url = postgres.create_database(name)
            engine = make_engine(url)
            try:
                upgrade_to_head(engine, DEFINITION.migrations, lock_name=DEFINITION.name)
                create_org(engine, org)
                env = {**base_env, "SALESPLANE_DATABASE_URL": url, "SALESPLANE_TOPIC_PREFIX": prefix}
                consumers = [ConsumerProcess(env, scratch / f"{name}-{i}.log") for i in range(count)]
                log(f"scale-out: {count} consumer(s) over {partitions} partitions")
                try:
                    result = run_consumer(
                        consumers,
                        engine,
                        workload,
                        postgres.pid,
                        broker.pid,
                        timeout=max(600.0, options.events / 100),
                    )
                finally:
                    for consumer in consumers:
                        consumer.stop()
                matches = matches_rebuild(engine)[0]
            finally:
                engine.dispose()
            first_events = result.total_events - result.window_events
            points.append(
                ScalePoint(
                    partitions,
                    count,
                    ceiling.per_second,
                    result,
                    int(len(workload.records) - first_events),
                    matches,
                )
            )
    return points


def print_scale_out(points: list[ScalePoint]) -> None:
    print(
        "scale-out (one group; window from the first committed batch of any member to the last deal "
        "applied, joins and rebalances included):"
    )
    print(
        f"  {'partitions':>10} {'consumers':>9} {'events/s':>10} {'x 1 proc':>8} {'/ceiling':>8} "
        f"{'consumer CPU':>12} {'postgres CPU':>12} {'core-us/event':>13}  rebuild"
    )
    single = {p.partitions: p.rate for p in points if p.consumers == 1}
    for p in points:
        r = p.result
        base = single.get(p.partitions)
        print(
            f"  {p.partitions:>10} {p.consumers:>9} {p.rate:>10,.0f} "
            f"{(p.rate / base if base else float('nan')):>8.2f} {p.rate / p.ceiling:>8.2f} "
            f"{r.consumer_cpu / r.window_seconds:>11.0%} {r.postgres_cpu / r.window_seconds:>11.0%} "
            f"{p.core_seconds_per_event * 1e6:>13.0f}  {'equal' if p.matches else 'DIFFERS'}"
        )


# ----------------------------------------------------------------------------- main


def run(options: argparse.Namespace, scratch: Path, stack: contextlib.ExitStack) -> None:
    from salesplane_testing.kafka_broker import KafkaBroker
    from salesplane_testing.postgres_server import PostgresServer

    load_before = os.getloadavg()[0]
    log("starting PostgreSQL and Kafka")
    postgres = stack.enter_context(PostgresServer())
    broker = stack.enter_context(KafkaBroker())
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    topic = f"{prefix}{OPPORTUNITIES_TOPIC}"
    database_url = postgres.create_database("bench_forecasting")
    env = {
        "SALESPLANE_DATABASE_URL": database_url,
        "SALESPLANE_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "SALESPLANE_TOPIC_PREFIX": prefix,
        "SALESPLANE_DATA_DIR": str(scratch),
        "SALESPLANE_LOG_LEVEL": "WARNING",
        "SALESPLANE_SHUTDOWN_GRACE_SECONDS": "5",
    }
    if options.max_batch:
        env["SALESPLANE_CONSUMER_MAX_BATCH"] = str(options.max_batch)
    # What the consumer process will use (the same settings code reads the same variable).
    max_batch = ServiceSettings.from_env(
        DEFINITION.name, default_grpc_port=0, default_metrics_port=0, environ={**os.environ, **env}
    ).consumer_max_batch
    engine = make_engine(database_url)
    stack.callback(engine.dispose)
    upgrade_to_head(engine, DEFINITION.migrations, lock_name=DEFINITION.name)
    org = build_org(options.users)
    create_org(engine, org)
    log(f"organisation: {len(org.rows):,} users, levels {[len(level) for level in org.levels]}")

    deals = min(options.deals, options.events)
    started = time.perf_counter()
    workload = make_workload(org, options.events, deals, options.seed)
    build_seconds = time.perf_counter() - started
    average = sum(len(v) for _, v in workload.records) / len(workload.records)
    log(f"{len(workload.records):,} envelopes built in {build_seconds:.1f} s ({average:.0f} bytes each)")
    # As the service would create it (make_subscriber -> ensure_topics: 6 partitions).
    ensure_topics(broker.bootstrap_servers, [topic])
    produce_seconds = produce(broker.bootstrap_servers, topic, workload.records)
    log(f"produced onto {topic} in {produce_seconds:.1f} s")
    # The ceiling, in this run on this broker: best of two, so a hiccup does not flatter the ratio.
    total = len(workload.records)
    raw_decoded = max(
        (raw_consume(broker.bootstrap_servers, topic, total, max_batch, decode=True) for _ in range(2)),
        key=lambda r: r.per_second,
    )
    raw_plain = max(
        (raw_consume(broker.bootstrap_servers, topic, total, max_batch, decode=False) for _ in range(2)),
        key=lambda r: r.per_second,
    )
    log(
        f"raw kafka-python: {raw_decoded.per_second:,.0f} records/s decoded, "
        f"{raw_plain.per_second:,.0f} plain"
    )

    consumer = ConsumerProcess(env, scratch / "consumer.log")
    stack.callback(consumer.stop)
    log("starting one forecasting process with SALESPLANE_ROLES=consumer")
    consumed = run_consumer(
        [consumer], engine, workload, postgres.pid, broker.pid, timeout=max(600.0, options.events / 200)
    )
    load_during = os.getloadavg()[0]
    consumer.stop()
    log(f"consumed in {consumed.window_seconds:.1f} s; checking")

    applied = newest_versions_applied(engine, workload)
    matches, rollup_count, rebuild_seconds = matches_rebuild(engine)
    log("timing reads")
    reads = time_reads(engine, org, options.reads, options.recompute_runs)
    core_reads, raw_reads = time_lower_layers(engine, org.levels[0][0], options.reads)
    log("timing GetRollup through gRPC")
    grpc_latencies = time_grpc(env, scratch, org, options.grpc_calls)

    points: list[ScalePoint] = []
    if options.scale_out:
        points = scale_out(options, postgres, broker, org, workload, env, scratch)

    steps = None
    profile_text = ""
    if options.profile:
        log(f"replaying the topic in this process (max_batch={max_batch}), timing each step")
        steps = profile_steps(
            postgres, org, broker.bootstrap_servers, topic, prefix, len(workload.records), max_batch
        )
        log(f"cProfile over {options.profile_batches} batches")
        profile_text = profile_batches(
            postgres,
            org,
            broker.bootstrap_servers,
            topic,
            prefix,
            options.profile_batches,
            max_batch,
        )

    levels = " -> ".join(f"{len(level):,}" for level in org.levels)
    rate = consumed.window_events / consumed.window_seconds
    print("backend:            postgresql + kafka (one broker, 6 partitions), all on this machine")
    print(
        f"machine:            {os.cpu_count()} CPUs; load average (1 min) {load_before:.2f} before the run, "
        f"{load_during:.2f} when the consumer finished (anything else running skews these figures)"
    )
    print(f"organisation:       {len(org.rows):,} users, {len(org.levels)} levels ({levels})")
    print(f"events:             {len(workload.records):,} over {deals:,} deals (period read: {PERIOD})")
    print(
        f"consumer:           1 forecasting process (SALESPLANE_ROLES=consumer, "
        f"SALESPLANE_CONSUMER_MAX_BATCH={max_batch}{'' if options.max_batch else ': the default'})"
    )
    print(f"  spawn -> 1st batch {consumed.spawn_to_first_batch:.2f} s (start, migrations check, group join)")
    print(
        f"  throughput:       {rate:,.0f} events/s ({consumed.window_events:,.0f} events in "
        f"{consumed.window_seconds:.2f} s after the first batch; target >= 10,000 and >= 0.5 x the ceiling)"
    )
    ratio = rate / raw_decoded.per_second
    print(
        f"  ceiling:          {raw_decoded.per_second:,.0f} records/s: plain kafka-python reading the same "
        f"topic from this broker and decoding envelope + payload "
        f"({raw_plain.per_second:,.0f} without decoding); "
        f"ratio {ratio:.2f} (target >= 0.5: {'met' if ratio >= 0.5 else 'NOT met'})"
    )
    print(
        f"  consumer RSS:     {consumed.rss_first:.0f} MiB at the first batch, "
        f"peak {consumed.rss_peak:.0f} MiB, {consumed.rss_done:.0f} MiB when done"
    )
    print(
        f"  spawn -> done:    {consumed.spawn_to_done:.2f} s "
        f"({consumed.total_events / consumed.spawn_to_done:,.0f} events/s with the start included)"
    )
    if consumed.batches:
        print(
            f"  batches:          {consumed.batches:,.0f}, {consumed.window_events / consumed.batches:,.0f} "
            f"events each, {consumed.batch_seconds / consumed.batches * 1000:.1f} ms in the batch "
            f"transaction on average ({consumed.batch_seconds / consumed.window_seconds:.0%} of wall time)"
        )
    window = consumed.window_seconds
    print(
        f"  CPU in window:    consumer {consumed.consumer_cpu:.1f} s ({consumed.consumer_cpu / window:.0%}"
        f" of a core, {consumed.consumer_cpu / consumed.window_events * 1e6:.0f} us/event), "
        f"postgres {consumed.postgres_cpu:.1f} s ({consumed.postgres_cpu / window:.0%}), "
        f"kafka {consumed.broker_cpu:.1f} s ({consumed.broker_cpu / window:.0%})"
    )
    print(f"newest versions:    {applied:,}/{deals:,} deals at their newest version")
    print(
        f"rollups match the rebuild: {'yes' if matches else 'no'} ({rollup_count:,} non-zero rows; "
        f"rebuild_rollups took {rebuild_seconds:.2f} s)"
    )
    print(
        f"reads ({options.reads} rollup reads each, one warm connection, in this process, interleaved "
        "with the recompute runs; ratio = recompute / rollup):"
    )
    header = (
        f"  {'user':<20}{'subtree':>8}{'deals':>7}  {'rollup p50':>10} {'p99':>7}  "
        f"{'recompute p50':>13} {'p99':>8} {'n':>4}  {'ratio p50':>9} {'p99':>7}  agrees"
    )
    print(header)
    for r in reads:
        roll50, roll99 = statistics.median(r.rollup) * 1000, percentile(r.rollup, 0.99) * 1000
        re50, re99 = statistics.median(r.recompute) * 1000, percentile(r.recompute, 0.99) * 1000
        print(
            f"  {r.label:<20}{r.subtree:>8,}{r.deals:>7,}  {roll50:>8.3f}ms {roll99:>5.3f}ms  "
            f"{re50:>11.2f}ms {re99:>6.2f}ms {len(r.recompute):>4}  {re50 / roll50:>8.0f}x "
            f"{re99 / roll99:>6.0f}x  {'yes' if r.agrees else 'NO'}"
        )
    top = reads[0]
    top99 = percentile(top.rollup, 0.99) * 1000
    top_ratio = statistics.median(top.recompute) / statistics.median(top.rollup)
    print(
        f"  targets (top):    rollup p99 {top99:.3f} ms (<= 5 ms: {'met' if top99 <= 5 else 'NOT met'}), "
        f"{top_ratio:.0f}x faster than the recompute at p50 "
        f"(>= 50x: {'met' if top_ratio >= 50 else 'NOT met'})"
    )
    print(
        f"  the same select without the ORM Session: Core connection p50 "
        f"{statistics.median(core_reads) * 1000:.3f} ms / p99 {percentile(core_reads, 0.99) * 1000:.3f} ms, "
        f"bare psycopg p50 {statistics.median(raw_reads) * 1000:.3f} ms / "
        f"p99 {percentile(raw_reads, 0.99) * 1000:.3f} ms"
    )
    for label, latencies in grpc_latencies.items():
        print(
            f"gRPC GetRollup {label:<9} p50 {statistics.median(latencies) * 1000:.2f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.2f} ms ({len(latencies)} sequential calls, "
            "API process; 4 queries: rows, currency lines, quota, has-reports)"
        )
    grpc_top = grpc_latencies.get("VP (top)", [])
    bench_results.record(
        "rollups",
        [
            Figure(
                "rollup consumer, one process",
                rate,
                "events/s",
                Target(at_least=10_000, min_ratio=0.5),
                "kafka-python consume + decode",
                raw_decoded.per_second,
            ),
            Figure("rollups unequal to the rebuild (0: equal)", 0 if matches else 1, "", Target(at_most=0)),
            Figure(
                "rollup read p99, VP",
                top99,
                "ms",
                Target(at_most=5),
                "the same select, bare psycopg p99",
                percentile(raw_reads, 0.99) * 1000,
                lower_is_better=True,
            ),
            Figure("recompute / rollup read, VP p50", top_ratio, "x", Target(at_least=50)),
            *(
                [
                    Figure(
                        "gRPC GetRollup p99, VP",
                        percentile(grpc_top, 0.99) * 1000,
                        "ms",
                        lower_is_better=True,
                    )
                ]
                if grpc_top
                else []
            ),
            Figure("consumer RSS at its peak", consumed.rss_peak, "MiB", lower_is_better=True),
            Figure(
                "consumer RSS growth, first batch to done",
                consumed.rss_done - consumed.rss_first,
                "MiB",
                lower_is_better=True,
            ),
            *(
                Figure(
                    f"scale-out: {p.consumers} consumer(s), {p.partitions} partitions",
                    p.rate,
                    "events/s",
                    ceiling_name="kafka-python consume + decode",
                    ceiling=p.ceiling,
                )
                for p in points
            ),
        ],
        notes=[f"{len(workload.records):,} events over {deals:,} deals, {len(org.rows):,} users"],
    )
    if points:
        print_scale_out(points)
    if steps is not None:
        print_steps(steps, max_batch)
        print(f"--- cProfile of {options.profile_batches} batches (after 5 warm-up batches) ---")
        print(profile_text)


def print_steps(steps: Steps, max_batch: int) -> None:
    elapsed = steps.elapsed
    print(
        f"in-process replay:  {steps.events:,} events in {elapsed:.2f} s = "
        f"{steps.events / elapsed:,.0f} events/s ({steps.batches} batches of up to {max_batch}; "
        "step timers, no profiler; the first poll and the group join not counted)"
    )

    def line(label: str, spent: float, indent: int, note: str = "") -> None:
        per_event = spent / steps.events * 1e6
        name = " " * indent + label
        print(f"  {name:<58}{spent:>7.2f} s {spent / elapsed:>4.0%} {per_event:>6.1f} us/event  {note}")

    seconds, calls, rows = steps.seconds, steps.calls, steps.rows
    polls = calls.get(POLL, 0)
    line(POLL, seconds.get(POLL, 0.0), 0, f"{polls:,} polls")
    crc = "C crc32c module" if kafka_util.crc32c_c is not None else "pure Python: no crc32c module"
    line(f"{CRC} ({crc})", seconds.get(CRC, 0.0), 2, f"{calls.get(CRC, 0):,} batches")
    line(PROCESS, seconds.get(PROCESS, 0.0), 0)
    inside = 0.0
    for label in INNER_STEPS:
        inside += seconds.get(label, 0.0)
        note = f"{rows[label] / max(1, calls[label]):,.0f} rows per call" if label in rows else ""
        if not calls.get(label):
            note = "not called"
        line(label, seconds.get(label, 0.0), 2, note)
    line("rest: session, transaction begin/commit, glue", seconds.get(PROCESS, 0.0) - inside, 2)
    line(KAFKA_COMMIT, seconds.get(KAFKA_COMMIT, 0.0), 0)
    outside = seconds.get(POLL, 0.0) + seconds.get(PROCESS, 0.0) + seconds.get(KAFKA_COMMIT, 0.0)
    line("rest of the loop", elapsed - outside, 0)


def main() -> None:
    development_environment()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--deals", type=int, default=50_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--reads", type=int, default=2_000, help="rollup reads per user")
    parser.add_argument("--recompute-runs", type=int, default=50, help="recompute runs for the VP")
    parser.add_argument("--grpc-calls", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--profile", action="store_true", help="replay in-process: step times + cProfile")
    parser.add_argument(
        "--max-batch",
        type=int,
        help="SALESPLANE_CONSUMER_MAX_BATCH (also for --profile); default: the service's",
    )
    parser.add_argument("--profile-batches", type=int, default=30)
    parser.add_argument(
        "--scale-out", action="store_true", help="also consume with several processes over several partitions"
    )
    parser.add_argument("--consumers", type=int, nargs="+", default=[1, 2, 4], help="with --scale-out")
    parser.add_argument("--partitions", type=int, nargs="+", default=[6, 12], help="with --scale-out")
    options = parser.parse_args()
    if options.users < 40:
        parser.error("--users must be at least 40 (six levels)")
    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as stack:
        run(options, Path(scratch), stack)


if __name__ == "__main__":
    main()
