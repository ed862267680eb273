"""Running a report from the console: the run-time filters and source parameters a report takes,
shown as a form (query parameters `filter.<id>` and `param.<name>`, as the HTTP API names them),
the RunReportRequest they make, the service's problems mapped beside their inputs, and the words
for the definitions' choices (aggregates, operators, layouts...) in the reader's language."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import struct_pb2

from salesplane.opportunities.v1 import opportunities_pb2
from salesplane.reporting.v1 import reporting_pb2
from salesplane_gateway.console.localisation import gettext
from salesplane_gateway.console.pages import call, form_errors
from salesplane_gateway.console.report_builder import (
    MODELS,
    RELATIVE_PERIODS,
    runtime_filters,
    typed_values,
    value_text,
)
from salesplane_gateway.problems import Problem
from salesplane_gateway.routes_opportunities import OPPORTUNITIES
from salesplane_gateway.routes_reporting import REPORTING

FILTER_PREFIX, PARAM_PREFIX = "filter.", "param."
# When the organisation's base currency cannot be read: most currencies have two decimals, and the
# service checks whatever amount it is given.
_FALLBACK_CURRENCY = "EUR"


@dataclass(frozen=True)
class RunInput:
    name: str
    label: str
    value: str
    hint: str = ""
    # A select's (value, text) options; empty: a text input.
    choices: tuple[tuple[str, str], ...] = ()
    # A text input that suggests the relative periods.
    suggest_periods: bool = False


@dataclass
class RunForm:
    request: reporting_pb2.RunReportRequest
    inputs: list[RunInput]
    errors: dict[str, str] = field(default_factory=dict)
    # The definition path of each run-time filter, by its input's name.
    paths: dict[str, str] = field(default_factory=dict)
    # The run's own query parameters, for links that run it again (the exports).
    query: dict[str, str] = field(default_factory=dict)


def list_sources() -> dict[str, reporting_pb2.Source]:
    answer = call(REPORTING.rpc("ListSources"), reporting_pb2.ListSourcesRequest())
    return {source.name: source for source in answer.sources}


def base_currency() -> str:
    """The currency base amounts are in (money filters are typed in it)."""
    try:
        answer = call(OPPORTUNITIES.rpc("ListExchangeRates"), opportunities_pb2.ListExchangeRatesRequest())
    except Problem:
        return _FALLBACK_CURRENCY
    return str(answer.base_currency_code) or _FALLBACK_CURRENCY


def run_form(
    report_id: str,
    document: Mapping[str, Any],
    source: reporting_pb2.Source | None,
    args: Mapping[str, str],
) -> RunForm:
    """The report's run-time inputs with the values asked for (else the saved ones), and the run
    they make. A value the console can already tell is wrong is an error, and nothing runs."""
    fields = {f.name: f for f in source.fields} if source is not None else {}
    form = RunForm(request=reporting_pb2.RunReportRequest(report_id=report_id), inputs=[])
    filters = runtime_filters(document)
    currency = (
        base_currency()
        if any(fields.get(f.field, _NO_FIELD).type == reporting_pb2.COLUMN_TYPE_MONEY for f in filters)
        else ""
    )
    for runtime in filters:
        name = FILTER_PREFIX + runtime.id
        known = fields.get(runtime.field)
        field_type = known.type if known is not None else reporting_pb2.COLUMN_TYPE_STRING
        saved = value_text(runtime.values, field_type, currency)
        asked = args.get(name)
        form.paths[name] = runtime.path
        choices: tuple[tuple[str, str], ...] = ()
        if runtime.op == "within":
            choices = period_choices(asked or saved)
        form.inputs.append(
            RunInput(
                name=name,
                label=known.title if known is not None else runtime.field,
                value=saved if asked is None else asked,
                hint=operator_hint(runtime.op),
                choices=choices,
            )
        )
        if asked is None:
            continue
        form.query[name] = asked
        typed, problem = typed_values(asked, field_type, runtime.op, currency)
        if problem:
            form.errors[name] = problem
            continue
        form.request.filter_values[runtime.id].values.extend(_value(v) for v in typed)
    saved_parameters = document.get("parameters") or {}
    for parameter in source.parameters if source is not None else ():
        name = PARAM_PREFIX + parameter
        asked = args.get(name, "").strip()
        saved = str(saved_parameters.get(parameter, ""))
        if asked:
            form.query[name] = asked
            form.request.parameters[parameter] = asked
        form.inputs.append(
            RunInput(
                name=name,
                label=parameter_label(parameter),
                value=asked or saved,
                hint=parameter_hint(parameter),
                choices=parameter_choices(parameter, asked or saved),
                suggest_periods=takes_period(parameter),
            )
        )
    return form


_NO_FIELD = reporting_pb2.SourceField()


def _value(value: bool | int | str) -> struct_pb2.Value:
    if isinstance(value, bool):
        return struct_pb2.Value(bool_value=value)
    if isinstance(value, int):
        return struct_pb2.Value(number_value=value)
    return struct_pb2.Value(string_value=value)


def run_errors(problem: Problem, form: RunForm) -> dict[str, str]:
    """The service's problems with a run, beside the run-time input each one is about."""
    names = {violation.field: run_field(violation.field, form) for violation in problem.errors}
    return form_errors(problem, names)


def run_field(path: str, form: RunForm) -> str:
    path = path.removeprefix("run.").removeprefix("definition.")
    if path.startswith("filter_values."):
        return FILTER_PREFIX + path.removeprefix("filter_values.").split(".")[0]
    if path.startswith("parameters."):
        return PARAM_PREFIX + path.removeprefix("parameters.").split(".")[0]
    for name, filter_path in form.paths.items():
        if path == filter_path or path.startswith((filter_path + ".", filter_path + "[")):
            return name
    return ""


# -- words ---------------------------------------------------------------------------------------


def period_choices(current: str) -> tuple[tuple[str, str], ...]:
    words = period_words()
    choices = [(value, words.get(value, value)) for value in RELATIVE_PERIODS]
    if current and current not in RELATIVE_PERIODS:
        choices.insert(0, (current, words.get(current, current)))
    return tuple(choices)


def parameter_choices(parameter: str, current: str) -> tuple[tuple[str, str], ...]:
    if parameter == "model":
        words = model_words()
        return tuple((m, words[m]) for m in MODELS)
    if parameter == "basis":
        return (
            ("period", gettext("By date in the window")),
            ("cohort", gettext("Leads created in the window")),
        )
    return ()


def takes_period(parameter: str) -> bool:
    """A date or period parameter: typed, with the relative periods suggested (a datalist)."""
    return parameter in ("from", "to", "window", "period")


def parameter_label(parameter: str) -> str:
    return {
        "from": gettext("From"),
        "to": gettext("To"),
        "window": gettext("Close dates within"),
        "period": gettext("Period"),
        "model": gettext("Attribution model"),
        "basis": gettext("Count by"),
        "lookback_days": gettext("Touches within (days before the deal)"),
        "half_life_days": gettext("Time-decay half-life (days)"),
    }.get(parameter, parameter)


def parameter_hint(parameter: str) -> str:
    if parameter in ("from", "to"):
        return gettext("A date (YYYY-MM-DD) or a relative date such as today.")
    if parameter in ("window", "period"):
        return gettext("A period such as 2026-Q4, or a relative period.")
    return ""


def operator_hint(op: str) -> str:
    return {
        "in": gettext("One of these values, separated by commas."),
        "not_in": gettext("None of these values, separated by commas."),
        "between": gettext("From and to, separated by a comma."),
        "within": gettext("Within this period."),
        "lt": gettext("Before or less than this value."),
        "le": gettext("At most this value."),
        "gt": gettext("After or more than this value."),
        "ge": gettext("At least this value."),
        "contains": gettext("Text that contains this."),
        "starts_with": gettext("Text that starts with this."),
    }.get(op, "")


def model_words() -> dict[str, str]:
    return {
        "first_touch": gettext("First touch"),
        "last_touch": gettext("Last touch"),
        "linear": gettext("Linear"),
        "u_shaped": gettext("U-shaped"),
        "w_shaped": gettext("W-shaped"),
        "time_decay": gettext("Time decay"),
    }


def period_words() -> dict[str, str]:
    return {
        "today": gettext("Today"),
        "yesterday": gettext("Yesterday"),
        "this_week": gettext("This week"),
        "last_week": gettext("Last week"),
        "this_month": gettext("This month"),
        "last_month": gettext("Last month"),
        "next_month": gettext("Next month"),
        "this_fiscal_quarter": gettext("This fiscal quarter"),
        "last_fiscal_quarter": gettext("Last fiscal quarter"),
        "next_fiscal_quarter": gettext("Next fiscal quarter"),
        "this_fiscal_year": gettext("This fiscal year"),
        "last_fiscal_year": gettext("Last fiscal year"),
        "next_fiscal_year": gettext("Next fiscal year"),
        "last_7_days": gettext("Last 7 days"),
        "last_14_days": gettext("Last 14 days"),
        "last_30_days": gettext("Last 30 days"),
        "last_90_days": gettext("Last 90 days"),
    }


def choice_words() -> dict[str, dict[str, str]]:
    """The builder's choices in words, by kind."""
    return {
        "layout": {
            "summation": gettext("Grouped with totals"),
            "summation_with_details": gettext("Grouped, with the records under each group"),
            "matrix": gettext("Matrix (groups down and across)"),
            "rows_and_columns": gettext("Records (rows and columns)"),
        },
        "grain": {
            "": gettext("(dates: by day)"),
            "day": gettext("Day"),
            "week": gettext("Week"),
            "month": gettext("Month"),
            "fiscal_quarter": gettext("Fiscal quarter"),
            "fiscal_year": gettext("Fiscal year"),
        },
        "aggregate": {
            "": gettext("(not used)"),
            "count": gettext("Count"),
            "sum": gettext("Sum"),
            "avg": gettext("Average"),
            "min": gettext("Minimum"),
            "max": gettext("Maximum"),
            "count_distinct": gettext("Count of distinct values"),
            "median": gettext("Median"),
            "formula": gettext("Formula over measures above"),
        },
        "operator": {
            "eq": gettext("is"),
            "ne": gettext("is not"),
            "in": gettext("is one of"),
            "not_in": gettext("is none of"),
            "lt": gettext("less than / before"),
            "le": gettext("at most"),
            "gt": gettext("more than / after"),
            "ge": gettext("at least"),
            "between": gettext("between"),
            "contains": gettext("contains"),
            "starts_with": gettext("starts with"),
            "is_empty": gettext("is empty"),
            "is_not_empty": gettext("is not empty"),
            "within": gettext("within the period"),
        },
        "chart": {
            "": gettext("No chart"),
            "bar": gettext("Bars"),
            "stacked_bar": gettext("Stacked bars"),
            "line": gettext("Line"),
            "pie": gettext("Pie"),
            "funnel": gettext("Funnel"),
            "waterfall": gettext("Waterfall"),
        },
        "formula_type": {
            "percent": gettext("Percentage"),
            "decimal": gettext("Number"),
            "money": gettext("Money"),
        },
        "sharing": {
            "private": gettext("Only me"),
            "team": gettext("My team"),
            "everyone": gettext("Everyone"),
        },
    }


def source_words() -> dict[str, str]:
    return {
        "opportunities": gettext("Deals"),
        "opportunity_history": gettext("Deal history (every version)"),
        "pipeline_movement": gettext("Pipeline movement between two dates"),
        "period_performance": gettext("Quota, forecast and actuals per period"),
        "forecast_accuracy": gettext("Forecast accuracy"),
        "forecast_commits": gettext("Forecast commits"),
        "quotas": gettext("Quotas"),
        "leads": gettext("Leads"),
        "campaigns": gettext("Campaigns"),
        "lead_funnel": gettext("Lead funnel"),
        "attribution": gettext("Campaign attribution of deals"),
        "campaign_performance": gettext("Campaign performance (cost, ROI, CAC)"),
    }
