"""What a run may change in a definition without editing it: the values of its run-time filters,
its source parameters and the as-of instant. Applied to the definition document, which is then
validated as a whole, so a bad run-time value gets the same field-level error a bad definition
does."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from salesplane_platform.errors import FieldViolation, InvalidArgument


@dataclass(frozen=True)
class RunOptions:
    # Run-time filter id -> the values to use instead of the saved ones.
    filter_values: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    parameters: Mapping[str, str] = field(default_factory=dict)
    as_of: str | None = None
    # Whose team "team" means; empty: the caller's.
    viewpoint: str | None = None


NO_OPTIONS = RunOptions()


def _runtime_ids(node: Any, found: dict[str, dict[str, Any]]) -> None:
    if isinstance(node, dict):
        for combine in ("and", "or"):
            for item in node.get(combine, []) if isinstance(node.get(combine), list) else []:
                _runtime_ids(item, found)
        if "field" in node and node.get("runtime") is True:
            found[str(node.get("id") or node["field"])] = node


def runtime_filter_ids(document: Mapping[str, Any]) -> list[str]:
    found: dict[str, dict[str, Any]] = {}
    _runtime_ids(document.get("filters"), found)
    return list(found)


def apply_run_options(document: Mapping[str, Any], options: RunOptions) -> dict[str, Any]:
    applied: dict[str, Any] = copy.deepcopy(dict(document))
    found: dict[str, dict[str, Any]] = {}
    _runtime_ids(applied.get("filters"), found)
    problems = [
        FieldViolation(
            f"filter_values.{key}",
            f"is not a run-time filter of this report (it has: {', '.join(found) or 'none'})",
        )
        for key in options.filter_values
        if key not in found
    ]
    if problems:
        raise InvalidArgument(problems)
    for key, values in options.filter_values.items():
        condition = found[key]
        condition.pop("value", None)
        condition["values"] = list(values)
    if options.parameters:
        parameters = dict(applied.get("parameters") or {})
        parameters.update(options.parameters)
        applied["parameters"] = parameters
    if options.as_of:
        applied["as_of"] = options.as_of
    return applied
