"""The reports a caller can list and run, looked up by id."""

from __future__ import annotations

from collections.abc import Iterable

from salesplane_reporting.domain.report import ReportDefinition
from salesplane_reporting.domain.reports import pipeline_by_stage
from salesplane_reporting.domain.reports.base import Report


class ReportRegistry:
    def __init__(self, reports: Iterable[Report]) -> None:
        self._reports: dict[str, Report] = {}
        for report in reports:
            report_id = report.definition.id
            if report_id in self._reports:
                raise ValueError(f"two reports share the id {report_id!r}")
            self._reports[report_id] = report

    def definitions(self) -> list[ReportDefinition]:
        return [report.definition for report in self._reports.values()]

    def get(self, report_id: str) -> Report | None:
        return self._reports.get(report_id)


def builtin_reports() -> ReportRegistry:
    return ReportRegistry([pipeline_by_stage.REPORT])
