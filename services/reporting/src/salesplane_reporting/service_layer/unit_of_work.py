"""What the use cases need from storage and from the report engine, as protocols: SQL in
production, in-memory fakes in unit tests."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

from salesplane_platform.identity import Identity
from salesplane_reporting.domain.definition import ReportSpec
from salesplane_reporting.domain.report import ChartData, Column, ReportResult, ResultRow
from salesplane_reporting.domain.saved_reports import SavedReport

if TYPE_CHECKING:
    # The records scheduling keeps are defined with its use cases, which import these ports.
    from salesplane_reporting.service_layer.schedules import ReportRun, ScheduledReport


class EngineResult(Protocol):
    columns: tuple[Column, ...]
    rows: list[ResultRow]
    truncated: bool
    notes: list[str]
    chart: ChartData | None


class ReportEngine(Protocol):
    def run(self, spec: ReportSpec, *, caller: Identity, viewpoint: str | None) -> EngineResult: ...

    def stream_details(
        self, spec: ReportSpec, *, caller: Identity, viewpoint: str | None
    ) -> tuple[tuple[Column, ...], Iterator[ResultRow]]: ...


class SavedReports(Protocol):
    def get(self, report_id: str) -> SavedReport | None: ...

    def visible_to(self, caller: Identity) -> Sequence[SavedReport]:
        """Saved reports the caller may run: their own, their team's shared ones, everyone's."""

    def may_read(self, caller: Identity, report: SavedReport) -> bool: ...

    def add(self, report: SavedReport) -> None: ...

    def replace(self, report: SavedReport) -> None: ...

    def remove(self, report_id: str) -> None: ...


class ReportingUnitOfWork(Protocol):
    @property
    def engine(self) -> ReportEngine: ...

    @property
    def saved_reports(self) -> SavedReports: ...

    def commit(self) -> None: ...

    def acting_for(self, actor: str) -> Self:
        """Name who makes this transaction's changes (they are audited)."""

    def audit(self, *, action: str, subject_type: str, subject_id: str, state: Mapping[str, Any]) -> None:
        """Record a change in the audit log (reporting publishes no events of its own)."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


# -- scheduled reports -------------------------------------------------------------------------------


class ReportSchedules(Protocol):
    def add(self, scheduled: ScheduledReport) -> None: ...

    def get(self, schedule_id: str) -> ScheduledReport | None: ...

    def listed(self, *, owner_user_id: str | None, report_id: str = "") -> Sequence[ScheduledReport]:
        """Schedules by next run: of one owner (None: everyone's), of one report if `report_id`."""

    def due(self, now: datetime, *, limit: int) -> Sequence[ScheduledReport]:
        """Active schedules whose next run is at or before `now`, the most overdue first."""

    def claim(self, schedule_id: str, *, expected_version: int, next_run_at: datetime) -> bool:
        """Move the next run to `next_run_at` and bump the version, only if the schedule is still
        active at `expected_version`; False when another replica claimed (or changed) it first."""

    def deactivate(self, schedule_id: str) -> None: ...

    def remove(self, schedule_id: str) -> None: ...


class ReportRuns(Protocol):
    def add(self, run: ReportRun) -> None: ...

    def newest(self, schedule_id: str, *, limit: int) -> Sequence[ReportRun]:
        """The schedule's runs, newest first."""

    def remove_all(self, schedule_id: str) -> None: ...


class SchedulingUnitOfWork(ReportingUnitOfWork, Protocol):
    @property
    def schedules(self) -> ReportSchedules: ...

    @property
    def runs(self) -> ReportRuns: ...

    def user_roles(self, user_id: str) -> tuple[frozenset[str], bool] | None:
        """The user's roles and whether they are active, as the org replica has them; None: unknown."""


class ReportRenderer(Protocol):
    """A report result as the files and markup a delivery carries."""

    def csv(self, result: ReportResult) -> bytes: ...

    def chart_svg(self, result: ReportResult) -> str:
        """The chart as a standalone SVG document; empty when the report has no chart."""

    def html_table(self, result: ReportResult, *, max_rows: int) -> str:
        """The first `max_rows` rows as an HTML <table>, every cell escaped."""


class ReportDelivery(Protocol):
    def deliver(
        self,
        *,
        recipients: tuple[str, ...],
        subject: str,
        text_body: str,
        html_body: str,
        csv_filename: str,
        csv: bytes,
        chart_svg: str,
    ) -> None:
        """Send one message with the CSV attached (and the chart, if any); raises
        salesplane_platform.errors.Unavailable when not every recipient could be reached."""
