"""Use cases of the reporting service: list, run and keep reports."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from salesplane_platform.errors import Conflict, FieldViolation, InvalidArgument, NotFound, PermissionDenied
from salesplane_platform.identity import ROLE_MARKETING, Identity
from salesplane_reporting.domain.builtin_reports import BUILTIN_REPORTS, builtin
from salesplane_reporting.domain.catalogue import MARKETING_ONLY_SOURCES
from salesplane_reporting.domain.definition import Layout, ReportSpec, parse_definition
from salesplane_reporting.domain.report import Column, ReportDefinitionSummary, ReportResult, ResultRow
from salesplane_reporting.domain.run_options import NO_OPTIONS, RunOptions, apply_run_options
from salesplane_reporting.domain.saved_reports import (
    MAX_DESCRIPTION,
    MAX_TITLE,
    SavedReport,
    Sharing,
    ensure_may_change,
)
from salesplane_reporting.service_layer.unit_of_work import ReportingUnitOfWork


@dataclass(frozen=True)
class ReportDocument:
    """A report as listed and as its definition reads."""

    summary: ReportDefinitionSummary
    document: Mapping[str, Any]
    version: int = 0


def _summary(report: SavedReport) -> ReportDefinitionSummary:
    return ReportDefinitionSummary(
        id=report.report_id,
        title=report.title,
        description=report.description,
        builtin=False,
        owner_user_id=report.owner_user_id,
        sharing=report.sharing.value,
    )


def list_reports(*, caller: Identity, uow: ReportingUnitOfWork) -> list[ReportDefinitionSummary]:
    """The built-in reports the caller may run, then the saved reports the caller may run (each
    runs in the caller's own scope, whoever saved it). Campaign-wide reports are listed only to
    marketing and admins, who alone may read them."""
    sees_campaigns = caller.is_admin or ROLE_MARKETING in caller.roles
    builtins = [
        ReportDefinitionSummary(r.id, r.title, r.description)
        for r in BUILTIN_REPORTS
        if sees_campaigns or r.spec.source not in MARKETING_ONLY_SOURCES
    ]
    with uow:
        saved = [_summary(r) for r in uow.saved_reports.visible_to(caller)]
    return builtins + sorted(saved, key=lambda s: (s.title.lower(), s.id))


def get_report(*, report_id: str, caller: Identity, uow: ReportingUnitOfWork) -> ReportDocument:
    found = builtin(report_id)
    if found is not None:
        return ReportDocument(
            ReportDefinitionSummary(found.id, found.title, found.description), found.document
        )
    with uow:
        report = _readable(report_id, caller, uow)
    return ReportDocument(_summary(report), report.document, report.version)


def _readable(report_id: str, caller: Identity, uow: ReportingUnitOfWork) -> SavedReport:
    if not report_id:
        raise InvalidArgument(FieldViolation("report_id", "must name a report"))
    report = uow.saved_reports.get(report_id)
    if report is None or not uow.saved_reports.may_read(caller, report):
        # A report the caller may not see is as good as absent: its existence is not revealed.
        raise NotFound("report", report_id)
    return report


def _resolve(
    report_id: str, document: Mapping[str, Any] | None, caller: Identity, uow: ReportingUnitOfWork
) -> tuple[str, str, Mapping[str, Any]]:
    if document is not None:
        return "adhoc", "Ad hoc report", document
    found = builtin(report_id)
    if found is not None:
        return found.id, found.title, found.document
    report = _readable(report_id, caller, uow)
    return report.report_id, report.title, report.document


def run_report(
    *,
    caller: Identity,
    uow: ReportingUnitOfWork,
    report_id: str = "",
    document: Mapping[str, Any] | None = None,
    options: RunOptions = NO_OPTIONS,
    now: datetime | None = None,
) -> ReportResult:
    """Run a built-in or saved report (or an unsaved definition), limited to the caller's scope."""
    with uow:
        identifier, title, definition = _resolve(report_id, document, caller, uow)
        spec = parse_definition(apply_run_options(definition, options))
        output = uow.engine.run(spec, caller=caller, viewpoint=options.viewpoint or None)
    return ReportResult(
        report_id=identifier,
        title=title,
        columns=output.columns,
        rows=tuple(output.rows),
        generated_at=now or datetime.now(UTC),
        truncated=output.truncated,
        row_limit=spec.limit,
        notes=tuple(output.notes),
        chart=output.chart,
        parameters=tuple(sorted((k, ",".join(map(str, v))) for k, v in options.filter_values.items())),
    )


def stream_report_rows(
    *,
    caller: Identity,
    uow: ReportingUnitOfWork,
    report_id: str = "",
    document: Mapping[str, Any] | None = None,
    options: RunOptions = NO_OPTIONS,
) -> tuple[str, tuple[Column, ...], Iterator[ResultRow]] | None:
    """For a rows-and-columns report: its columns and every matching row, read lazily (no row
    limit: an export of a large result). None for other layouts, which export their result."""
    with uow:
        _, title, definition = _resolve(report_id, document, caller, uow)
        spec = parse_definition(apply_run_options(definition, options))
    if spec.layout is not Layout.ROWS_AND_COLUMNS:
        return None

    def rows() -> Iterator[ResultRow]:
        with uow:
            _, stream = uow.engine.stream_details(spec, caller=caller, viewpoint=options.viewpoint or None)
            yield from stream

    with uow:
        columns, _ = uow.engine.stream_details(spec, caller=caller, viewpoint=options.viewpoint or None)
    return title, columns, rows()


def _checked(
    title: str, description: str, sharing: str, document: Mapping[str, Any]
) -> tuple[Sharing, ReportSpec]:
    problems: list[FieldViolation] = []
    if not title.strip():
        problems.append(FieldViolation("title", "must not be empty"))
    elif len(title) > MAX_TITLE:
        problems.append(FieldViolation("title", f"may be at most {MAX_TITLE} characters"))
    elif "\x00" in title:
        # PostgreSQL refuses NUL in text: the insert failed, answered INTERNAL.
        problems.append(FieldViolation("title", "must not contain a NUL character"))
    if len(description) > MAX_DESCRIPTION:
        problems.append(FieldViolation("description", f"may be at most {MAX_DESCRIPTION} characters"))
    elif "\x00" in description:
        problems.append(FieldViolation("description", "must not contain a NUL character"))
    try:
        level = Sharing(sharing or "private")
    except ValueError:
        problems.append(FieldViolation("sharing", "must be private, team or everyone"))
        level = Sharing.PRIVATE
    spec: ReportSpec | None = None
    try:
        spec = parse_definition(document)
    except InvalidArgument as error:
        problems += [
            FieldViolation(f"definition.{v.field}" if v.field else "definition", v.description)
            for v in error.violations
        ]
    if problems:
        raise InvalidArgument(problems)
    assert spec is not None
    return level, spec


def create_report(
    *,
    caller: Identity,
    uow: ReportingUnitOfWork,
    title: str,
    description: str,
    sharing: str,
    document: Mapping[str, Any],
    now: datetime | None = None,
) -> ReportDocument:
    level, _ = _checked(title, description, sharing, document)
    moment = now or datetime.now(UTC)
    report = SavedReport(
        report_id=str(uuid.uuid4()),
        owner_user_id=caller.subject,
        sharing=level,
        title=title.strip(),
        description=description,
        document=dict(document),
        version=1,
        create_time=moment,
        update_time=moment,
    )
    with uow.acting_for(caller.subject):
        uow.saved_reports.add(report)
        _audit(uow, "ReportCreated", report)
        uow.commit()
    return ReportDocument(_summary(report), report.document, report.version)


def update_report(
    *,
    caller: Identity,
    uow: ReportingUnitOfWork,
    report_id: str,
    title: str,
    description: str,
    sharing: str,
    document: Mapping[str, Any],
    expected_version: int = 0,
    now: datetime | None = None,
) -> ReportDocument:
    if builtin(report_id) is not None:
        raise PermissionDenied(f"{report_id} is a built-in report: save a copy to change it")
    level, _ = _checked(title, description, sharing, document)
    with uow.acting_for(caller.subject):
        report = _readable(report_id, caller, uow)
        ensure_may_change(caller, report)
        if expected_version and expected_version != report.version:
            raise Conflict(f"report {report_id} is at version {report.version}, not {expected_version}")
        changed = replace(
            report,
            title=title.strip(),
            description=description,
            sharing=level,
            document=dict(document),
            version=report.version + 1,
            update_time=now or datetime.now(UTC),
        )
        uow.saved_reports.replace(changed)
        _audit(uow, "ReportChanged", changed)
        uow.commit()
    return ReportDocument(_summary(changed), changed.document, changed.version)


def delete_report(*, caller: Identity, uow: ReportingUnitOfWork, report_id: str) -> None:
    if builtin(report_id) is not None:
        raise PermissionDenied(f"{report_id} is a built-in report and cannot be deleted")
    with uow.acting_for(caller.subject):
        report = _readable(report_id, caller, uow)
        ensure_may_change(caller, report)
        uow.saved_reports.remove(report_id)
        uow.audit(action="ReportDeleted", subject_type="report", subject_id=report_id, state={})
        uow.commit()


def _audit(uow: ReportingUnitOfWork, action: str, report: SavedReport) -> None:
    uow.audit(
        action=action,
        subject_type="report",
        subject_id=report.report_id,
        state={
            "owner_user_id": report.owner_user_id,
            "sharing": report.sharing.value,
            "title": report.title,
            "description": report.description,
            "version": report.version,
            "document": dict(report.document),
        },
    )
