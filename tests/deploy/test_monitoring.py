"""What SREs get with the chart: alert rules tested with promtool on recorded series, a dashboard
whose every query is valid PromQL, and the chart's PrometheusRule and dashboard ConfigMap."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from salesplane_testing.go_tools import go_tool
from tests.deploy.test_deploy_artifacts import _find_helm

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "salesplane"
RULES = CHART / "files" / "prometheus-rules.yaml"
DASHBOARD = CHART / "files" / "grafana-dashboard.json"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _builder() -> ModuleType:
    # tools/ is scripts, not a package: load the dashboard builder from its file.
    spec = importlib.util.spec_from_file_location(
        "build_dashboard", ROOT / "tools/grafana/build_dashboard.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_dashboard = _builder()


@pytest.fixture(scope="session")
def promtool() -> str:
    found = go_tool("promtool")
    if not found:
        reason = "promtool not found; run tools/install-promtool.sh"
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: required tools must be installed)", pytrace=False)
        pytest.skip(reason)
    return found


@pytest.fixture(scope="session")
def helm() -> str:
    found = _find_helm()
    if not found:
        pytest.skip("helm not found; run tools/install-helm.sh")  # test_deploy_artifacts fails in CI
    return found


def run(command: list[str], cwd: Path = ROOT) -> str:
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_rules_are_valid(promtool: str) -> None:
    run([promtool, "check", "rules", str(RULES)])


def test_the_alerts_fire_on_recorded_outages_and_stay_quiet_otherwise(promtool: str) -> None:
    # A broker stop of 60 s, a burst of INTERNAL errors, a stalled consumer, a poison record.
    run([promtool, "test", "rules", "rules_test.yaml"], cwd=ROOT / "tests" / "deploy" / "prometheus")


def test_every_dashboard_query_is_valid_promql(promtool: str, tmp_path: Path) -> None:
    # promtool checks PromQL as part of a rule file: each query becomes a recording rule.
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{n}", "expr": expr.replace("$job", ".*")}
                    for n, expr in enumerate(build_dashboard.expressions())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.yaml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    run([promtool, "check", "rules", str(path)])


def test_the_committed_dashboard_is_what_the_builder_makes() -> None:
    assert DASHBOARD.read_text(encoding="utf-8") == build_dashboard.render(), (
        "run .venv/bin/python tools/grafana/build_dashboard.py"
    )
    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    assert {p["title"] for p in panels if p["type"] == "row"} == {
        "HTTP edge (gateway)",
        "gRPC services",
        "Events",
        "Health",
    }


def test_the_chart_ships_the_rules_and_the_dashboard_when_asked(helm: str) -> None:
    rendered = run(
        [
            helm,
            "template",
            "salesplane",
            str(CHART),
            "--kube-version",
            "1.30.0",
            "--set",
            "prometheusRule.enabled=true",
            "--set",
            "grafanaDashboard.enabled=true",
            "--set",
            "auth.oidc.issuer=https://id.example.com/realms/sales",
        ]
    )
    documents = [d for d in yaml.safe_load_all(rendered) if d]
    (rule,) = [d for d in documents if d["kind"] == "PrometheusRule"]
    assert rule["spec"] == yaml.safe_load(RULES.read_text(encoding="utf-8"))
    (config_map,) = [d for d in documents if d["kind"] == "ConfigMap" and "salesplane.json" in d["data"]]
    assert json.loads(config_map["data"]["salesplane.json"]) == json.loads(DASHBOARD.read_text())
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
