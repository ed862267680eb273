"""Build the chart's values.schema.json from values.yaml, so that Helm refuses a typo'd or
mistyped value instead of rendering it silently.

Every object of values.yaml is closed (an unknown key is an error) except the free-form maps listed
in OPEN (labels, annotations, environment variables, Kubernetes objects passed through as they are).
A key's type is its default's; a null default accepts anything. Keys the templates read but
values.yaml leaves out (a component's own probes, resources, ...) are in OPTIONAL. Run it after
changing values.yaml; tests/deploy/test_values_schema.py fails when the committed file differs:

    .venv/bin/python tools/helm/build_values_schema.py
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "salesplane"
TARGET = CHART / "values.schema.json"
COMPONENTS = ("leads", "opportunities", "forecasting", "reporting", "gateway")

# Dotted paths (a component's as components.*) whose object takes any keys.
OPEN = {
    "serviceAccount.annotations",
    "secrets.annotations",
    "secrets.databaseUrls",
    "config.env",
    "podAnnotations",
    "podLabels",
    "podSecurityContext",
    "securityContext",
    "service.annotations",
    "nodeSelector",
    "affinity",
    "autoscaling.behavior",
    "serviceMonitor.labels",
    "prometheusRule.labels",
    "grafanaDashboard.labels",
    "ingress.annotations",
    "updateStrategy",
    "components.*.env",
    "components.*.resources",
    "components.*.split.relay.resources",
    "components.*.split.consumer.resources",
    "components.*.targets",
    # A probe's fields are a Kubernetes probe's, rendered whole (successThreshold, ... too).
    "probes.*.*",
}
# Numbers that may have a fraction.
NUMBERS = {"components.*.edge.rateLimit.perSecond", "tracing.sampleRatio"}
# Keys the templates read that values.yaml does not set, with their schema.
_OBJECT: dict[str, Any] = {"type": "object"}
OPTIONAL: dict[str, dict[str, Any]] = {
    "components.*": {
        "probes": _OBJECT,
        "workerProbes": _OBJECT,
        "resources": _OBJECT,
        "nodeSelector": _OBJECT,
        "affinity": _OBJECT,
        "tolerations": {"type": "array"},
        "priorityClassName": {"type": "string"},
        "targets": _OBJECT,
        "edge": _OBJECT,
        "serviceClient": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "clientId": {"type": "string"},
                "secretName": {"type": "string"},
                "secretKey": {"type": "string"},
            },
        },
        "extraEnv": {"type": "array", "items": {"type": "object"}},
    },
}


def _generic(path: str) -> str:
    parts = path.split(".")
    if len(parts) > 1 and parts[0] == "components" and parts[1] in COMPONENTS:
        parts[1] = "*"
    return ".".join(parts)


def is_open(generic_path: str) -> bool:
    return any(fnmatch.fnmatchcase(generic_path, pattern) for pattern in OPEN)


def schema_of(value: Any, path: str = "") -> dict[str, Any]:
    generic = _generic(path)
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int) and generic in NUMBERS:
        # `helm --set` passes a fraction on as text ("2.5"): accept a number's text too.
        return {"anyOf": [{"type": "number"}, {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"}]}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, list):
        items = schema_of(value[0], f"{path}[]") if value and not isinstance(value[0], dict) else {}
        return {"type": "array", **({"items": items} if items else {})}
    assert isinstance(value, dict), path
    if is_open(generic):
        return {"type": "object"}
    properties = {key: schema_of(item, f"{path}.{key}" if path else key) for key, item in value.items()}
    for key, extra in OPTIONAL.get(generic, {}).items():
        properties.setdefault(key, extra)
    return {"type": "object", "additionalProperties": False, "properties": properties}


def render() -> str:
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    schema = {"$schema": "https://json-schema.org/draft-07/schema#", "title": "salesplane chart values"}
    schema.update(schema_of(values))
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET.relative_to(CHART.parents[2])}")
