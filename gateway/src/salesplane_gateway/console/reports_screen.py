"""Reports: the built-in and saved reports the user may run; one report run with its run-time
filters and parameters (a GET form, so a run is a link), its table and chart, CSV and XLSX
downloads, and its e-mail schedules. Building and editing: report_editor.py; schedules:
report_schedules.py.

Every run is the reporting service's, in the user's own scope, whoever saved the report: the
console passes the report id from the URL and shows what the service answers (a 404 or 403 page
for a report the user may not run)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, request
from google.protobuf.message import Message
from werkzeug.wrappers import Response

from salesplane.reporting.v1 import reporting_pb2
from salesplane_gateway import upstream
from salesplane_gateway.console import report_editor, report_schedules
from salesplane_gateway.console.localisation import gettext
from salesplane_gateway.console.pages import call, page, require_user, see_other, user
from salesplane_gateway.console.report_builder import struct_dict
from salesplane_gateway.console.report_results import shown_report
from salesplane_gateway.console.report_run import list_sources, period_words, run_errors, run_form
from salesplane_gateway.downloads import OCTET_STREAM, attachment, safe_filename
from salesplane_gateway.problems import Problem
from salesplane_gateway.request_context import state
from salesplane_gateway.routes_reporting import REPORTING
from salesplane_gateway.upstream import ResponseStream

EXPORT_FORMATS = {"csv": reporting_pb2.EXPORT_FORMAT_CSV, "xlsx": reporting_pb2.EXPORT_FORMAT_XLSX}
_REFUSED_RUN = (400, 422)


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/reports", "reports", require_user(_reports), methods=["GET"])
    report_editor.register(blueprint)
    blueprint.add_url_rule("/reports/<report_id>", "report", require_user(_report), methods=["GET"])
    blueprint.add_url_rule(
        "/reports/<report_id>/export", "report_export", require_user(_export), methods=["GET"]
    )
    blueprint.add_url_rule(
        "/reports/<report_id>/delete", "report_delete", require_user(_delete), methods=["POST"]
    )
    report_schedules.register(blueprint)


def _reports() -> Response:
    reports = call(REPORTING.rpc("ListReports"), reporting_pb2.ListReportsRequest()).reports
    notice = {"deleted": gettext("Report deleted.")}.get(request.args.get("done", ""), "")
    return page(
        "console/reports.html",
        title=gettext("Reports"),
        builtin=[r for r in reports if r.builtin],
        saved=[r for r in reports if not r.builtin],
        me_id=user().user_id,
        notice=notice,
    )


def _report(report_id: str) -> Response:
    return report_page(report_id)


def report_page(
    report_id: str,
    *,
    run_problems: dict[str, str] | None = None,
    schedule_errors: dict[str, str] | None = None,
    schedule_values: dict[str, str] | None = None,
) -> Response:
    """The report run as the query asks, with its schedules; status 422 when something the user
    gave was refused (beside its field)."""
    definition = call(REPORTING.rpc("GetReport"), reporting_pb2.GetReportRequest(report_id=report_id))
    document = struct_dict(definition.definition)
    form = run_form(report_id, document, list_sources().get(str(document.get("source", ""))), request.args)
    errors = {**form.errors, **(run_problems or {})}
    result = None
    if not errors:
        try:
            result = shown_report(call(REPORTING.rpc("RunReport"), form.request))
        except Problem as problem:
            if problem.status not in _REFUSED_RUN:
                raise
            errors = run_errors(problem, form)
    refused = bool(errors or schedule_errors)
    return page(
        "console/report.html",
        status=422 if refused else 200,
        title=definition.title,
        report=definition,
        form=form,
        errors=errors,
        result=result,
        export_formats=tuple(EXPORT_FORMATS),
        may_change=not definition.builtin and (definition.owner_user_id == user().user_id or user().is_admin),
        notice=_notice(),
        period_words=period_words(),
        **report_schedules.schedule_context(report_id, schedule_errors or {}, schedule_values or {}),
    )


def _notice() -> str:
    return {
        "saved": gettext("Report saved."),
        "scheduled": gettext("Schedule saved. The report will be e-mailed as it says."),
        "unscheduled": gettext("Schedule deleted."),
    }.get(request.args.get("done", ""), "")


def _export(report_id: str) -> Response:
    chosen = request.args.get("format", "csv")
    if chosen not in EXPORT_FORMATS:
        raise Problem(400, "Bad request", gettext("Choose CSV or XLSX."))
    definition = call(REPORTING.rpc("GetReport"), reporting_pb2.GetReportRequest(report_id=report_id))
    document = struct_dict(definition.definition)
    form = run_form(report_id, document, list_sources().get(str(document.get("source", ""))), request.args)
    if form.errors:
        return report_page(report_id)
    try:
        stream = upstream.call_streaming(
            REPORTING.rpc("ExportReport"),
            reporting_pb2.ExportReportRequest(run=form.request, format=EXPORT_FORMATS[chosen]),
            timeout_seconds=state().config.download_rpc_timeout_seconds,
        )
    except Problem as problem:
        if problem.status not in _REFUSED_RUN:
            raise
        return report_page(report_id, run_problems=run_errors(problem, form))
    return _download(stream, f"{report_id}.{chosen}")


def _download(stream: ResponseStream, default_name: str) -> Response:
    """The export's pieces sent on as they arrive (a large CSV is never held whole here)."""
    first = next(stream, None)
    if first is None:
        raise Problem(502, "Upstream error", gettext("The reporting service sent no file."))
    media_type = str(getattr(first, "content_type", "")) or OCTET_STREAM
    body = _Pieces(first, stream)
    if ";" in media_type:
        response = Response(body, content_type=media_type)
    else:
        response = Response(body, mimetype=media_type)
    response.headers["Content-Disposition"] = attachment(
        safe_filename(str(getattr(first, "filename", "")) or default_name)
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


class _Pieces:
    """The bytes of each chunk; closing the body (sent, or the browser went away) cancels the call."""

    def __init__(self, first: Message, stream: ResponseStream) -> None:
        self._first = first
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        if data := _data(self._first):
            yield data
        for piece in self._stream:
            if data := _data(piece):
                yield data

    def close(self) -> None:
        self._stream.close()


def _data(piece: Any) -> bytes:
    return bytes(piece.data)


def _delete(report_id: str) -> Response:
    call(REPORTING.rpc("DeleteReport"), reporting_pb2.DeleteReportRequest(report_id=report_id))
    return see_other("console.reports", done="deleted")
