"""What a benchmark measured, beside the ceiling it measured in the same run, kept for `make bench-all`.

Each benchmark prints its own report and also records its headline figures here: the figure, the
ceiling it is compared with (a plain client doing the least the same work needs, measured in the
same run on the same machine), the target, and whether it was met. `bench/summary.py` reads every
benchmark's record and prints the one table. A record is a JSON file per benchmark under
$SALESPLANE_BENCH_RESULTS, else build/bench-results under the directory the benchmark runs from, so
a run of one benchmark replaces only its own lines.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Target:
    """What a figure must reach; every bound given must hold. A ratio is figure / ceiling."""

    at_least: float | None = None
    at_most: float | None = None
    min_ratio: float | None = None

    def met_by(self, value: float, ratio: float | None) -> bool | None:
        if self.at_least is None and self.at_most is None and self.min_ratio is None:
            return None  # a figure printed for reference, with no target
        low = self.at_least is not None and value < self.at_least
        high = self.at_most is not None and value > self.at_most
        short = self.min_ratio is not None and (ratio is None or ratio < self.min_ratio)
        return not (low or high or short)

    def describe(self, unit: str) -> str:
        parts = []
        if self.at_least is not None:
            parts.append(f">= {self.at_least:,.6g} {unit}")
        if self.at_most is not None:
            parts.append(f"<= {self.at_most:,.6g} {unit}")
        if self.min_ratio is not None:
            parts.append(f">= {self.min_ratio:g} x ceiling")
        return ", ".join(parts) or "-"


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    target: Target = field(default_factory=Target)
    ceiling_name: str = ""
    ceiling: float | None = None
    # Latencies and memory: lower is better, so the ratio shown is ceiling / figure instead.
    lower_is_better: bool = False

    @property
    def ratio(self) -> float | None:
        if self.ceiling is None or self.ceiling == 0 or self.value == 0:
            return None
        return self.ceiling / self.value if self.lower_is_better else self.value / self.ceiling

    @property
    def met(self) -> bool | None:
        return self.target.met_by(self.value, self.ratio)


def results_dir() -> Path:
    chosen = os.environ.get("SALESPLANE_BENCH_RESULTS", "").strip()
    target = Path(chosen) if chosen else Path.cwd() / "build" / "bench-results"
    target.mkdir(parents=True, exist_ok=True)
    return target


def record(bench: str, figures: Sequence[Figure], *, notes: Sequence[str] = ()) -> Path:
    """Write this run's figures of `bench` (replacing its previous record) and return the file."""
    document = {
        "bench": bench,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": _commit(),
        "load_average": os.getloadavg()[0],
        "notes": list(notes),
        "figures": [{**asdict(f), "ratio": f.ratio, "met": f.met} for f in figures],
    }
    path = results_dir() / f"{bench}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def load(path: Path) -> tuple[dict[str, object], list[Figure]]:
    document = json.loads(path.read_text())
    figures = [
        Figure(
            name=f["name"],
            value=f["value"],
            unit=f["unit"],
            target=Target(**f["target"]),
            ceiling_name=f["ceiling_name"],
            ceiling=f["ceiling"],
            lower_is_better=f["lower_is_better"],
        )
        for f in document["figures"]
    ]
    return document, figures


def _commit() -> str:
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except OSError:
        return ""
    return found.stdout.strip()
