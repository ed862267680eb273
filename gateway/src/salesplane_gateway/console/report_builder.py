"""The report builder's form and the definition document it stands for, both ways, and the
mapping of the reporting service's field paths (`definition.measures[0].field`) onto the form's
fields, so that every problem the service finds shows beside the field that caused it.

The form has positional rows: three dimensions, some measures, some filters (a few empty rows to
fill in). An empty row is left out of the definition, so the definition's index of a row is not its
row number: `Built` keeps which row each definition entry came from.

What the form cannot show (a measure's `where`, a dimension's buckets, nested or "or" filters,
further sorts, a chart's compared measures) is kept as it was in a hidden field and put back on
save, so that editing a report, or saving a copy of a built-in one, loses nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format, struct_pb2

from salesplane.reporting.v1 import reporting_pb2
from salesplane_gateway.console.localisation import gettext, major_units, minor_units

LAYOUTS = ("summation", "summation_with_details", "matrix", "rows_and_columns")
GRAINS = ("day", "week", "month", "fiscal_quarter", "fiscal_year")
AGGREGATES = ("count", "sum", "avg", "min", "max", "count_distinct", "median", "formula")
OPERATORS = (
    "eq",
    "ne",
    "in",
    "not_in",
    "lt",
    "le",
    "gt",
    "ge",
    "between",
    "contains",
    "starts_with",
    "is_empty",
    "is_not_empty",
    "within",
)
LIST_OPERATORS = frozenset({"in", "not_in", "between"})
NO_VALUE_OPERATORS = frozenset({"is_empty", "is_not_empty"})
CHART_KINDS = ("bar", "stacked_bar", "line", "pie", "funnel", "waterfall")
FORMULA_TYPES = ("percent", "decimal", "money")
SHARING = ("private", "team", "everyone")
RELATIVE_PERIODS = (
    "today",
    "yesterday",
    "this_week",
    "last_week",
    "this_month",
    "last_month",
    "next_month",
    "this_fiscal_quarter",
    "last_fiscal_quarter",
    "next_fiscal_quarter",
    "this_fiscal_year",
    "last_fiscal_year",
    "next_fiscal_year",
    "last_7_days",
    "last_14_days",
    "last_30_days",
    "last_90_days",
)
MODELS = ("first_touch", "last_touch", "linear", "u_shaped", "w_shaped", "time_decay")
BASES = ("period", "cohort")
DIMENSION_ROWS = 3
MIN_MEASURE_ROWS, MAX_MEASURE_ROWS = 4, 16
MIN_FILTER_ROWS, MAX_FILTER_ROWS = 3, 20
KEPT = "kept"
_INDEXED = re.compile(r"^(\w+)\[(\d+)\](?:\.(\w+))?")
_NUMBERS = frozenset(
    {reporting_pb2.COLUMN_TYPE_INTEGER, reporting_pb2.COLUMN_TYPE_DECIMAL, reporting_pb2.COLUMN_TYPE_PERCENT}
)
_TEMPORAL = frozenset({reporting_pb2.COLUMN_TYPE_DATE, reporting_pb2.COLUMN_TYPE_TIMESTAMP})
FormValues = dict[str, Any]


@dataclass
class Built:
    """A definition made from the form; `errors` are what the console itself found (a number
    that is not one), by form field."""

    document: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    dimension_rows: list[int] = field(default_factory=list)
    measure_rows: list[int] = field(default_factory=list)
    filter_rows: list[int] = field(default_factory=list)


def struct_dict(message: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as plain values, whole numbers as ints (a Struct keeps every number as a double)."""
    document: dict[str, Any] = _whole(json_format.MessageToDict(message))
    return document


def _whole(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole(v) for v in value]
    return value


def to_struct(document: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(dict(document))
    return message


# -- run-time filters ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RuntimeFilter:
    """A filter a run may give values for: its id, where it sits in the definition, its field."""

    id: str
    path: str
    field: str
    op: str
    values: tuple[Any, ...]


def runtime_filters(document: Mapping[str, Any]) -> list[RuntimeFilter]:
    found: list[RuntimeFilter] = []
    _walk(document.get("filters"), "filters", found)
    return found


def _walk(node: Any, path: str, found: list[RuntimeFilter]) -> None:
    if not isinstance(node, Mapping):
        return
    for combine in ("and", "or"):
        items = node.get(combine)
        if isinstance(items, list):
            for index, item in enumerate(items):
                _walk(item, f"{path}.{combine}[{index}]", found)
    if "field" in node and node.get("runtime") is True:
        values = node.get("values", [node["value"]] if "value" in node else [])
        found.append(
            RuntimeFilter(
                id=str(node.get("id") or node["field"]),
                path=path,
                field=str(node["field"]),
                op=str(node.get("op", "eq")),
                values=tuple(values if isinstance(values, list) else []),
            )
        )


def typed_values(text: str, field_type: int, op: str, currency: str) -> tuple[list[bool | int | str], str]:
    """The values a filter's input stands for, typed as its field is ([], "what is wrong" if not):
    several, comma-separated, for in / not in / between; money in minor units of `currency`."""
    if op in NO_VALUE_OPERATORS:
        return [], ""
    parts = [p.strip() for p in text.split(",")] if op in LIST_OPERATORS else [text.strip()]
    parts = [p for p in parts if p]
    if not parts:
        return [], gettext("Enter a value.")
    values: list[bool | int | str] = []
    for part in parts:
        if field_type == reporting_pb2.COLUMN_TYPE_BOOLEAN:
            if part.lower() not in ("true", "false", "yes", "no"):
                return [], gettext("Enter true or false.")
            values.append(part.lower() in ("true", "yes"))
        elif field_type in _NUMBERS:
            try:
                values.append(int(part))
            except ValueError:
                return [], gettext("Enter a whole number.")
        elif field_type == reporting_pb2.COLUMN_TYPE_MONEY:
            try:
                values.append(minor_units(part, currency))
            except ValueError:
                return [], gettext("Enter an amount, such as 1234.50.")
        else:
            values.append(part)
    return values, ""


def value_text(values: Iterable[Any], field_type: int, currency: str) -> str:
    """Values as the filter's input shows them (the inverse of typed_values)."""
    shown = []
    for value in values:
        if isinstance(value, bool):
            shown.append("true" if value else "false")
        elif field_type == reporting_pb2.COLUMN_TYPE_MONEY and isinstance(value, int):
            shown.append(major_units(value, currency))
        else:
            shown.append(str(value))
    return ", ".join(shown)


# -- the form from a definition ------------------------------------------------------------------


def form_from_definition(
    document: Mapping[str, Any], fields: Mapping[str, reporting_pb2.SourceField], currency: str
) -> FormValues:
    values: FormValues = {
        "source": str(document.get("source", "")),
        "layout": str(document.get("layout", "summation")),
        "column_dimensions": _text(document.get("column_dimensions", "")),
        "limit": _text(document.get("limit", "")),
        "subtotals": "on" if document.get("subtotals") else "",
        "grand_total": "" if document.get("grand_total") is False else "on",
        "detail_columns": [str(c) for c in document.get("detail_columns") or []],
    }
    kept: dict[str, Any] = {}
    for index, dimension in enumerate((document.get("dimensions") or [])[:DIMENSION_ROWS]):
        values[f"d{index}_field"] = str(dimension.get("field", ""))
        values[f"d{index}_grain"] = str(dimension.get("grain", ""))
        if "bucket" in dimension:
            kept.setdefault("dimensions", {})[str(index)] = {"bucket": dimension["bucket"]}
    for index, measure in enumerate(document.get("measures") or []):
        formula = measure.get("formula")
        values[f"m{index}_name"] = str(measure.get("name", ""))
        values[f"m{index}_title"] = str(measure.get("title", ""))
        values[f"m{index}_aggregate"] = (
            "formula" if formula is not None else str(measure.get("aggregate", ""))
        )
        values[f"m{index}_field"] = str(measure.get("field", ""))
        values[f"m{index}_formula"] = str(formula or "")
        values[f"m{index}_type"] = str(measure.get("type", ""))
        extra = {k: measure[k] for k in ("where", "cumulative", "scale") if k in measure}
        if extra:
            kept.setdefault("measures", {})[str(index)] = extra
    _filters_to_form(document.get("filters"), fields, currency, values, kept)
    sorts = document.get("sort") or []
    if sorts:
        values["sort_by"] = str(sorts[0].get("by", ""))
        values["sort_descending"] = "on" if sorts[0].get("descending") else ""
        if sorts[1:]:
            kept["sort"] = sorts[1:]
    chart = document.get("chart")
    if isinstance(chart, Mapping):
        values["chart_kind"] = str(chart.get("kind", ""))
        values["chart_measure"] = str(chart.get("measure", ""))
        values["chart_title"] = str(chart.get("title", ""))
        extra = {k: chart[k] for k in ("compare_with", "stages") if k in chart}
        if extra:
            kept["chart"] = extra
    for name, value in (document.get("parameters") or {}).items():
        values[f"param.{name}"] = _text(value)
    other = {k: document[k] for k in ("as_of", "org_as_of") if k in document}
    if other:
        kept["other"] = other
    values[KEPT] = json.dumps(kept) if kept else ""
    return values


def _filters_to_form(
    filters: Any,
    fields: Mapping[str, reporting_pb2.SourceField],
    currency: str,
    values: FormValues,
    kept: dict[str, Any],
) -> None:
    if not isinstance(filters, Mapping):
        return
    if "or" in filters:
        # "Any of these": the form's rows all must match, so the whole group is kept as it is.
        kept["filters"] = filters
        return
    items = (
        filters["and"] if isinstance(filters.get("and"), list) else [filters] if "field" in filters else []
    )
    row = 0
    extra = []
    for item in items:
        if not isinstance(item, Mapping) or "field" not in item:
            extra.append(item)
            continue
        name = str(item["field"])
        raw = item.get("values", [item["value"]] if "value" in item else [])
        field_type = fields[name].type if name in fields else reporting_pb2.COLUMN_TYPE_STRING
        values[f"f{row}_field"] = name
        values[f"f{row}_op"] = str(item.get("op", "eq"))
        values[f"f{row}_value"] = value_text(raw if isinstance(raw, list) else [], field_type, currency)
        values[f"f{row}_runtime"] = "on" if item.get("runtime") else ""
        values[f"f{row}_id"] = str(item.get("id", ""))
        row += 1
    if extra:
        kept["filter_groups"] = extra


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def row_counts(values: Mapping[str, Any]) -> tuple[int, int]:
    """How many measure and filter rows the form shows: those in use and two empty ones."""
    measures = _used_rows(values, "m", "_aggregate", MAX_MEASURE_ROWS)
    filters = _used_rows(values, "f", "_field", MAX_FILTER_ROWS)
    return (
        min(max(MIN_MEASURE_ROWS, measures + 2), MAX_MEASURE_ROWS),
        min(max(MIN_FILTER_ROWS, filters + 2), MAX_FILTER_ROWS),
    )


def _used_rows(values: Mapping[str, Any], prefix: str, suffix: str, limit: int) -> int:
    used = 0
    for index in range(limit):
        if values.get(f"{prefix}{index}{suffix}"):
            used = index + 1
    return used


# -- the definition from the form ----------------------------------------------------------------


def form_values(form: Any) -> FormValues:
    """The posted form (a MultiDict) as the builder's values."""
    values: FormValues = {k: str(v) for k, v in form.items() if k != "detail_columns"}
    values["detail_columns"] = [str(v) for v in form.getlist("detail_columns")]
    return values


def definition_from_form(values: FormValues, source: reporting_pb2.Source, currency: str) -> Built:
    fields = {f.name: f for f in source.fields}
    kept = _kept(values.get(KEPT, ""))
    built = Built(document={"source": source.name, "layout": values.get("layout") or "summation"})
    document = built.document
    dimensions = []
    for row in range(DIMENSION_ROWS):
        name = values.get(f"d{row}_field", "")
        if not name:
            continue
        dimension: dict[str, Any] = {"field": name}
        if values.get(f"d{row}_grain"):
            dimension["grain"] = values[f"d{row}_grain"]
        dimension.update(kept.get("dimensions", {}).get(str(row), {}))
        dimensions.append(dimension)
        built.dimension_rows.append(row)
    if dimensions:
        document["dimensions"] = dimensions
    measures = _measures(values, kept, built)
    if measures:
        document["measures"] = measures
    filters = _filters(values, kept, fields, currency, built)
    if filters is not None:
        document["filters"] = filters
    if values.get("detail_columns"):
        document["detail_columns"] = list(values["detail_columns"])
    for name in ("column_dimensions", "limit"):
        text = values.get(name, "").strip()
        if text:
            try:
                document[name] = int(text)
            except ValueError:
                built.errors[name] = gettext("Enter a whole number.")
    document["subtotals"] = bool(values.get("subtotals"))
    document["grand_total"] = bool(values.get("grand_total"))
    sorts = []
    if values.get("sort_by"):
        sorts.append({"by": values["sort_by"], "descending": bool(values.get("sort_descending"))})
    sorts += kept.get("sort", [])
    if sorts:
        document["sort"] = sorts
    if values.get("chart_kind"):
        chart: dict[str, Any] = {"kind": values["chart_kind"]}
        chosen = values.get("chart_measure") or (measures[0]["name"] if measures else "")
        if chosen:
            chart["measure"] = chosen
        if values.get("chart_title", "").strip():
            chart["title"] = values["chart_title"].strip()
        chart.update(kept.get("chart", {}))
        document["chart"] = chart
    parameters = {
        name: values[f"param.{name}"].strip()
        for name in source.parameters
        if values.get(f"param.{name}", "").strip()
    }
    if parameters:
        document["parameters"] = parameters
    document.update(kept.get("other", {}))
    return built


def _kept(text: str) -> dict[str, Any]:
    try:
        kept = json.loads(text) if text else {}
    except ValueError:
        return {}
    return kept if isinstance(kept, dict) else {}


def _measures(values: FormValues, kept: Mapping[str, Any], built: Built) -> list[dict[str, Any]]:
    measures: list[dict[str, Any]] = []
    used: set[str] = set()
    for row in range(MAX_MEASURE_ROWS):
        aggregate = values.get(f"m{row}_aggregate", "")
        if not aggregate:
            continue
        field_name = values.get(f"m{row}_field", "")
        name = values.get(f"m{row}_name", "").strip() or _measure_name(aggregate, field_name, used)
        # The generated name is shown back, so that a formula or the chart can use it.
        values[f"m{row}_name"] = name
        used.add(name)
        measure: dict[str, Any] = {"name": name}
        if values.get(f"m{row}_title", "").strip():
            measure["title"] = values[f"m{row}_title"].strip()
        if aggregate == "formula":
            measure["formula"] = values.get(f"m{row}_formula", "")
            measure["type"] = values.get(f"m{row}_type") or "decimal"
        else:
            measure["aggregate"] = aggregate
            if field_name:
                measure["field"] = field_name
        measure.update(kept.get("measures", {}).get(str(row), {}))
        measures.append(measure)
        built.measure_rows.append(row)
    return measures


def _measure_name(aggregate: str, field_name: str, used: set[str]) -> str:
    base = re.sub(r"\W", "_", f"{aggregate}_{field_name}" if field_name else aggregate)
    name, number = base, 2
    while name in used:
        name, number = f"{base}_{number}", number + 1
    return name


def _filters(
    values: FormValues,
    kept: Mapping[str, Any],
    fields: Mapping[str, reporting_pb2.SourceField],
    currency: str,
    built: Built,
) -> dict[str, Any] | None:
    if "filters" in kept:
        return dict(kept["filters"])
    conditions: list[Any] = []
    for row in range(MAX_FILTER_ROWS):
        name = values.get(f"f{row}_field", "")
        if not name:
            continue
        op = values.get(f"f{row}_op") or "eq"
        field_type = fields[name].type if name in fields else reporting_pb2.COLUMN_TYPE_STRING
        typed, problem = typed_values(values.get(f"f{row}_value", ""), field_type, op, currency)
        if problem:
            built.errors[f"f{row}_value"] = problem
        condition: dict[str, Any] = {"field": name, "op": op, "values": typed}
        if values.get(f"f{row}_runtime"):
            condition["runtime"] = True
            if values.get(f"f{row}_id", "").strip():
                condition["id"] = values[f"f{row}_id"].strip()
        conditions.append(condition)
        built.filter_rows.append(row)
    conditions += kept.get("filter_groups", [])
    return {"and": conditions} if conditions else None


# -- the service's field paths onto the form's fields ---------------------------------------------

_TOP_LEVEL = {
    "source": "source",
    "layout": "layout",
    "column_dimensions": "column_dimensions",
    "limit": "limit",
    "subtotals": "subtotals",
    "grand_total": "grand_total",
    "detail_columns": "detail_columns",
    "title": "title",
    "description": "description",
    "sharing": "sharing",
}
_MEASURE_PARTS = {"aggregate", "field", "name", "title", "formula", "type"}


def form_field(path: str, built: Built) -> str:
    """The form field a violation of `path` belongs beside; "" (the form's own error line) when
    the form does not show what it names."""
    path = path.removeprefix("definition.")
    if path in _TOP_LEVEL:
        return _TOP_LEVEL[path]
    if path.startswith("parameters."):
        return "param." + path.split(".")[1]
    if path.startswith("detail_columns["):
        return "detail_columns"
    if path == "dimensions":
        return "d0_field"
    if path == "measures":
        return "m0_aggregate"
    if path.startswith("sort["):
        return "sort_descending" if path.endswith(".descending") else "sort_by"
    if path.startswith("chart"):
        return "chart_measure" if path.startswith("chart.measure") else "chart_kind"
    if path.startswith("filters.and["):
        matched = _INDEXED.match(path.removeprefix("filters."))
        index = int(matched.group(2)) if matched else -1
        if 0 <= index < len(built.filter_rows):
            row = built.filter_rows[index]
            part = path.split("]", 1)[1].lstrip(".").split("[")[0].split(".")[0]
            return f"f{row}_" + {"field": "field", "op": "op", "runtime": "runtime", "id": "id"}.get(
                part, "value"
            )
        return ""
    matched = _INDEXED.match(path)
    if matched:
        collection, index, part = matched.group(1), int(matched.group(2)), matched.group(3) or ""
        if collection == "dimensions" and index < len(built.dimension_rows):
            row = built.dimension_rows[index]
            return f"d{row}_grain" if part == "grain" else f"d{row}_field"
        if collection == "measures" and index < len(built.measure_rows):
            row = built.measure_rows[index]
            return f"m{row}_{part}" if part in _MEASURE_PARTS else f"m{row}_aggregate"
    return ""
