"""Use cases of the reporting service."""

from __future__ import annotations

from datetime import UTC, datetime

from salesplane_platform.errors import FieldViolation, InvalidArgument, NotFound
from salesplane_platform.identity import Identity
from salesplane_reporting.domain.access import ensure_can_read_reports
from salesplane_reporting.domain.report import ReportDefinition, ReportResult
from salesplane_reporting.domain.reports.registry import ReportRegistry
from salesplane_reporting.service_layer.unit_of_work import ReportingUnitOfWork


def list_reports(*, caller: Identity, registry: ReportRegistry) -> list[ReportDefinition]:
    """The reports the caller may run."""
    ensure_can_read_reports(caller)
    return registry.definitions()


def run_report(
    *,
    report_id: str,
    caller: Identity,
    registry: ReportRegistry,
    uow: ReportingUnitOfWork,
    now: datetime | None = None,
) -> ReportResult:
    """Compute a report over the current read models."""
    if not report_id:
        raise InvalidArgument(FieldViolation("report_id", "must name a report"))
    ensure_can_read_reports(caller)
    report = registry.get(report_id)
    if report is None:
        raise NotFound("report", report_id)
    with uow:
        rows = report.rows(uow.read_models)
    return ReportResult(
        definition=report.definition,
        columns=report.columns,
        rows=tuple(rows),
        generated_at=now or datetime.now(UTC),
    )
