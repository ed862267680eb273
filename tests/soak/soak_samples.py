"""What the soak samples every few seconds: calls answered per kind since the last sample, the
latency percentiles of writes and of reads over the same span, the RSS of every process (each
service, the gateway, the Kafka broker, PostgreSQL's postmaster with its backends) and the
consumer lag of every group. One line each as it runs; the whole run as JSON for the notes."""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from salesplane_testing.artefacts import artefacts_dir
from tests.faults.full_stack import CONSUMED, FullStack
from tests.faults.mixed_load import MixedLoad
from tests.soak.process_memory import Memory, memory_of

# How each kind of call is named on a sample's line.
SHORT = {
    "create": "deal+",
    "update": "deal~",
    "create lead": "lead+",
    "qualify lead": "qualify",
    "convert lead": "convert",
    "change user": "user~",
    "save report": "report+",
    "GET /v1/rollups": "GET rollups",
    "GET /v1/opportunities": "GET deals",
    "GET /v1/leads": "GET leads",
    "POST /v1/reports:run": "run report",
}
# Partitions of every topic, as the fault suite's consumer_lag counts them.
PARTITIONS = 6
GROUP_SHORT = {"forecasting": "fc", "opportunities": "opp", "leads": "leads", "reporting": "rep"}
# Every finished soak's figures, printed by the package's conftest at the end of the session.
FINISHED: list[dict[str, Any]] = []


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of all values at or below it."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(frozen=True)
class Latency:
    calls: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        if not seconds:
            return cls(0, math.nan, math.nan, math.nan, math.nan)
        ordered = sorted(s * 1000 for s in seconds)
        p50, p95, p99 = (percentile(ordered, q) for q in (0.5, 0.95, 0.99))
        return cls(len(ordered), p50, p95, p99, ordered[-1])

    def __str__(self) -> str:
        return f"{self.p50_ms:.0f}/{self.p95_ms:.0f}/{self.p99_ms:.0f} ms"


@dataclass(frozen=True)
class Sample:
    elapsed_s: float
    span_s: float
    # acknowledged calls a second since the last sample, by kind
    per_second: dict[str, float]
    refused: dict[str, int]
    writes: Latency
    reads: Latency
    memory: dict[str, Memory | None]
    # records past each group's committed position; None if the broker did not say
    lag: dict[str, int | None]
    sampling_s: float

    def line(self) -> str:
        writes = sum(v for k, v in self.per_second.items() if not _is_read(k))
        reads = sum(v for k, v in self.per_second.items() if _is_read(k))
        rss = " ".join(f"{name} {_mib(m)}" for name, m in self.memory.items())
        lag = " ".join(f"{GROUP_SHORT.get(g, g)} {'?' if n is None else n}" for g, n in self.lag.items())
        order = list(SHORT)
        ranked = sorted(self.per_second.items(), key=lambda kv: order.index(kv[0]) if kv[0] in SHORT else 99)
        kinds = ", ".join(f"{SHORT.get(k, k)} {v:.1f}" for k, v in ranked)
        refused = f" | REFUSED {self.refused}" if self.refused else ""
        return (
            f"soak {self.elapsed_s:5.0f} s | writes {writes:5.1f}/s p50/95/99 {self.writes} | reads "
            f"{reads:5.1f}/s {self.reads} | RSS MiB {rss} | lag {lag}{refused}\n"
            f"           per kind/s: {kinds}"
        )


def _is_read(kind: str) -> bool:
    return kind.startswith(("GET ", "POST "))


def _mib(memory: Memory | None) -> str:
    if memory is None:
        return "gone"
    # Backends share PostgreSQL's buffers, which VmRSS counts in each: its own memory beside it.
    extra = f" (anon {memory.anon_kib / 1024:.0f}, {memory.processes} procs)" if memory.processes > 1 else ""
    return f"{memory.rss_mib:.0f}{extra}"


@dataclass
class Sampler:
    """Takes a sample of the stack under the load; each covers the span since the one before."""

    stack: FullStack
    load: MixedLoad
    began: float = field(default_factory=time.monotonic)
    samples: list[Sample] = field(default_factory=list)
    pids: dict[str, int] = field(default_factory=dict)
    _last: float = 0.0
    _acknowledged: Counter[str] = field(default_factory=Counter)
    _refused: Counter[str] = field(default_factory=Counter)
    # (part, kind) -> how many of its latencies earlier samples took
    _taken: dict[tuple[int, str], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._last = self.began
        for name, handle in self.stack.processes().items():
            process = getattr(handle, "process", None)
            assert process is not None, f"{name} is not running"
            self.pids[name] = process.pid
        broker, postgres = self.stack.broker.pid, self.stack.postgres.pid
        assert broker is not None and postgres is not None
        self.pids |= {"kafka": broker, "postgres": postgres}

    def python_processes(self) -> list[str]:
        return [name for name in self.pids if name not in ("kafka", "postgres")]

    def sample(self) -> Sample:
        now = time.monotonic()
        acknowledged, refused = self.load.acknowledged(), self.load.refused()
        span = now - self._last
        per_second = {k: (n - self._acknowledged[k]) / span for k, n in acknowledged.items()}
        new_refusals = {k: n - self._refused[k] for k, n in refused.items() if n - self._refused[k]}
        self._acknowledged, self._refused, self._last = acknowledged, refused, now
        writes, reads = self._new_latencies()
        memory = memory_of(self.pids)
        lag = group_lags(self.stack)
        taken = Sample(
            elapsed_s=now - self.began,
            span_s=span,
            per_second=per_second,
            refused=new_refusals,
            writes=Latency.of(writes),
            reads=Latency.of(reads),
            memory=memory,
            lag=lag,
            sampling_s=time.monotonic() - now,
        )
        self.samples.append(taken)
        return taken

    def _new_latencies(self) -> tuple[list[float], list[float]]:
        load = self.load
        parts = {
            "writes": [
                load.deals.ledger.latencies,
                *(p.outcomes.latencies for p in (load.leads, load.org, load.reports)),
            ],
            "reads": [load.reads.outcomes.latencies],
        }
        found: dict[str, list[float]] = {"writes": [], "reads": []}
        for side, sources in parts.items():
            for source in sources:
                # list(): the load's threads may add a kind while this reads
                for kind, seconds in list(source.items()):
                    key = (id(source), kind)
                    seen, self._taken[key] = self._taken.get(key, 0), len(seconds)
                    found[side] += seconds[seen : self._taken[key]]
        return found["writes"], found["reads"]

    def rss_series(self, names: Sequence[str]) -> dict[str, list[tuple[float, float]]]:
        return {
            name: [(s.elapsed_s, m.rss_mib) for s in self.samples if (m := s.memory.get(name)) is not None]
            for name in names
        }

    def restarted(self) -> list[str]:
        """Processes whose pid is no longer the one the soak began with (or that are gone)."""
        now = {
            name: getattr(getattr(handle, "process", None), "pid", None)
            for name, handle in self.stack.processes().items()
        }
        now |= {"kafka": self.stack.broker.pid, "postgres": self.stack.postgres.pid}
        gone = [name for name, m in self.samples[-1].memory.items() if m is None] if self.samples else []
        return sorted({n for n, pid in self.pids.items() if now.get(n) != pid} | set(gone))


def group_lags(stack: FullStack) -> dict[str, int | None]:
    """Each group's records past its committed position, as FaultStack.consumer_lag counts them,
    through one admin client and one consumer for all groups: a sample must cost the machine the
    load runs on little. None for a group the broker did not answer for (recovery checks the lag
    at the end)."""
    servers, prefix = stack.broker.bootstrap_servers, stack.prefix
    lags: dict[str, int | None] = dict.fromkeys(CONSUMED)
    try:
        admin = KafkaAdminClient(bootstrap_servers=servers, request_timeout_ms=5000)
        consumer = KafkaConsumer(bootstrap_servers=servers, request_timeout_ms=5000, enable_auto_commit=False)
    except Exception:
        return lags
    try:
        # Positions before ends: a record produced and consumed in between cannot make a lag < 0.
        committed_of = {g: admin.list_group_offsets(f"{prefix}{g}")[f"{prefix}{g}"] for g in CONSUMED}
        read = sorted({t for every in CONSUMED.values() for t in every})
        partitions = [TopicPartition(f"{prefix}{t}", p) for t in read for p in range(PARTITIONS)]
        ends = consumer.end_offsets(partitions)
        for group, topics_read in CONSUMED.items():
            committed = committed_of[group]
            names = {f"{prefix}{t}" for t in topics_read}
            lags[group] = sum(
                end - max(0, committed[tp].offset if tp in committed else 0)
                for tp, end in ends.items()
                if tp.topic in names
            )
    except Exception:
        pass
    finally:
        consumer.close()
        admin.close()
    return lags


def figures(sampler: Sampler, **about: Any) -> dict[str, Any]:
    """The run for the notes: what it was (`about`: seconds, rates, ...), every sample, and the
    whole run's calls by kind with each kind's latency percentiles."""
    load = sampler.load
    run: dict[str, Any] = _json_ready(
        {
            **about,
            "samples": [
                asdict(s) | {"memory": {n: _memory(m) for n, m in s.memory.items()}} for s in sampler.samples
            ],
            "acknowledged": dict(load.acknowledged()),
            "refused": dict(load.refused()),
            "latency_ms": {k: asdict(Latency.of(v)) for k, v in sorted(load.latencies().items())},
        }
    )
    return run


def _memory(memory: Memory | None) -> dict[str, float] | None:
    return None if memory is None else {**asdict(memory), "rss_mib": round(memory.rss_mib, 1)}


def _json_ready(value: Any) -> Any:
    """NaN (a span without calls) as null, floats rounded for reading."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 2)
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


def summary_lines(run: Mapping[str, Any]) -> list[str]:
    """The run as markdown tables: one row a sample, then the memory bound of each process."""
    samples = run["samples"]
    names = list(samples[0]["memory"]) if samples else []
    # Process trees (PostgreSQL) also by their own memory: VmRSS counts shared buffers per backend.
    trees = [n for n in names if (samples[0]["memory"][n] or {}).get("processes", 1) > 1]
    groups = list(samples[0]["lag"]) if samples else []
    lines = [
        f"soak of {run['seconds']:.0f} s, a sample every {run['interval_s']:.0f} s, rates {run['rates']}",
        "| s | writes/s | write p50/p95/p99 ms | reads/s | read p50/p95/p99 ms | "
        + " | ".join([f"{n} MiB" for n in names] + [f"{n} anon MiB" for n in trees])
        + " | "
        + " | ".join(f"lag {g}" for g in groups)
        + " |",
        "|" + "---|" * (5 + len(names) + len(trees) + len(groups)),
    ]
    for s in samples:
        writes = sum(v for k, v in s["per_second"].items() if not _is_read(k))
        reads = sum(v for k, v in s["per_second"].items() if _is_read(k))
        rss = [("gone" if m is None else f"{m['rss_mib']:.0f}") for m in s["memory"].values()]
        rss += [("gone" if (m := s["memory"][n]) is None else f"{m['anon_kib'] / 1024:.0f}") for n in trees]
        lags = ["?" if n is None else str(n) for n in s["lag"].values()]
        lines.append(
            f"| {s['elapsed_s']:.0f} | {writes:.1f} | {_ms(s['writes'])} | {reads:.1f} | {_ms(s['reads'])} | "
            + " | ".join(rss + lags)
            + " |"
        )
    lines += [
        "",
        "| process | RSS MiB after warm-up | middle | end | growth | allowed | 1st half | 2nd half"
        " | allowed 2nd |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, g in run["memory_bound"].items():
        if g is None:
            lines.append(f"| {name} | too few samples | | | | | | | |")
            continue
        lines.append(
            f"| {name} | {g['start']:.1f} | {g['middle']:.1f} | {g['end']:.1f} | {g['total']:+.1f} "
            f"| {g['allowed']:.1f} | {g['first_half']:+.1f} | {g['second_half']:+.1f} "
            f"| {g['allowed_second_half']:.1f} |"
        )
    lines += ["", "| kind | acknowledged | p50 ms | p95 ms | p99 ms | max ms |", "|---|---|---|---|---|---|"]
    for kind, latency in run["latency_ms"].items():
        lines.append(
            f"| {kind} | {run['acknowledged'].get(kind, 0)} | {latency['p50_ms']} | {latency['p95_ms']} "
            f"| {latency['p99_ms']} | {latency['max_ms']} |"
        )
    lines.append(
        f"refused: {run['refused'] or 'none'}; memory problems: {run['memory_problems'] or 'none'}; "
        f"recovered {run.get('recovery_s', '?')} s after the load stopped"
    )
    return lines


def _ms(latency: Mapping[str, Any]) -> str:
    return "/".join(
        "-" if latency[k] is None else f"{latency[k]:.0f}" for k in ("p50_ms", "p95_ms", "p99_ms")
    )


def write_figures(run: Mapping[str, Any]) -> Path:
    """build/test-artefacts/soak/soak-<seconds>s.json: the short and the long form side by side."""
    path = artefacts_dir("soak") / f"soak-{run['seconds']:.0f}s.json"
    path.write_text(json.dumps(run, indent=2) + "\n")
    return path
