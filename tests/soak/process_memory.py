"""Resident memory of a process and of every process it started, read from /proc (the venv has no
psutil): a service or the gateway is one process, the Kafka broker one JVM, PostgreSQL a postmaster
with a backend per connection and its auxiliary processes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Memory:
    """One process tree at one moment. `rss_kib` sums VmRSS, as `ps` shows it: for PostgreSQL it
    counts the shared buffers once in every backend that touched them, so `anon_kib` (RssAnon,
    memory no other process shares) is kept beside it."""

    rss_kib: int
    anon_kib: int
    processes: int
    threads: int

    @property
    def rss_mib(self) -> float:
        return self.rss_kib / 1024


def _status(pid: int) -> dict[str, str]:
    try:
        lines = (PROC / str(pid) / "status").read_text().splitlines()
    except OSError:  # gone between the listing and the read
        return {}
    return dict(line.split(":", 1) for line in lines if ":" in line)


def _kib(status: Mapping[str, str], key: str) -> int:
    value = status.get(key, "0 kB").split()
    return int(value[0]) if value else 0


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process now running."""
    parents: dict[int, int] = {}
    for entry in os.scandir(PROC):
        if not entry.name.isdigit():
            continue
        try:
            stat = (PROC / entry.name / "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces and parentheses: the fields after the last
        # ")" are fixed, state first and then the parent's pid.
        fields = stat.rsplit(")", 1)[1].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def _tree(root: int, children: Mapping[int, list[int]]) -> list[int]:
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def memory_of(roots: Mapping[str, int]) -> dict[str, Memory | None]:
    """Each named root's tree, from one walk of /proc; None for a root that is not running."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    measured: dict[str, Memory | None] = {}
    for name, root in roots.items():
        statuses = [s for s in (_status(pid) for pid in _tree(root, children)) if s]
        if not statuses:
            measured[name] = None
            continue
        measured[name] = Memory(
            rss_kib=sum(_kib(s, "VmRSS") for s in statuses),
            anon_kib=sum(_kib(s, "RssAnon") for s in statuses),
            processes=len(statuses),
            threads=sum(int(s.get("Threads", "0").strip() or 0) for s in statuses),
        )
    return measured
