"""Building a report with a form: pick a source, then its dimensions, measures, filters, layout,
chart and parameters; "Preview" runs the unsaved definition, "Save" keeps it (a new report, or the
edited one at the version that was read), with its sharing. A built-in report is not edited: its
"Save a copy" opens the builder filled with its definition.

The reporting service judges the definition; each field violation it names is shown beside the
form field it is about (report_builder.form_field), and nothing is saved unless all is well."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, redirect, request, url_for
from werkzeug.wrappers import Response

from salesplane.reporting.v1 import reporting_pb2
from salesplane_gateway.console.localisation import gettext
from salesplane_gateway.console.pages import call, form_errors, page, require_user, see_other
from salesplane_gateway.console.report_builder import (
    DIMENSION_ROWS,
    SHARING,
    Built,
    FormValues,
    definition_from_form,
    form_field,
    form_from_definition,
    form_values,
    row_counts,
    struct_dict,
    to_struct,
)
from salesplane_gateway.console.report_results import ShownReport, shown_report
from salesplane_gateway.console.report_run import (
    base_currency,
    choice_words,
    list_sources,
    parameter_choices,
    parameter_hint,
    parameter_label,
    period_words,
    source_words,
    takes_period,
)
from salesplane_gateway.problems import Problem
from salesplane_gateway.routes_reporting import REPORTING

MAX_TITLE, MAX_DESCRIPTION = 200, 2000
_REFUSED = (400, 409, 422)


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/reports/new", "report_new", require_user(_new), methods=["GET", "POST"])
    blueprint.add_url_rule(
        "/reports/<report_id>/edit", "report_edit", require_user(_edit), methods=["GET", "POST"]
    )


def _new() -> Response | Any:
    sources = list_sources()
    if request.method == "POST":
        return _submitted(sources, report_id="")
    copied = request.args.get("from", "")
    if copied:
        original = call(REPORTING.rpc("GetReport"), reporting_pb2.GetReportRequest(report_id=copied))
        document = struct_dict(original.definition)
        source = sources.get(str(document.get("source", "")))
        if source is not None:
            values = form_from_definition(document, {f.name: f for f in source.fields}, base_currency())
            values["title"] = gettext("Copy of %(title)s", title=original.title)
            values["description"] = original.description
            return _builder(sources, source, values, report_id="")
    source = sources.get(request.args.get("source", ""))
    if source is None:
        return _builder(sources, None, {}, report_id="")
    return _builder(
        sources, source, {"source": source.name, "layout": "summation", "grand_total": "on"}, report_id=""
    )


def _edit(report_id: str) -> Response | Any:
    sources = list_sources()
    if request.method == "POST":
        return _submitted(sources, report_id=report_id)
    report = call(REPORTING.rpc("GetReport"), reporting_pb2.GetReportRequest(report_id=report_id))
    if report.builtin:
        return redirect(url_for("console.report_new") + "?" + urlencode({"from": report_id}), code=303)
    document = struct_dict(report.definition)
    asked = request.args.get("source", "")
    if asked and asked != document.get("source") and asked in sources:
        # Another source has other fields: start its form afresh, keeping what is not about fields.
        values: FormValues = {"source": asked, "layout": "summation", "grand_total": "on"}
    else:
        source = sources.get(str(document.get("source", "")))
        fields = {f.name: f for f in source.fields} if source is not None else {}
        values = form_from_definition(document, fields, base_currency())
    values.update(
        title=report.title,
        description=report.description,
        sharing=report.sharing,
        version=str(report.version),
    )
    source = sources.get(str(values.get("source", "")))
    if source is None:
        raise Problem(422, "Unknown source", gettext("This report reads a source the console does not know."))
    return _builder(sources, source, values, report_id=report_id)


def _submitted(sources: dict[str, reporting_pb2.Source], *, report_id: str) -> Response:
    values = form_values(request.form)
    source = sources.get(str(values.get("source", "")))
    if source is None:
        return _builder(
            sources, None, values, report_id=report_id, errors={"source": gettext("Choose a source.")}
        )
    built = definition_from_form(values, source, base_currency())
    if built.errors:
        return _builder(sources, source, values, report_id=report_id, errors=built.errors)
    if request.form.get("action") == "save":
        return _save(sources, source, values, built, report_id)
    try:
        result = call(
            REPORTING.rpc("RunReport"), reporting_pb2.RunReportRequest(definition=to_struct(built.document))
        )
    except Problem as problem:
        if problem.status not in _REFUSED:
            raise
        return _builder(sources, source, values, report_id=report_id, errors=_errors(problem, built))
    return _builder(sources, source, values, report_id=report_id, preview=shown_report(result))


def _save(
    sources: dict[str, reporting_pb2.Source],
    source: reporting_pb2.Source,
    values: FormValues,
    built: Built,
    report_id: str,
) -> Response:
    title, description = values.get("title", "").strip(), values.get("description", "").strip()
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = gettext("Give the report a title.")
    elif len(title) > MAX_TITLE:
        errors["title"] = gettext("At most %(n)s characters.", n=MAX_TITLE)
    if len(description) > MAX_DESCRIPTION:
        errors["description"] = gettext("At most %(n)s characters.", n=MAX_DESCRIPTION)
    sharing = values.get("sharing") or "private"
    if sharing not in SHARING:
        errors["sharing"] = gettext("Choose who may run the report.")
    if errors:
        return _builder(sources, source, values, report_id=report_id, errors=errors)
    message = reporting_pb2.SaveReportRequest(
        report_id=report_id,
        title=title,
        description=description,
        sharing=sharing,
        definition=to_struct(built.document),
        expected_version=_version(values.get("version", "")),
    )
    try:
        saved = call(REPORTING.rpc("UpdateReport" if report_id else "CreateReport"), message)
    except Problem as problem:
        if problem.status not in _REFUSED:
            raise
        errors = _errors(problem, built)
        if problem.status == 409:
            errors = {
                "": gettext(
                    "Someone else changed this report since you opened it. Reload it to see their version."
                )
            }
        return _builder(sources, source, values, report_id=report_id, errors=errors)
    return see_other("console.report", report_id=saved.id, done="saved")


def _version(text: str) -> int:
    try:
        return max(int(text), 0)
    except ValueError:
        return 0


def _errors(problem: Problem, built: Built) -> dict[str, str]:
    names: dict[str, str] = {}
    unplaced: list[str] = []
    for violation in problem.errors:
        names[violation.field] = form_field(violation.field, built)
        if not names[violation.field]:
            unplaced.append(f"{violation.field}: {violation.description}")
    errors = form_errors(problem, names)
    if unplaced:
        # What the form does not show (a kept part of the definition) is said with its path.
        errors[""] = " ".join(unplaced)
    return errors


def _builder(
    sources: dict[str, reporting_pb2.Source],
    source: reporting_pb2.Source | None,
    values: FormValues,
    *,
    report_id: str,
    errors: dict[str, str] | None = None,
    preview: ShownReport | None = None,
) -> Response:
    measure_rows, filter_rows = row_counts(values)
    fields = list(source.fields) if source is not None else []
    measures = [
        (str(values[f"m{row}_name"]), str(values.get(f"m{row}_title") or values[f"m{row}_name"]))
        for row in range(measure_rows)
        if values.get(f"m{row}_name") and values.get(f"m{row}_aggregate")
    ]
    none = [("", gettext("(none)"))]
    return page(
        "console/report_builder.html",
        status=422 if errors else 200,
        title=gettext("Edit report") if report_id else gettext("Build a report"),
        sources=sources,
        source=source,
        report_id=report_id,
        values=values,
        errors=errors or {},
        preview=preview,
        words=choice_words(),
        period_words=period_words(),
        fields=fields,
        dimension_rows=range(DIMENSION_ROWS),
        measure_rows=range(measure_rows),
        filter_rows=range(filter_rows),
        field_options=none + [(f.name, f.title) for f in fields],
        group_options=none + [(f.name, f.title) for f in fields if f.groupable],
        sort_options=none + measures + [(f.name, f.title) for f in fields],
        chart_measure_options=[("", gettext("The first measure")), *measures],
        source_options=[(name, source_words().get(name, name)) for name in sources],
        parameters=[
            {
                "name": f"param.{name}",
                "label": parameter_label(name),
                "hint": parameter_hint(name),
                "choices": parameter_choices(name, str(values.get(f"param.{name}", ""))),
                "suggest_periods": takes_period(name),
            }
            for name in (source.parameters if source is not None else ())
        ],
    )
