"""A promtool rule test made from series recorded during a fault (probe_samples.py): the chart's
alert rules evaluated on what Prometheus would have scraped, at the grid's interval.

Values are whole seconds or counts (the ages rounded down), so the expected annotations, which
print the value with humanizeDuration, are exact."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.faults.probe_samples import SERIES, ServiceProbes

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "helm" / "salesplane" / "files" / "prometheus-rules.yaml"


def humanize_duration(seconds: int) -> str:
    """Prometheus' humanizeDuration of a whole number of seconds (template functions, Go)."""
    if seconds < 60:
        return f"{seconds}s"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m {secs}s"
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    return f"{minutes}m {secs}s"


def input_series(job: str, pod: str, probes: ServiceProbes) -> list[dict[str, str]]:
    found = []
    for name in SERIES:
        values = [
            str(int(sample.series[name])) if sample is not None and name in sample.series else "_"
            for sample in probes.samples
        ]
        found.append({"series": f'{name}{{job="{job}", pod="{pod}"}}', "values": " ".join(values)})
    return found


def rule_test(
    interval_s: float, series: list[dict[str, str]], alert_tests: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    interval = f"{int(interval_s * 1000)}ms"
    return {
        "rule_files": [str(RULES)],
        "evaluation_interval": interval,
        "tests": [{"interval": interval, "input_series": series, "alert_rule_test": list(alert_tests)}],
    }


def run_rule_test(promtool: str, test: dict[str, Any], directory: Path) -> str:
    """promtool's verdict; raises with its explanation when an expectation does not hold."""
    path = directory / "recorded_rules_test.yaml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    done = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise AssertionError(f"promtool test rules on the recorded series:\n{done.stdout}{done.stderr}")
    return done.stdout
