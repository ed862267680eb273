"""The shape every report has."""

from __future__ import annotations

from typing import Protocol

from salesplane_reporting.domain.read_models import ReadModelQueries
from salesplane_reporting.domain.report import CellValue, Column, ReportDefinition


class Report(Protocol):
    @property
    def definition(self) -> ReportDefinition: ...

    @property
    def columns(self) -> tuple[Column, ...]: ...

    def rows(self, queries: ReadModelQueries) -> list[tuple[CellValue, ...]]:
        """The report's rows, in display order, with one cell per column."""
