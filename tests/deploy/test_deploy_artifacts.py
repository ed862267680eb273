"""Validate the deployment artifacts without a cluster or a Docker daemon.

* Helm chart ``deploy/helm/salesplane``: ``helm lint --strict`` and ``helm template``
  (default values, all optional features on, existing-secret mode) for Kubernetes
  1.30, every rendered manifest validated by ``kubernetes-validate --strict``
  (only CRD kinds it has no schema for, i.e. the Prometheus Operator ServiceMonitor,
  are left out), plus checks of the conventions the services rely on.
* ``docker-compose.yml``: parsed with PyYAML, every service present with a healthcheck.
* Dockerfiles: present, multi-stage, pinned, non-root.

Tools: ``helm`` on PATH or in ``$(go env GOPATH)/bin`` (``tools/install-helm.sh``
installs it), the PyPI packages ``PyYAML`` and ``kubernetes-validate``.
With ``CI=true`` a missing tool fails the test; otherwise the test is skipped.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from salesplane_testing.go_tools import go_tool

pytestmark = pytest.mark.integration

IN_CI = os.environ.get("CI", "").strip().lower() == "true"

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "deploy" / "helm" / "salesplane"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
KUBE_VERSION = "1.30.0"
RELEASE = "salesplane"
NAMESPACE = "salesplane"
TIMEOUT = 300

# gRPC services: name -> (gRPC port, metrics port)
SERVICES = {
    "leads": (50051, 9101),
    "opportunities": (50052, 9102),
    "forecasting": (50053, 9103),
    "reporting": (50054, 9104),
}
GATEWAY_PORT = 8080
DEPLOYABLES = (*SERVICES, "gateway")
DOCKERFILES = {
    **{name: REPO_ROOT / "services" / name / "Dockerfile" for name in SERVICES},
    "gateway": REPO_ROOT / "gateway" / "Dockerfile",
}

# Custom resources kubernetes-validate has no schema for. ONLY these are left out
# of its input; every other rendered kind must be validated.
CRD_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PrometheusRule")}

ALL_FEATURES = [
    "autoscaling.enabled=true",
    "autoscaling.targetMemoryUtilizationPercentage=80",
    "podDisruptionBudget.enabled=true",
    "serviceMonitor.enabled=true",
    "serviceMonitor.labels.release=kube-prometheus-stack",
    "prometheusRule.enabled=true",
    "grafanaDashboard.enabled=true",
    "ingress.enabled=true",
    "ingress.className=nginx",
    "ingress.tls[0].secretName=salesplane-tls",
    "ingress.tls[0].hosts[0]=salesplane.example.com",
    "components.forecasting.split.enabled=true",
    "components.reporting.split.enabled=true",
    "components.leads.roles={api,relay}",
]
ISSUER = "https://id.example.com/realms/sales"
PROVIDER = [f"auth.oidc.issuer={ISSUER}"]
ALL_FEATURES += [*PROVIDER, "auth.oidc.serviceClients={salesplane-leads}"]
EXISTING_SECRET = [
    *PROVIDER,
    "secrets.existingSecret=salesplane-prod",
    "kafka.bootstrapServers=kafka-0.kafka:9092\\,kafka-1.kafka:9092",
]
SCENARIOS = {
    "default": PROVIDER,
    "all-features": ALL_FEATURES,
    "existing-secret": EXISTING_SECRET,
}


# --------------------------------------------------------------------------- helpers


def _unavailable(reason: str) -> None:
    """Fail in CI, skip elsewhere."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: required tools must be installed)", pytrace=False)
    pytest.skip(reason)


def _find_helm() -> str | None:
    return go_tool("helm", env_var="HELM")


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=TIMEOUT, check=False)


def _set_args(values: list[str]) -> list[str]:
    args: list[str] = []
    for value in values:
        args += ["--set", value]
    return args


def _render(helm: str, values: list[str]) -> tuple[str, list[dict]]:
    cmd = [
        helm,
        "template",
        RELEASE,
        str(CHART_DIR),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        KUBE_VERSION,
    ]
    cmd += _set_args(values)
    proc = _run(cmd)
    assert proc.returncode == 0, f"helm template failed:\n{proc.stderr}\n{proc.stdout}"
    docs = [doc for doc in yaml.safe_load_all(proc.stdout) if doc]
    assert docs, "helm template rendered nothing"
    return proc.stdout, docs


def _by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _name(component: str) -> str:
    return f"{RELEASE}-{component}"


def _container(deployment: dict) -> dict:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _env(container: dict) -> dict[str, dict]:
    env: dict[str, dict] = {}
    for entry in container.get("env", []):
        assert entry["name"] not in env, f"duplicate env var {entry['name']}"
        env[entry["name"]] = entry
    return env


def _chart_app_version() -> str:
    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    return str(chart["appVersion"])


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def helm() -> str:
    found = _find_helm()
    if not found:
        _unavailable("helm not found on PATH or in $(go env GOPATH)/bin; run tools/install-helm.sh")
    return found  # type: ignore[return-value]


@pytest.fixture(scope="session")
def kubernetes_validate() -> list[str]:
    if importlib.util.find_spec("kubernetes_validate") is not None:
        return [sys.executable, "-m", "kubernetes_validate"]
    found = shutil.which("kubernetes-validate")
    if found:
        return [found]
    _unavailable("kubernetes-validate is not installed (pip install kubernetes-validate)")
    return []  # unreachable


@pytest.fixture(scope="session")
def rendered(helm: str) -> dict[str, list[dict]]:
    return {name: _render(helm, values)[1] for name, values in SCENARIOS.items()}


# --------------------------------------------------------------------------- helm


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_helm_lint_strict(helm: str, scenario: str) -> None:
    proc = _run(
        [
            helm,
            "lint",
            "--strict",
            "--kube-version",
            KUBE_VERSION,
            str(CHART_DIR),
            *_set_args(SCENARIOS[scenario]),
        ]
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"helm lint --strict failed:\n{output}"
    assert "0 chart(s) failed" in output, output
    assert not re.search(r"^\[(WARNING|ERROR)\]", output, re.MULTILINE), output


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_rendered_manifests_pass_kubernetes_validate(
    helm: str, kubernetes_validate: list[str], scenario: str, tmp_path: Path
) -> None:
    _, docs = _render(helm, SCENARIOS[scenario])
    crds = [d for d in docs if (d.get("apiVersion"), d.get("kind")) in CRD_KINDS]
    builtin = [d for d in docs if (d.get("apiVersion"), d.get("kind")) not in CRD_KINDS]
    assert builtin

    manifest = tmp_path / f"{scenario}.yaml"
    manifest.write_text(yaml.safe_dump_all(builtin, sort_keys=False))
    proc = _run([*kubernetes_validate, "-k", KUBE_VERSION, "--strict", str(manifest)])
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"kubernetes-validate failed:\n{output}"
    # An unknown kind is only a WARN (exit 0) for kubernetes-validate: require a
    # "passed" line for every single resource instead.
    lines = output.splitlines()
    problems = [line for line in lines if line.startswith(("ERROR", "WARN", "FATAL"))]
    assert not problems, "\n".join(problems)
    passed = [line for line in lines if " passed for resource " in line]
    assert len(passed) == len(builtin), output

    # The CRD resources left out get a structural check here instead (the PrometheusRule's rules
    # are checked by promtool in test_monitoring.py).
    for sm in (d for d in crds if d["kind"] == "ServiceMonitor"):
        endpoints = sm["spec"]["endpoints"]
        assert [e["port"] for e in endpoints] == ["metrics"]
        assert sm["spec"]["selector"]["matchLabels"]["salesplane.io/metrics"] == "true"


def test_optional_features_are_off_by_default(rendered: dict[str, list[dict]]) -> None:
    kinds = {d["kind"] for d in rendered["default"]}
    assert kinds == {"ServiceAccount", "Secret", "Service", "Deployment"}, kinds
    assert set(_by_kind(rendered["default"], "Deployment")) == {_name(c) for c in DEPLOYABLES}
    assert set(_by_kind(rendered["default"], "Service")) == {_name(c) for c in DEPLOYABLES}


def test_all_optional_features_render(rendered: dict[str, list[dict]]) -> None:
    docs = rendered["all-features"]
    main = {_name(c) for c in DEPLOYABLES}
    assert set(_by_kind(docs, "HorizontalPodAutoscaler")) == main
    assert set(_by_kind(docs, "PodDisruptionBudget")) == main
    assert len(_by_kind(docs, "ServiceMonitor")) == 1
    sm = next(iter(_by_kind(docs, "ServiceMonitor").values()))
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    ingress = _by_kind(docs, "Ingress")
    assert len(ingress) == 1
    backend = next(iter(ingress.values()))["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert backend["service"] == {"name": _name("gateway"), "port": {"name": "http"}}

    deployments = _by_kind(docs, "Deployment")
    for name, hpa in _by_kind(docs, "HorizontalPodAutoscaler").items():
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert "replicas" not in deployments[name]["spec"], "HPA-managed Deployment sets replicas"
    for name, pdb in _by_kind(docs, "PodDisruptionBudget").items():
        selector = pdb["spec"]["selector"]["matchLabels"]
        assert selector == deployments[name]["spec"]["selector"]["matchLabels"]


def test_split_mode_maps_roles(rendered: dict[str, list[dict]]) -> None:
    deployments = _by_kind(rendered["all-features"], "Deployment")
    services = _by_kind(rendered["all-features"], "Service")

    def roles(name: str) -> str | None:
        entry = _env(_container(deployments[name])).get("SALESPLANE_ROLES")
        return entry["value"] if entry else None

    # forecasting: api + relay + consumer Deployments
    assert roles(_name("forecasting")) == "api"
    assert roles(_name("forecasting-relay")) == "relay"
    assert roles(_name("forecasting-consumer")) == "consumer"
    # reporting: only a consumer worker (it publishes no topic)
    assert roles(_name("reporting")) == "api"
    assert roles(_name("reporting-consumer")) == "consumer"
    assert _name("reporting-relay") not in deployments
    # leads: not split, explicit roles
    assert roles(_name("leads")) == "api,relay"
    # opportunities: defaults (no SALESPLANE_ROLES = all roles)
    assert roles(_name("opportunities")) is None

    # The API Service must not select worker pods; workers get metrics-only Services and,
    # serving no gRPC, HTTP probes on the metrics port.
    api_selector = services[_name("forecasting")]["spec"]["selector"]
    for worker in ("forecasting-relay", "forecasting-consumer", "reporting-consumer"):
        pod_labels = deployments[_name(worker)]["spec"]["template"]["metadata"]["labels"]
        assert not api_selector.items() <= pod_labels.items()
        ports = [p["name"] for p in services[_name(worker)]["spec"]["ports"]]
        assert ports == ["metrics"]
        container = _container(deployments[_name(worker)])
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["port"] == "metrics", probe
        # Liveness is about being stuck only; readiness also about the database and Kafka.
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for api in ("forecasting", "reporting"):
        container = _container(deployments[_name(api)])
        assert container["readinessProbe"]["grpc"]["port"] == SERVICES[api][0]


def test_workloads_follow_conventions(rendered: dict[str, list[dict]]) -> None:
    docs = rendered["default"]
    deployments = _by_kind(docs, "Deployment")
    services = _by_kind(docs, "Service")
    secret = next(iter(_by_kind(docs, "Secret").values()))
    app_version = _chart_app_version()

    for component in DEPLOYABLES:
        deployment = deployments[_name(component)]
        pod = deployment["spec"]["template"]["spec"]
        container = _container(deployment)
        env = _env(container)

        assert container["image"].endswith(f"/salesplane-{component}:{app_version}")

        # security context
        psc = pod["securityContext"]
        assert psc["runAsNonRoot"] is True
        assert psc["runAsUser"] == 10001
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
        csc = container["securityContext"]
        assert csc["runAsNonRoot"] is True
        assert csc["runAsUser"] == 10001
        assert csc["readOnlyRootFilesystem"] is True
        assert csc["allowPrivilegeEscalation"] is False
        assert csc["capabilities"]["drop"] == ["ALL"]
        assert csc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
        tmp = next(v for v in pod["volumes"] if v["name"] == "tmp")
        assert "emptyDir" in tmp

        # graceful shutdown
        grace = int(env["SALESPLANE_SHUTDOWN_GRACE_SECONDS"]["value"])
        assert pod["terminationGracePeriodSeconds"] > grace
        assert pod["enableServiceLinks"] is False

        # tokens verified by the provider's keys; no shared secret deployed outside development
        assert env["SALESPLANE_OIDC_ISSUER"]["value"] == ISSUER
        assert env["SALESPLANE_OIDC_AUDIENCE"]["value"] == "salesplane"
        assert env["SALESPLANE_OIDC_ALGORITHMS"]["value"] == "RS256,ES256"
        assert "SALESPLANE_AUTH_SECRET" not in env
        assert "auth-secret" not in secret["data"]
        assert env["SALESPLANE_SERVICE_NAME"]["value"] == component
        assert env["SALESPLANE_ENV"]["value"] not in ("dev", "development")

        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        service_ports = {p["name"]: p for p in services[_name(component)]["spec"]["ports"]}
        if component == "gateway":
            assert ports == {"http": GATEWAY_PORT, "metrics": 9100}
            assert env["SALESPLANE_GATEWAY_PORT"]["value"] == str(GATEWAY_PORT)
            assert env["SALESPLANE_GATEWAY_METRICS_PORT"]["value"] == "9100"
            assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
            assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
            for target, (grpc_port, _) in SERVICES.items():
                assert env[f"SALESPLANE_{target.upper()}_TARGET"]["value"] == f"{_name(target)}:{grpc_port}"
            assert set(service_ports) == {"http", "metrics"}
            # The ServiceMonitor selects it like the services, by this label and the metrics port.
            assert services[_name(component)]["metadata"]["labels"]["salesplane.io/metrics"] == "true"
            continue

        grpc_port, metrics_port = SERVICES[component]
        assert ports == {"grpc": grpc_port, "metrics": metrics_port}
        assert env["SALESPLANE_GRPC_PORT"]["value"] == str(grpc_port)
        assert env["SALESPLANE_METRICS_PORT"]["value"] == str(metrics_port)
        assert env["SALESPLANE_KAFKA_BOOTSTRAP_SERVERS"]["value"]
        # Static group membership keyed by the pod's name.
        assert env["SALESPLANE_CONSUMER_INSTANCE_ID"]["valueFrom"] == {
            "fieldRef": {"fieldPath": "metadata.name"}
        }
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["grpc"]["port"] == grpc_port, probe
        # A dependency outage must not restart pods: liveness asks the "liveness" health service.
        assert container["livenessProbe"]["grpc"]["service"] == "liveness"
        assert container["readinessProbe"]["grpc"].get("service", "") == ""
        db = env["SALESPLANE_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
        assert db == {"name": secret["metadata"]["name"], "key": f"{component}-database-url"}
        assert db["key"] in secret["data"]
        assert service_ports["grpc"]["port"] == grpc_port
        assert service_ports["metrics"]["port"] == metrics_port
        labels = services[_name(component)]["metadata"]["labels"]
        assert labels["salesplane.io/metrics"] == "true"
        for key in ("name", "instance", "component", "managed-by"):
            assert f"app.kubernetes.io/{key}" in labels


def test_existing_secret_mode(rendered: dict[str, list[dict]]) -> None:
    docs = rendered["existing-secret"]
    assert not _by_kind(docs, "Secret"), "chart must not create a Secret when existingSecret is set"
    for deployment in _by_kind(docs, "Deployment").values():
        env = _env(_container(deployment))
        refs = [
            e["valueFrom"]["secretKeyRef"] for e in env.values() if "secretKeyRef" in e.get("valueFrom", {})
        ]
        assert all(r["name"] == "salesplane-prod" for r in refs)
        if "SALESPLANE_GRPC_PORT" in env:
            assert refs, "a gRPC component reads its database URL from the existing Secret"
        if "SALESPLANE_KAFKA_BOOTSTRAP_SERVERS" in env:
            assert (
                env["SALESPLANE_KAFKA_BOOTSTRAP_SERVERS"]["value"] == "kafka-0.kafka:9092,kafka-1.kafka:9092"
            )


def test_without_a_provider_the_chart_refuses_to_render_outside_development(helm: str) -> None:
    proc = subprocess.run(
        [helm, "template", RELEASE, str(CHART_DIR), "--kube-version", KUBE_VERSION],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert proc.returncode != 0
    assert "auth.oidc.issuer is required" in proc.stderr


def test_development_deploys_the_development_secret_and_no_provider(helm: str) -> None:
    _, docs = _render(helm, ["config.environment=development"])
    secret = next(iter(_by_kind(docs, "Secret").values()))
    assert "auth-secret" in secret["data"]
    for deployment in _by_kind(docs, "Deployment").values():
        env = _env(_container(deployment))
        assert env["SALESPLANE_AUTH_SECRET"]["valueFrom"]["secretKeyRef"]["key"] == "auth-secret"
        assert "SALESPLANE_OIDC_ISSUER" not in env


# --------------------------------------------------------------------------- compose


def test_docker_compose_stack() -> None:
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    services = compose["services"]

    for name in ("postgres", "kafka", *DEPLOYABLES):
        assert name in services, f"docker-compose.yml lacks service {name!r}"
        healthcheck = services[name].get("healthcheck")
        assert healthcheck and healthcheck.get("test"), f"{name} has no healthcheck"

    assert str(services["postgres"]["image"]).startswith("postgres:15")
    assert services["kafka"]["image"] == "apache/kafka:4.0.1"
    assert "broker,controller" in str(services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"])

    init_scripts = [
        v.split(":")[0] for v in services["postgres"].get("volumes", []) if "docker-entrypoint-initdb.d" in v
    ]
    assert init_scripts, "postgres has no init script mounted"
    for script in init_scripts:
        path = (REPO_ROOT / script).resolve()
        assert path.is_file() and path.is_relative_to(REPO_ROOT / "deploy" / "compose"), script

    for name in DEPLOYABLES:
        service = services[name]
        build = service["build"]
        assert build["context"] == "."
        assert (REPO_ROOT / build["dockerfile"]).resolve() == DOCKERFILES[name].resolve()
        depends_on = service["depends_on"]
        assert isinstance(depends_on, dict) and all("condition" in d for d in depends_on.values())
        env = service["environment"]
        assert env["SALESPLANE_SERVICE_NAME"] == name
        assert env["SALESPLANE_AUTH_SECRET"]
        if name == "gateway":
            assert str(env["SALESPLANE_GATEWAY_PORT"]) == str(GATEWAY_PORT)
            for target, (grpc_port, _) in SERVICES.items():
                assert env[f"SALESPLANE_{target.upper()}_TARGET"] == f"{target}:{grpc_port}"
                assert depends_on[target]["condition"] == "service_healthy"
            continue
        grpc_port, metrics_port = SERVICES[name]
        assert str(env["SALESPLANE_GRPC_PORT"]) == str(grpc_port)
        assert str(env["SALESPLANE_METRICS_PORT"]) == str(metrics_port)
        assert env["SALESPLANE_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert env["SALESPLANE_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert env["SALESPLANE_DATABASE_URL"].endswith(f"@postgres:5432/{name}")
        assert depends_on["postgres"]["condition"] == "service_healthy"
        assert depends_on["kafka"]["condition"] == "service_healthy"


# --------------------------------------------------------------------------- Dockerfiles


def _stages(dockerfile: str) -> list[list[str]]:
    """Instructions (continuation lines joined, comments dropped) grouped by stage."""
    logical: list[str] = []
    current = ""
    for raw in dockerfile.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    stages: list[list[str]] = []
    for instruction in logical:
        if instruction.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


@pytest.mark.parametrize("component", DEPLOYABLES)
def test_dockerfile(component: str) -> None:
    path = DOCKERFILES[component]
    assert path.is_file(), f"missing {path.relative_to(REPO_ROOT)}"
    text = path.read_text()
    stages = _stages(text)
    assert len(stages) >= 2, "expected a multi-stage build"
    assert "python:3.11-slim-bookworm" in text
    assert re.search(r"uv==\$\{UV_VERSION\}|uv==0\.13\.9", text)
    assert "UV_VERSION=0.13.9" in text or "uv==0.13.9" in text
    assert f"--package salesplane-{component}" in text
    assert "--frozen" in text

    runtime = stages[-1]
    users = [i.split(None, 1)[1].strip() for i in runtime if i.upper().startswith("USER ")]
    assert users, "final stage has no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), f"final stage runs as {users[-1]}"
    assert user == "10001"
    assert any(i.startswith("COPY --from=builder /opt/venv") for i in runtime)
    env = " ".join(i for i in runtime if i.upper().startswith("ENV "))
    assert "PYTHONUNBUFFERED=1" in env and "PYTHONDONTWRITEBYTECODE=1" in env
    entrypoints = [i for i in runtime if i.upper().startswith("ENTRYPOINT ")]
    assert entrypoints and entrypoints[-1] == f'ENTRYPOINT ["salesplane-{component}"]'
    assert any(i.upper().startswith("EXPOSE ") for i in runtime)


def test_dockerignore_and_install_script() -> None:
    dockerignore = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    assert ".git" in dockerignore
    # Workspace members must stay in the build context for `uv sync --frozen`.
    for member in ("contracts", "libs", "services", "gateway", "uv.lock", "pyproject.toml"):
        assert member not in dockerignore
    script = REPO_ROOT / "tools" / "install-helm.sh"
    assert script.is_file() and os.access(script, os.X_OK)
    if shutil.which("bash"):
        proc = _run(["bash", "-n", str(script)])
        assert proc.returncode == 0, proc.stderr


def test_forecasting_reaches_leads_and_opportunities_and_services_get_their_own_clients(helm: str) -> None:
    _, docs = _render(
        helm,
        [
            *PROVIDER,
            "components.leads.serviceClient.clientId=salesplane-leads",
            "components.leads.serviceClient.secretName=leads-oidc-client",
            "components.forecasting.serviceClient.clientId=salesplane-forecasting",
            "components.forecasting.serviceClient.secretName=forecasting-oidc-client",
        ],
    )
    deployments = _by_kind(docs, "Deployment")
    forecasting = _env(_container(deployments[_name("forecasting")]))
    leads = _env(_container(deployments[_name("leads")]))
    opportunities = _env(_container(deployments[_name("opportunities")]))

    assert forecasting["SALESPLANE_LEADS_TARGET"]["value"] == f"{_name('leads')}:50051"
    assert forecasting["SALESPLANE_OPPORTUNITIES_TARGET"]["value"] == f"{_name('opportunities')}:50052"
    assert forecasting["SALESPLANE_OIDC_CLIENT_ID"]["value"] == "salesplane-forecasting"
    assert forecasting["SALESPLANE_OIDC_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"] == {
        "name": "forecasting-oidc-client",
        "key": "client-secret",
    }
    assert leads["SALESPLANE_OIDC_CLIENT_ID"]["value"] == "salesplane-leads"
    # Every service knows both clients as the services they are; only the callers hold a client.
    for env in (forecasting, leads, opportunities):
        assert env["SALESPLANE_OIDC_SERVICE_CLIENTS"]["value"] == (
            "salesplane-forecasting=forecasting,salesplane-leads=leads"
        )
    assert "SALESPLANE_OIDC_CLIENT_ID" not in opportunities
    assert "SALESPLANE_AUTH_SECRET" not in forecasting


def test_a_service_client_needs_its_secret(helm: str) -> None:
    proc = _run(
        [
            helm,
            "template",
            RELEASE,
            str(CHART_DIR),
            "--kube-version",
            KUBE_VERSION,
            *_set_args([*PROVIDER, "components.leads.serviceClient.clientId=salesplane-leads"]),
        ]
    )
    assert proc.returncode != 0
    assert "components.leads.serviceClient.secretName is required" in proc.stderr


def test_tracing_is_off_unless_an_endpoint_is_set_and_then_on_in_every_component(helm: str) -> None:
    _, off = _render(helm, PROVIDER)
    for deployment in _by_kind(off, "Deployment").values():
        assert not [name for name in _env(_container(deployment)) if name.startswith("OTEL_")]

    _, on = _render(
        helm,
        [
            *PROVIDER,
            "tracing.otlpEndpoint=http://otel-collector.observability:4318",
            "tracing.sampleRatio=0.25",
            "components.forecasting.split.enabled=true",
        ],
    )
    deployments = _by_kind(on, "Deployment")
    for component in ("leads", "opportunities", "forecasting", "forecasting-relay", "reporting", "gateway"):
        env = _env(_container(deployments[_name(component)]))
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://otel-collector.observability:4318"
        # A split component's workers are the same service, told apart by their instance ids.
        assert env["OTEL_SERVICE_NAME"]["value"] == component.removesuffix("-relay")
        assert env["OTEL_TRACES_SAMPLER"]["value"] == "parentbased_traceidratio"
        assert env["OTEL_TRACES_SAMPLER_ARG"]["value"] == "0.25"
