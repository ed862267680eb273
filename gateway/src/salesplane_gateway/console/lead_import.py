"""Importing leads from a CSV file, with the per-row report.

The file is posted (multipart) to this view, which sends it to ImportLeads exactly as the public
HTTP import does (csv_import.py): cut at record boundaries into chunks, each with the header and
the line number it starts at, so the report names the lines of the user's own file; the chunks'
reports merged into one. The import is one request: while it runs the page shows a <progress>
bar (htmx's request state shows the form's .htmx-indicator); without script the form posts and the
report page follows.

A file is read and cut whole before anything is imported, so a malformed record near the end
imports nothing. A chunk refused after earlier ones were imported stops there, and the report of
the rows before it is shown with the line it reached: sending the same file again is safe, since
ImportLeads never imports a row twice."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import Blueprint, request
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from salesplane.leads.v1 import leads_pb2 as pb
from salesplane_gateway import upstream
from salesplane_gateway.console.list_filters import FORM_STATUSES, errors_by_field
from salesplane_gateway.console.localisation import gettext
from salesplane_gateway.console.pages import fragment, is_htmx, page, require_user
from salesplane_gateway.console.signed_in_user import signed_in_user
from salesplane_gateway.csv_import import csv_chunks, merge_reports
from salesplane_gateway.problems import Problem
from salesplane_gateway.request_context import state
from salesplane_gateway.routes_leads import LEADS

P = ParamSpec("P")
R = TypeVar("R")

POLICIES = {
    "reject": pb.DUPLICATE_POLICY_REJECT,
    "insist": pb.DUPLICATE_POLICY_INSIST,
    "merge": pb.DUPLICATE_POLICY_MERGE,
}
_BYTE_ORDER_MARK = "\ufeff"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_FIELDS = {"csv_text": "file", "file_name": "file", "on_duplicate": "on_duplicate", "body": "file"}


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule(
        "/leads/import", "lead_import", _import_limit(require_user(_import)), methods=["GET", "POST"]
    )


def _import_limit(view: Callable[P, R]) -> Callable[P, R | Response]:
    """Before anything reads the body (the CSRF check reads the form): the app-wide body limit is
    for JSON, an import may be as large as the HTTP import allows. A larger file is refused beside
    the file field without being read."""

    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        limit = state().config.max_import_bytes
        request.max_content_length = limit
        if request.method == "POST" and (request.content_length or 0) > limit and signed_in_user():
            megabytes = max(1, limit // (1024 * 1024))
            message = gettext("The file is larger than %(n)s MB. Split it into smaller files.", n=megabytes)
            return _answer({"file": message}, None, status=413)
        return view(*args, **kwargs)

    return wrapped


def outcome_labels() -> dict[int, str]:
    return {
        pb.IMPORT_ROW_OUTCOME_UNSPECIFIED: "\u2013",
        pb.IMPORT_ROW_OUTCOME_IMPORTED: gettext("Imported"),
        pb.IMPORT_ROW_OUTCOME_INVALID: gettext("Error"),
        pb.IMPORT_ROW_OUTCOME_DUPLICATE: gettext("Duplicate"),
        pb.IMPORT_ROW_OUTCOME_ALREADY_IMPORTED: gettext("Already imported"),
        pb.IMPORT_ROW_OUTCOME_MERGED: gettext("Merged into an existing lead"),
    }


def _import() -> Response:
    if request.method == "GET":
        return _answer({}, None)
    policy = request.form.get("on_duplicate", "reject")
    errors: dict[str, str] = {}
    if policy not in POLICIES:
        errors["on_duplicate"] = gettext("Choose a value from the list.")
    upload = request.files.get("file")
    text = _text_of(upload, errors)
    if errors or text is None or upload is None:
        return _answer(errors, None, policy=policy, status=422)
    try:
        chunks = list(csv_chunks(text))
    except Problem as problem:
        return _answer(errors_by_field(problem, _FIELDS), None, policy=policy, status=422)
    total = pb.ImportLeadsResponse()
    processed_through = 0
    for chunk in chunks:
        message = pb.ImportLeadsRequest(
            csv_text=chunk.text,
            first_line_number=chunk.first_line_number,
            on_duplicate=POLICIES[policy],
            file_name=_CONTROL.sub("", upload.filename or "")[:255],
        )
        try:
            answer = upstream.call(
                LEADS.rpc("ImportLeads"), message, timeout_seconds=state().config.import_rpc_timeout_seconds
            )
        except Problem as problem:
            if problem.status not in FORM_STATUSES and not processed_through:
                raise
            errors = errors_by_field(problem, _FIELDS)
            if processed_through:
                # What was imported stays imported: the report says so, and up to where.
                errors[""] = gettext(
                    "The import stopped after line %(line)s: %(why)s The rows up to there are imported "
                    "(below). Send the same file again to import the rest: no row is imported twice.",
                    line=processed_through,
                    why=problem.detail,
                )
                return _answer(errors, total, policy=policy, status=422)
            return _answer(errors, None, policy=policy, status=422)
        merge_reports(total, answer)
        processed_through = chunk.last_line_number
    return _answer({}, total, policy=policy)


def _text_of(upload: FileStorage | None, errors: dict[str, str]) -> str | None:
    if upload is None or not upload.filename:
        errors["file"] = gettext("Choose a CSV file.")
        return None
    data: bytes = upload.read()
    try:
        text = data.decode("utf-8").removeprefix(_BYTE_ORDER_MARK)  # as spreadsheets write it
    except UnicodeDecodeError as error:
        errors["file"] = gettext(
            "The file is not UTF-8 text (byte %(n)s). Save it as “CSV UTF-8” and try again.", n=error.start
        )
        return None
    if not text.strip():
        errors["file"] = gettext("The file is empty: it needs a header line and data lines.")
        return None
    return text


def _answer(
    errors: dict[str, str],
    report: pb.ImportLeadsResponse | None,
    *,
    policy: str = "reject",
    status: int = 200,
) -> Response:
    context = {
        "errors": errors,
        "report": report,
        "problem_rows": [row for row in report.rows if row.outcome != pb.IMPORT_ROW_OUTCOME_IMPORTED]
        if report is not None
        else [],
        "imported_rows": [row for row in report.rows if row.outcome == pb.IMPORT_ROW_OUTCOME_IMPORTED]
        if report is not None
        else [],
        "outcome_labels": outcome_labels(),
        "policy": policy,
        "policy_options": [
            ("reject", gettext("Report them as duplicates and skip them")),
            ("merge", gettext("Add their details to the existing lead")),
            ("insist", gettext("Import them anyway")),
        ],
    }
    if is_htmx():
        answer = fragment("console/lead_import_panel.html", **context)
        answer.status_code = status
        return answer
    return page("console/lead_import.html", status=status, title=gettext("Import leads"), **context)
