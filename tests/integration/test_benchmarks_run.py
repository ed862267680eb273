"""Every benchmark still runs: each script in its smallest form as a process, as `make bench-all`
runs it, must exit 0 and leave its record with at least one measured figure.

Benchmarks are not run by any other test, so a change elsewhere (a setting a service now refuses
to start without, a rule the seeded data no longer meets) broke two of them unnoticed once. Only
that they run is checked here: no figure is compared with anything, no timing is asserted.

The whole module takes about 3.5 minutes on the 2-core development machine under other load
(3 min 38 s measured): the gateway benchmark about 75 s (five runs of wrk, the services started on
PostgreSQL and Kafka), the console's 45 s (the demo organisation loaded through the gateway), the
rollups' 30 s, each other under 25 s; most of it is starting PostgreSQL, Kafka and the services.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
# Far above a small run's minute, below pytest's own timeout: a hung benchmark fails with its output.
RUN_TIMEOUT_SECONDS = 540


@dataclass(frozen=True)
class Bench:
    script: str
    record: str  # the name it records its figures under (bench_results.record)
    arguments: str  # the smallest run it accepts


BENCHES = (
    Bench("opportunity_writes.py", "writes", "--updates 200 --deals 20 --replicas 1 --concurrency 2"),
    Bench(
        "forecast_rollups.py",
        "rollups",
        "--events 4000 --deals 1000 --users 200 --reads 50 --recompute-runs 3 --grpc-calls 20",
    ),
    Bench("console_pages.py", "console", "--runs 1"),
    Bench(
        "reporting_queries.py",
        "reporting",
        "--users 40 --deals 100 --versions 200 --runs 2 --warmups 0 --events 100 --ingest-deals 20 "
        "--batch 50 --explain none",
    ),
    Bench("attribution.py", "attribution", "--users 12 --deals 50 --touches 200 --campaigns 5 --runs 1"),
    Bench(
        "inspection.py",
        "inspection",
        "--users 40 --events 400 --deals 100 --runs 1 --vp-runs 1 --warmup 0",
    ),
    Bench("probabilistic_forecast.py", "probabilistic", "--deals 200 --repeat 1"),
    Bench(
        "gateway_reads.py",
        "gateway",
        "--seconds 1 --connections 2 --threads 1 --reps 2 --deals-per-rep 25",
    ),
)


def run_bench(bench: Bench, results: Path) -> subprocess.CompletedProcess[str]:
    # From the repository root, as `make` runs it; the record goes to this test's directory.
    environment = {**os.environ, "SALESPLANE_BENCH_RESULTS": str(results)}
    return subprocess.run(
        [sys.executable, str(BENCH / bench.script), *bench.arguments.split()],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )


def output_tail(finished: subprocess.CompletedProcess[str], lines: int = 60) -> str:
    text = finished.stdout + "\n--- stderr ---\n" + finished.stderr
    return "\n".join(text.splitlines()[-lines:])


@pytest.mark.parametrize(
    "bench",
    [
        pytest.param(
            b,
            id=b.script,
            # The gateway's benchmark arrived after the others; until it is in the tree it is skipped.
            marks=pytest.mark.skipif(not (BENCH / b.script).exists(), reason=f"no bench/{b.script}"),
        )
        for b in BENCHES
    ],
)
def test_the_benchmark_runs_and_records_a_measured_figure(bench: Bench, tmp_path: Path) -> None:
    finished = run_bench(bench, tmp_path)

    assert finished.returncode == 0, (
        f"bench/{bench.script} exited {finished.returncode}:\n{output_tail(finished)}"
    )
    record = tmp_path / f"{bench.record}.json"
    assert record.exists(), f"no {record.name} among {sorted(p.name for p in tmp_path.iterdir())}"
    figures = json.loads(record.read_text())["figures"]
    assert any(f["value"] > 0 for f in figures), figures


def test_every_benchmark_script_is_run_here() -> None:
    """A new benchmark joins this module (and `make bench-all`), or it may rot unnoticed too."""
    scripts = {p.name for p in BENCH.glob("*.py")} - {"summary.py"}

    assert scripts <= {b.script for b in BENCHES}


def test_the_summary_tables_every_record_and_exits_0_with_a_target_missed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from salesplane_testing import bench_results

    monkeypatch.setenv("SALESPLANE_BENCH_RESULTS", str(tmp_path))
    missed = bench_results.Figure(
        "updates", 900.0, "calls/s", bench_results.Target(at_least=1_500), "health Check", 3_000.0
    )
    bench_results.record("writes", [missed], notes=["a note"])
    (tmp_path / "broken.json").write_text("{")

    finished = subprocess.run(
        [sys.executable, str(BENCH / "summary.py"), "--results", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert finished.returncode == 0, output_tail(finished)
    markdown = (tmp_path / "summary.md").read_text()
    assert (
        "| writes | updates | 900 calls/s | health Check: 3,000 calls/s | 0.30 | >= 1,500 calls/s | NO |"
        in markdown
    )
    assert "writes: a note" in markdown and "unreadable record broken.json" in markdown
