"""A report definition: what to read, how to group and measure it, and how to lay it out.

Modelled on SugarCRM's report JSON (display columns, group-bys with date functions, summary
columns, nested AND/OR filters with run-time flags, four report types, chart) and Salesforce's
report metadata (buckets, formulas, matrix groupings). `parse_definition` turns the JSON document
the API takes into this model, checking every field against the source's catalogue; each problem
is a FieldViolation naming its path (`dimensions[1].grain`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum, StrEnum
from typing import Any

from salesplane_platform.errors import Validator
from salesplane_reporting.domain.attribution_parameters import (
    ATTRIBUTION_PARAMETERS,
    BASIS,
    canonical_parameter,
)
from salesplane_reporting.domain.catalogue import (
    AS_OF_SOURCES,
    SOURCE_PARAMETERS,
    Field,
    Source,
    fields_of,
)
from salesplane_reporting.domain.formulas import Formula, FormulaError, parse_formula
from salesplane_reporting.domain.relative_dates import (
    LAST_N_DAYS,
    RELATIVE_PERIODS,
    DateValue,
    parse_date_value,
)
from salesplane_reporting.domain.report import ChartKind, ColumnType

MAX_DIMENSIONS = 3
# A funnel's six counts, four rates and three medians fit.
MAX_MEASURES = 16
MAX_FORMULAS = 5
MAX_FILTERS = 20
MAX_DETAIL_COLUMNS = 30
MAX_ROW_LIMIT = 10_000
DEFAULT_ROW_LIMIT = 2_000


class Grain(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    FISCAL_QUARTER = "fiscal_quarter"
    FISCAL_YEAR = "fiscal_year"


class Aggregate(StrEnum):
    COUNT = "count"
    SUM = "sum"
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    COUNT_DISTINCT = "count_distinct"
    # The middle value (the mean of the two middle ones); numbers, money and durations only.
    MEDIAN = "median"


class Layout(StrEnum):
    ROWS_AND_COLUMNS = "rows_and_columns"
    SUMMATION = "summation"
    SUMMATION_WITH_DETAILS = "summation_with_details"
    MATRIX = "matrix"


class Operator(StrEnum):
    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    BETWEEN = "between"
    CONTAINS = "contains"
    STARTS_WITH = "starts_with"
    IS_EMPTY = "is_empty"
    IS_NOT_EMPTY = "is_not_empty"
    # Dates and timestamps: within a relative period such as this_fiscal_quarter or last_30_days.
    WITHIN = "within"


_VALUE_COUNT: dict[Operator, tuple[int, int]] = {
    Operator.IN: (1, 500),
    Operator.NOT_IN: (1, 500),
    Operator.BETWEEN: (2, 2),
    Operator.IS_EMPTY: (0, 0),
    Operator.IS_NOT_EMPTY: (0, 0),
}
_ORDERED_OPERATORS = {Operator.LT, Operator.LE, Operator.GT, Operator.GE, Operator.BETWEEN}
_TEXT_OPERATORS = {Operator.CONTAINS, Operator.STARTS_WITH}

FilterValue = str | int | bool | DateValue


@dataclass(frozen=True)
class NumberBucket:
    """Ranges split at `edges` (ascending; minor units for money): below the first, between each
    pair, from the last on."""

    edges: tuple[int, ...]


@dataclass(frozen=True)
class ListBucket:
    groups: tuple[tuple[str, tuple[str, ...]], ...]
    other_label: str = "Other"


@dataclass(frozen=True)
class Dimension:
    field: str
    grain: Grain | None = None
    bucket: NumberBucket | ListBucket | None = None


@dataclass(frozen=True)
class Condition:
    field: str
    operator: Operator
    values: tuple[FilterValue, ...] = ()
    runtime: bool = False
    # Names the filter for run-time values; defaults to the field name.
    id: str = ""


@dataclass(frozen=True)
class FilterGroup:
    # "and" or "or".
    combine: str
    items: tuple[Condition | FilterGroup, ...]


@dataclass(frozen=True)
class Measure:
    name: str
    title: str
    aggregate: Aggregate | None = None
    field: str | None = None
    # Only rows matching this condition count (a conditional aggregate, e.g. count of won deals).
    where: FilterGroup | None = None
    formula: Formula | None = None
    # DECIMAL or PERCENT for a formula; the field's reported type otherwise.
    type: ColumnType = ColumnType.INTEGER
    scale: int = 0
    # Running total from the last row up (a funnel: deals that reached this stage or a later one).
    cumulative: bool = False


@dataclass(frozen=True)
class Sort:
    by: str
    descending: bool = False


@dataclass(frozen=True)
class ChartSpec:
    kind: ChartKind
    # The measure drawn; the first dimension gives the categories, the second (if any) the series.
    measure: str
    title: str = ""
    # Further measures drawn beside `measure` (one series each; a single dimension only).
    compare_with: tuple[str, ...] = ()
    # A funnel of several measures (created, qualified, converted...): one bar per measure, its
    # total, in this order, instead of one bar per category of the first dimension.
    stages: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportSpec:
    source: Source
    layout: Layout
    dimensions: tuple[Dimension, ...] = ()
    # MATRIX: how many of the dimensions (the last ones) go across as columns.
    column_dimensions: int = 0
    measures: tuple[Measure, ...] = ()
    filters: FilterGroup | None = None
    detail_columns: tuple[str, ...] = ()
    sort: tuple[Sort, ...] = ()
    limit: int = DEFAULT_ROW_LIMIT
    subtotals: bool = False
    grand_total: bool = True
    chart: ChartSpec | None = None
    # Read the state as it was at this instant (opportunities only).
    as_of: DateValue | None = None
    # The organisation the "team" dimension follows: None as it is now, else as it was then.
    org_as_of: DateValue | None = None
    # Source parameters (pipeline_movement: from, to, window; period_performance: period).
    parameters: Mapping[str, DateValue | str] = field(default_factory=dict)


def conditions_in(group: FilterGroup | None) -> list[Condition]:
    """Every condition of a filter group, nested ones included, in definition order."""
    if group is None:
        return []
    found: list[Condition] = []
    for item in group.items:
        found += conditions_in(item) if isinstance(item, FilterGroup) else [item]
    return found


def all_conditions(spec: ReportSpec) -> list[Condition]:
    """The conditions of the filters and of every measure's `where`."""
    return conditions_in(spec.filters) + [c for m in spec.measures for c in conditions_in(m.where)]


def runtime_filters(spec: ReportSpec) -> list[Condition]:
    """The filters a run may change, in definition order."""
    return [c for c in conditions_in(spec.filters) if c.runtime]


class _Parser:
    def __init__(self, document: Mapping[str, Any]) -> None:
        self.doc = document
        self.check = Validator()
        self.fields: dict[str, Field] = {}

    # -- helpers -----------------------------------------------------------------------------------
    def _list(self, value: Any, path: str, limit: int) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.check.fail(path, "must be a list")
            return []
        if len(value) > limit:
            self.check.fail(path, f"may hold at most {limit} entries, got {len(value)}")
            return value[:limit]
        return value

    def _object(self, value: Any, path: str) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.check.fail(path, "must be an object")
            return None
        return value

    def _known_keys(self, value: Mapping[str, Any], allowed: set[str], path: str) -> None:
        for key in sorted(set(value) - allowed):
            self.check.fail(f"{path}.{key}" if path else key, "is not a known property")

    def _field(self, name: Any, path: str) -> Field | None:
        if not isinstance(name, str) or not name:
            self.check.fail(path, "must name a field")
            return None
        found = self.fields.get(name)
        if found is None:
            self.check.fail(
                path, f"{name!r} is not a field of this source (known: {', '.join(sorted(self.fields))})"
            )
        return found

    def _enum(self, enum: type[Enum], value: Any, path: str) -> Any:
        try:
            return enum(value)
        except ValueError:
            self.check.fail(path, f"must be one of {', '.join(str(e.value) for e in enum)}, got {value!r}")
            return None

    def _int(self, value: Any, path: str, low: int, high: int, default: int) -> int:
        if value is None:
            return default
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.check.fail(path, f"must be a whole number {low}..{high}")
            return default
        return value

    # -- the document ------------------------------------------------------------------------------
    def parse(self) -> ReportSpec | None:
        doc = self.doc
        self._known_keys(
            doc,
            {
                "source",
                "layout",
                "dimensions",
                "column_dimensions",
                "measures",
                "filters",
                "detail_columns",
                "sort",
                "limit",
                "subtotals",
                "grand_total",
                "chart",
                "as_of",
                "org_as_of",
                "parameters",
            },
            "",
        )
        source = self._enum(Source, doc.get("source"), "source")
        layout = self._enum(Layout, doc.get("layout", "summation"), "layout")
        if source is None or layout is None:
            self.check.raise_if_invalid()
            return None
        self.fields = fields_of(source)
        dimensions = self._dimensions(doc.get("dimensions"))
        measures = self._measures(doc.get("measures"))
        filters = self._filters(doc.get("filters"), "filters") if doc.get("filters") is not None else None
        details = self._details(doc.get("detail_columns"))
        column_dimensions = self._int(doc.get("column_dimensions"), "column_dimensions", 0, MAX_DIMENSIONS, 0)
        spec = ReportSpec(
            source=source,
            layout=layout,
            dimensions=tuple(dimensions),
            column_dimensions=column_dimensions,
            measures=tuple(measures),
            filters=filters,
            detail_columns=tuple(details),
            sort=tuple(self._sorts(doc.get("sort"), dimensions, measures)),
            limit=self._int(doc.get("limit"), "limit", 1, MAX_ROW_LIMIT, DEFAULT_ROW_LIMIT),
            subtotals=self._bool(doc.get("subtotals"), "subtotals", False),
            grand_total=self._bool(doc.get("grand_total"), "grand_total", True),
            chart=self._chart(doc.get("chart"), measures),
            as_of=self._as_of(doc.get("as_of"), source),
            org_as_of=self._org_as_of(doc.get("org_as_of")),
            parameters=self._parameters(doc.get("parameters"), source),
        )
        self._check_layout(spec)
        self.check.raise_if_invalid()
        return spec

    def _bool(self, value: Any, path: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.check.fail(path, "must be true or false")
            return default
        return value

    def _dimensions(self, value: Any) -> list[Dimension]:
        raw = value if isinstance(value, list) else ([] if value is None else None)
        if raw is None:
            self.check.fail("dimensions", "must be a list")
            return []
        if len(raw) > MAX_DIMENSIONS:
            self.check.fail("dimensions", f"may hold at most {MAX_DIMENSIONS} dimensions, got {len(raw)}")
        dimensions: list[Dimension] = []
        for index, item in enumerate(raw[:MAX_DIMENSIONS]):
            path = f"dimensions[{index}]"
            entry = self._object(item, path)
            if entry is None:
                continue
            self._known_keys(entry, {"field", "grain", "bucket"}, path)
            found = self._field(entry.get("field"), f"{path}.field")
            if found is None:
                continue
            if not found.groupable:
                self.check.fail(f"{path}.field", f"{found.name} cannot be grouped by")
            grain = None
            if entry.get("grain") is not None:
                grain = self._enum(Grain, entry.get("grain"), f"{path}.grain")
                if not found.temporal:
                    self.check.fail(f"{path}.grain", f"{found.name} is not a date: it has no grain")
            elif found.temporal:
                grain = Grain.DAY
            bucket = self._bucket(entry.get("bucket"), found, f"{path}.bucket")
            if grain is not None and bucket is not None:
                self.check.fail(f"{path}.bucket", "a date dimension is grouped by its grain, not a bucket")
            if found.type is ColumnType.MONEY and bucket is None:
                self.check.fail(f"{path}.field", "money is grouped by buckets: give bucket.edges")
            dimensions.append(Dimension(found.name, grain, bucket))
        return dimensions

    def _bucket(self, value: Any, found: Field, path: str) -> NumberBucket | ListBucket | None:
        if value is None:
            return None
        entry = self._object(value, path)
        if entry is None:
            return None
        self._known_keys(entry, {"edges", "groups", "other_label"}, path)
        if "edges" in entry:
            if not found.numeric:
                self.check.fail(f"{path}.edges", f"{found.name} is not a number")
                return None
            edges = []
            for index, edge in enumerate(self._list(entry["edges"], f"{path}.edges", 20)):
                if isinstance(edge, float) and edge.is_integer():
                    edge = int(edge)
                if isinstance(edge, bool) or not isinstance(edge, int):
                    self.check.fail(
                        f"{path}.edges[{index}]", "must be a whole number (minor units for money)"
                    )
                else:
                    edges.append(edge)
            if not edges or edges != sorted(set(edges)):
                self.check.fail(f"{path}.edges", "must be one or more numbers in ascending order")
            return NumberBucket(tuple(edges))
        groups: list[tuple[str, tuple[str, ...]]] = []
        for index, group in enumerate(self._list(entry.get("groups"), f"{path}.groups", 50)):
            gpath = f"{path}.groups[{index}]"
            item = self._object(group, gpath)
            if item is None:
                continue
            label, values = item.get("label"), item.get("values")
            if not isinstance(label, str) or not label:
                self.check.fail(f"{gpath}.label", "must be a non-empty text")
                continue
            if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
                self.check.fail(f"{gpath}.values", "must be a non-empty list of texts")
                continue
            groups.append((label, tuple(values)))
        if not groups:
            self.check.fail(path, "needs edges (numbers) or groups (lists of values)")
        other = entry.get("other_label", "Other")
        return ListBucket(tuple(groups), other if isinstance(other, str) and other else "Other")

    def _measures(self, value: Any) -> list[Measure]:
        measures: list[Measure] = []
        names: set[str] = set()
        formulas = 0
        for index, item in enumerate(self._list(value, "measures", MAX_MEASURES)):
            path = f"measures[{index}]"
            entry = self._object(item, path)
            if entry is None:
                continue
            self._known_keys(
                entry,
                {"name", "title", "aggregate", "field", "where", "formula", "type", "scale", "cumulative"},
                path,
            )
            name = entry.get("name")
            if not isinstance(name, str) or not name.isidentifier():
                self.check.fail(
                    f"{path}.name", "must be a name of letters, digits and _ (not starting with a digit)"
                )
                continue
            if name in names:
                self.check.fail(f"{path}.name", f"{name!r} is already used")
                continue
            names.add(name)
            title = (
                entry.get("title")
                if isinstance(entry.get("title"), str)
                else name.replace("_", " ").capitalize()
            )
            cumulative = self._bool(entry.get("cumulative"), f"{path}.cumulative", False)
            if entry.get("formula") is not None:
                formulas += 1
                if formulas > MAX_FORMULAS:
                    self.check.fail(f"{path}.formula", f"a report may hold at most {MAX_FORMULAS} formulas")
                measure = self._formula_measure(entry, name, str(title), path, {m.name: m for m in measures})
            else:
                measure = self._aggregate_measure(entry, name, str(title), path)
            if measure is not None and cumulative and measure.aggregate is Aggregate.MEDIAN:
                self.check.fail(f"{path}.cumulative", "medians do not add up to a running total")
            elif measure is not None:
                measures.append(Measure(**{**measure.__dict__, "cumulative": cumulative}))
        return measures

    def _aggregate_measure(
        self, entry: Mapping[str, Any], name: str, title: str, path: str
    ) -> Measure | None:
        aggregate = self._enum(Aggregate, entry.get("aggregate"), f"{path}.aggregate")
        if aggregate is None:
            return None
        found: Field | None = None
        if entry.get("field") is not None:
            found = self._field(entry.get("field"), f"{path}.field")
            if found is None:
                return None
        elif aggregate is not Aggregate.COUNT:
            self.check.fail(f"{path}.field", f"{aggregate.value} needs a field")
            return None
        if found is not None and aggregate in (Aggregate.SUM, Aggregate.AVG) and not found.numeric:
            self.check.fail(
                f"{path}.field", f"{found.name} is not a number: it cannot be {aggregate.value}med"
            )
            return None
        if found is not None and aggregate is Aggregate.MEDIAN and not found.numeric:
            self.check.fail(
                f"{path}.field", f"{found.name} is not a number, an amount or a duration: it has no median"
            )
            return None
        if (
            found is not None
            and aggregate in (Aggregate.MIN, Aggregate.MAX)
            and not (found.numeric or found.temporal)
        ):
            self.check.fail(f"{path}.field", f"{found.name} has no order to take the {aggregate.value} of")
            return None
        where = self._filters(entry["where"], f"{path}.where") if entry.get("where") is not None else None
        if aggregate in (Aggregate.COUNT, Aggregate.COUNT_DISTINCT):
            column_type, scale = ColumnType.INTEGER, 0
        else:
            assert found is not None
            column_type = found.reported_type
            scale = found.reported_scale
            if aggregate in (Aggregate.AVG, Aggregate.MEDIAN) and column_type is ColumnType.INTEGER:
                column_type, scale = ColumnType.DECIMAL, 2
        return Measure(
            name=name,
            title=title,
            aggregate=aggregate,
            field=found.name if found else None,
            where=where,
            type=column_type,
            scale=scale,
        )

    def _formula_measure(
        self, entry: Mapping[str, Any], name: str, title: str, path: str, earlier: Mapping[str, Measure]
    ) -> Measure | None:
        text = entry.get("formula")
        if not isinstance(text, str):
            self.check.fail(f"{path}.formula", "must be a text such as won / (won + lost)")
            return None
        try:
            formula = parse_formula(text)
        except FormulaError as error:
            self.check.fail(f"{path}.formula", str(error))
            return None
        for reference in sorted(formula.references):
            if reference not in earlier:
                self.check.fail(f"{path}.formula", f"{reference!r} is not a measure defined before this one")
        type_name = entry.get("type", "decimal")
        types = {"decimal": ColumnType.DECIMAL, "percent": ColumnType.PERCENT, "money": ColumnType.MONEY}
        if type_name not in types:
            self.check.fail(f"{path}.type", "must be decimal, percent or money")
            return None
        column_type = types[type_name]
        if column_type is ColumnType.MONEY:
            money_refs = [
                earlier[r] for r in formula.references if r in earlier and earlier[r].type is ColumnType.MONEY
            ]
            if not money_refs:
                self.check.fail(f"{path}.type", "a money formula must use a money measure")
        default_scale = (
            4 if column_type is ColumnType.PERCENT else (0 if column_type is ColumnType.MONEY else 2)
        )
        scale = self._int(entry.get("scale"), f"{path}.scale", 0, 8, default_scale)
        return Measure(name=name, title=title, formula=formula, type=column_type, scale=scale)

    def _filters(self, value: Any, path: str, depth: int = 0) -> FilterGroup | None:
        entry = self._object(value, path)
        if entry is None:
            return None
        if depth > 4:
            self.check.fail(path, "filters nest at most 5 deep")
            return None
        combine = "and" if "and" in entry else "or" if "or" in entry else None
        if combine is None:
            if "field" in entry:  # a single condition stands for a group of one
                condition = self._condition(entry, path)
                return FilterGroup("and", (condition,)) if condition else None
            self.check.fail(path, 'must be {"and": [...]}, {"or": [...]} or a condition')
            return None
        self._known_keys(entry, {combine}, path)
        items: list[Condition | FilterGroup] = []
        for index, item in enumerate(self._list(entry[combine], f"{path}.{combine}", MAX_FILTERS)):
            item_path = f"{path}.{combine}[{index}]"
            if isinstance(item, Mapping) and ("and" in item or "or" in item):
                group = self._filters(item, item_path, depth + 1)
                if group:
                    items.append(group)
            else:
                condition = self._condition(item, item_path)
                if condition:
                    items.append(condition)
        return FilterGroup(combine, tuple(items))

    def _condition(self, value: Any, path: str) -> Condition | None:
        entry = self._object(value, path)
        if entry is None:
            return None
        self._known_keys(entry, {"field", "op", "values", "value", "runtime", "id"}, path)
        found = self._field(entry.get("field"), f"{path}.field")
        operator = self._enum(Operator, entry.get("op", "eq"), f"{path}.op")
        if found is None or operator is None:
            return None
        raw = entry.get("values")
        if raw is None:
            raw = [] if "value" not in entry else [entry["value"]]
        if not isinstance(raw, list):
            self.check.fail(f"{path}.values", "must be a list")
            return None
        low, high = _VALUE_COUNT.get(operator, (1, 1))
        if not low <= len(raw) <= high:
            wanted = str(low) if low == high else f"{low}..{high}"
            self.check.fail(f"{path}.values", f"{operator.value} takes {wanted} value(s), got {len(raw)}")
            return None
        if operator in _TEXT_OPERATORS and found.type is not ColumnType.STRING:
            self.check.fail(
                f"{path}.op", f"{operator.value} applies to text; {found.name} is {found.type.value}"
            )
            return None
        if operator in _ORDERED_OPERATORS and found.type in (ColumnType.STRING, ColumnType.BOOLEAN):
            self.check.fail(f"{path}.op", f"{found.name} has no order for {operator.value}")
            return None
        if operator is Operator.WITHIN and not found.temporal:
            self.check.fail(f"{path}.op", f"within applies to dates; {found.name} is {found.type.value}")
            return None
        values = [self._value(v, found, operator, f"{path}.values[{i}]") for i, v in enumerate(raw)]
        if any(v is None for v in values):
            return None
        runtime = self._bool(entry.get("runtime"), f"{path}.runtime", False)
        identifier = entry.get("id") or found.name
        if not isinstance(identifier, str):
            self.check.fail(f"{path}.id", "must be a text")
            return None
        return Condition(found.name, operator, tuple(v for v in values if v is not None), runtime, identifier)

    def _value(self, value: Any, found: Field, operator: Operator, path: str) -> FilterValue | None:
        if found.temporal:
            if operator is Operator.WITHIN:
                if value not in RELATIVE_PERIODS and not (isinstance(value, str) and _is_last_n(value)):
                    self.check.fail(
                        path, f"must be a relative period ({', '.join(RELATIVE_PERIODS)}, last_N_days)"
                    )
                    return None
                return parse_date_value(str(value))
            parsed = parse_date_value(value) if isinstance(value, str) else None
            if parsed is None:
                self.check.fail(
                    path, f"{found.name} takes a date (YYYY-MM-DD), a timestamp or a relative date"
                )
            return parsed
        if found.type is ColumnType.BOOLEAN:
            if not isinstance(value, bool):
                self.check.fail(path, f"{found.name} takes true or false")
                return None
            return value
        if found.numeric:
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                unit = " in minor units" if found.type is ColumnType.MONEY else ""
                self.check.fail(path, f"{found.name} takes a whole number{unit}, got {value!r}")
                return None
            return value
        if not isinstance(value, str):
            self.check.fail(path, f"{found.name} takes a text, got {value!r}")
            return None
        return value

    def _details(self, value: Any) -> list[str]:
        names: list[str] = []
        for index, item in enumerate(self._list(value, "detail_columns", MAX_DETAIL_COLUMNS)):
            found = self._field(item, f"detail_columns[{index}]")
            if found is not None:
                names.append(found.name)
        return names

    def _sorts(self, value: Any, dimensions: Sequence[Dimension], measures: Sequence[Measure]) -> list[Sort]:
        known = {d.field for d in dimensions} | {m.name for m in measures} | set(self.fields)
        sorts: list[Sort] = []
        for index, item in enumerate(self._list(value, "sort", 5)):
            path = f"sort[{index}]"
            entry = self._object(item, path)
            if entry is None:
                continue
            self._known_keys(entry, {"by", "descending"}, path)
            by = entry.get("by")
            if not isinstance(by, str) or by not in known:
                self.check.fail(
                    f"{path}.by", f"must name a dimension, a measure or a detail column, got {by!r}"
                )
                continue
            sorts.append(Sort(by, self._bool(entry.get("descending"), f"{path}.descending", False)))
        return sorts

    def _chart(self, value: Any, measures: Sequence[Measure]) -> ChartSpec | None:
        if value is None:
            return None
        entry = self._object(value, "chart")
        if entry is None:
            return None
        self._known_keys(entry, {"kind", "measure", "title", "compare_with", "stages"}, "chart")
        kind = self._enum(ChartKind, entry.get("kind"), "chart.kind")
        stages = self._stages(entry.get("stages"), measures)
        measure = entry.get("measure", stages[0] if stages else None)
        if measure not in {m.name for m in measures}:
            self.check.fail("chart.measure", f"must name one of the measures, got {measure!r}")
            return None
        title = entry.get("title") if isinstance(entry.get("title"), str) else ""
        compare_with = []
        for index, other in enumerate(self._list(entry.get("compare_with", []), "chart.compare_with", 5)):
            if other not in {m.name for m in measures}:
                self.check.fail(
                    f"chart.compare_with[{index}]", f"must name one of the measures, got {other!r}"
                )
            else:
                compare_with.append(str(other))
        if kind is None:
            return None
        return ChartSpec(kind, str(measure), str(title), tuple(compare_with), stages=tuple(stages))

    def _stages(self, value: Any, measures: Sequence[Measure]) -> list[str]:
        stages: list[str] = []
        for index, stage in enumerate(self._list(value, "chart.stages", MAX_MEASURES)):
            if stage not in {m.name for m in measures}:
                self.check.fail(f"chart.stages[{index}]", f"must name one of the measures, got {stage!r}")
            else:
                stages.append(str(stage))
        if stages and self.doc.get("layout") == Layout.MATRIX.value:
            self.check.fail("chart.stages", "a matrix charts one measure across its columns, not stages")
        return stages

    def _as_of(self, value: Any, source: Source) -> DateValue | None:
        if value is None:
            return None
        if source not in AS_OF_SOURCES:
            self.check.fail("as_of", f"{source.value} has no past states to read (only opportunities)")
            return None
        parsed = parse_date_value(value) if isinstance(value, str) else None
        if parsed is None:
            self.check.fail("as_of", "must be a date (YYYY-MM-DD), a timestamp (RFC 3339) or a relative date")
        return parsed

    def _org_as_of(self, value: Any) -> DateValue | None:
        if value is None:
            return None
        if "team" not in self.fields:
            self.check.fail("org_as_of", "this source has no team to read as it was")
            return None
        parsed = parse_date_value(value) if isinstance(value, str) else None
        if parsed is None:
            self.check.fail(
                "org_as_of", "must be a date (YYYY-MM-DD), a timestamp (RFC 3339) or a relative date"
            )
        return parsed

    def _parameters(self, value: Any, source: Source) -> dict[str, DateValue | str]:
        allowed = SOURCE_PARAMETERS.get(source, ())
        entry = self._object(value, "parameters") if value is not None else {}
        if entry is None:
            return {}
        self._known_keys(entry, set(allowed), "parameters")
        parameters: dict[str, DateValue | str] = {}
        for name in allowed:
            raw = entry.get(name)
            if raw is None:
                continue
            if name in (*ATTRIBUTION_PARAMETERS, BASIS):
                canonical, problem = canonical_parameter(name, raw)
                if problem:
                    self.check.fail(f"parameters.{name}", problem)
                else:
                    parameters[name] = canonical
                continue
            if name in ("window", "period"):
                if not isinstance(raw, str) or not raw:
                    self.check.fail(
                        f"parameters.{name}", "must be a period id (2026-Q4, 2026-11) or a relative period"
                    )
                    continue
                parameters[name] = raw
                continue
            parsed = parse_date_value(raw) if isinstance(raw, str) else None
            if parsed is None:
                self.check.fail(f"parameters.{name}", "must be a date, a timestamp or a relative date")
                continue
            parameters[name] = parsed
        return parameters

    def _check_layout(self, spec: ReportSpec) -> None:
        if spec.layout is Layout.ROWS_AND_COLUMNS:
            if not spec.detail_columns:
                self.check.fail("detail_columns", "rows and columns needs at least one detail column")
            if spec.dimensions or spec.measures:
                self.check.fail(
                    "layout", "rows and columns shows records: use summation to group and measure"
                )
            return
        if not spec.measures:
            self.check.fail("measures", f"{spec.layout.value} needs at least one measure")
        if not spec.dimensions and spec.layout is not Layout.SUMMATION:
            self.check.fail("dimensions", f"{spec.layout.value} needs at least one dimension")
        if spec.layout is Layout.SUMMATION_WITH_DETAILS and not spec.detail_columns:
            self.check.fail("detail_columns", "summation with details needs at least one detail column")
        if spec.layout is Layout.MATRIX:
            if len(spec.dimensions) < 2:
                self.check.fail("dimensions", "a matrix needs two or three dimensions")
            elif not 1 <= spec.column_dimensions < len(spec.dimensions):
                self.check.fail(
                    "column_dimensions", "a matrix puts at least one dimension down and at least one across"
                )
        elif spec.column_dimensions:
            self.check.fail("column_dimensions", "only a matrix has column dimensions")
        for name in SOURCE_PARAMETERS.get(spec.source, ()):
            if name in ("from", "to") and name not in spec.parameters:
                self.check.fail(f"parameters.{name}", f"{spec.source.value} needs parameters.{name}")
        if spec.chart is not None and not spec.dimensions:
            self.check.fail("chart", "a chart needs a dimension for its categories")
        if "from" in spec.parameters and "to" in spec.parameters:
            start, end = spec.parameters["from"], spec.parameters["to"]
            dated = isinstance(start, (date, datetime)) and isinstance(end, (date, datetime))
            if dated and _instant_key(start) > _instant_key(end):  # type: ignore[arg-type]
                self.check.fail("parameters.to", "must not be before parameters.from")


def _instant_key(value: date | datetime) -> tuple[int, int, int, float]:
    if isinstance(value, datetime):
        return (value.year, value.month, value.day, value.timestamp() % 86400)
    return (value.year, value.month, value.day, 86400.0)


def _is_last_n(value: str) -> bool:
    return LAST_N_DAYS.fullmatch(value) is not None


def parse_definition(document: Mapping[str, Any]) -> ReportSpec:
    """The definition the document describes; InvalidArgument naming every bad field otherwise."""
    parser = _Parser(document)
    spec = parser.parse()
    assert spec is not None  # parse raises when it cannot build one
    return spec
