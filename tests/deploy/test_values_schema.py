"""The chart's values.schema.json: a typo'd or mistyped value is refused by Helm, the schema is what
the builder makes of values.yaml, and values.yaml sets nothing the templates do not read."""

from __future__ import annotations

import functools
import importlib.util
import re
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from tests.deploy.test_deploy_artifacts import _find_helm

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "salesplane"
PROVIDER = ["--set", "auth.oidc.issuer=https://id.example.com/realms/sales"]


@functools.cache
def _builder() -> ModuleType:
    path = ROOT / "tools" / "helm" / "build_values_schema.py"
    spec = importlib.util.spec_from_file_location("build_values_schema", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def helm() -> str:
    found = _find_helm()
    if not found:
        pytest.skip("helm not found; run tools/install-helm.sh")  # test_deploy_artifacts fails in CI
    return found


def template(helm: str, *settings: str) -> subprocess.CompletedProcess[str]:
    args = [a for setting in settings for a in ("--set", setting)]
    return subprocess.run(
        [helm, "template", "salesplane", str(CHART), "--kube-version", "1.30.0", *PROVIDER, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_committed_schema_is_what_the_builder_makes() -> None:
    assert (CHART / "values.schema.json").read_text(encoding="utf-8") == _builder().render(), (
        "run .venv/bin/python tools/helm/build_values_schema.py"
    )


@pytest.mark.parametrize(
    ("setting", "complaint"),
    [
        ("serviceMonitor.enabeld=true", "enabeld"),  # a typo'd key
        ("components.leads.replicaCount=two", "replicaCount"),  # a string for an integer
        ("components.gateway.edge.rateLimit.burst=1.5", "burst"),  # a fraction for an integer
        ("ingress.enabled=yes", "enabled"),  # a string for a boolean
        ("components.billing.enabled=true", "billing"),  # a component that does not exist
    ],
)
def test_a_typod_or_mistyped_value_is_refused(helm: str, setting: str, complaint: str) -> None:
    rendered = template(helm, setting)
    assert rendered.returncode != 0, f"{setting} rendered"
    assert "values don't meet the specifications of the schema" in rendered.stderr
    assert complaint in rendered.stderr


def test_free_form_maps_and_well_typed_values_are_accepted(helm: str) -> None:
    rendered = template(
        helm,
        "config.env.SALESPLANE_LOG_LEVEL=DEBUG",
        "podLabels.team=sales-ops",
        "components.gateway.edge.rateLimit.perSecond=2.5",
        "components.leads.resources.limits.memory=512Mi",
        "components.forecasting.serviceClient.clientId=salesplane-forecasting",
        "components.forecasting.serviceClient.secretName=forecasting-client",
    )
    assert rendered.returncode == 0, rendered.stderr


def _leaf_keys(values: object, path: str = "") -> list[str]:
    generic = re.sub(r"^components\.\w+", "components.*", path)
    if not isinstance(values, dict) or not values or _builder().is_open(generic):
        return [path]
    return [
        leaf for key, item in values.items() for leaf in _leaf_keys(item, f"{path}.{key}" if path else key)
    ]


def test_every_value_is_read_by_a_template() -> None:
    templates = "\n".join(p.read_text(encoding="utf-8") for p in (CHART / "templates").iterdir())
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    dead = [
        path
        for path in _leaf_keys(values)
        # Read as .key, or as "key" through index / a loop over a list of names.
        if not re.search(
            rf'\.{re.escape(path.rsplit(".", 1)[-1])}\b|"{re.escape(path.rsplit(".", 1)[-1])}"', templates
        )
    ]
    assert dead == []


def gateway_env(helm: str, *settings: str) -> dict[str, dict[str, object]]:
    rendered = template(helm, *settings)
    assert rendered.returncode == 0, rendered.stderr
    (gateway,) = [
        d
        for d in yaml.safe_load_all(rendered.stdout)
        if d and d["kind"] == "Deployment" and d["metadata"]["name"].endswith("gateway")
    ]
    return {e["name"]: e for e in gateway["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_the_browser_login_reads_its_client_secret_and_session_keys_from_a_secret(helm: str) -> None:
    login = [
        "components.gateway.browserLogin.clientId=salesplane-console",
        "components.gateway.browserLogin.publicUrl=https://sales.example.com",
        "components.gateway.browserLogin.secretName=gateway-login",
    ]
    env = gateway_env(helm, *login)
    assert env["SALESPLANE_OIDC_CLIENT_ID"]["value"] == "salesplane-console"
    assert env["SALESPLANE_GATEWAY_PUBLIC_URL"]["value"] == "https://sales.example.com"
    assert env["SALESPLANE_OIDC_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"] == {
        "name": "gateway-login",
        "key": "client-secret",
    }
    assert env["SALESPLANE_GATEWAY_SESSION_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "gateway-login",
        "key": "session-keys",
    }
    # Off by default; and a client without the Secret is refused rather than a gateway that cannot start.
    assert not {"SALESPLANE_OIDC_CLIENT_ID", "SALESPLANE_GATEWAY_SESSION_KEY"} & set(gateway_env(helm))
    refused = template(helm, *login[:2])
    assert refused.returncode != 0 and "browserLogin.secretName is required" in refused.stderr
