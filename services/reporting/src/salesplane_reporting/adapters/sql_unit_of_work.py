"""SQL unit of work of the reporting service: the report engine, the saved reports and the report
schedules over one session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from salesplane_platform.identity import Identity
from salesplane_platform.unit_of_work import OutboxContext, SqlUnitOfWork
from salesplane_reporting.adapters.report_engine import EngineOutput, RunContext, SqlReportEngine
from salesplane_reporting.adapters.saved_report_store import SqlSavedReports
from salesplane_reporting.adapters.schedule_store import SqlReportRuns, SqlReportSchedules, user_roles
from salesplane_reporting.domain.definition import ReportSpec
from salesplane_reporting.domain.report import Column, ResultRow


class SqlEngine:
    """The report engine as the use cases see it: scoped to a caller, run at the clock's time."""

    def __init__(self, session: Session, clock: Callable[[], datetime]) -> None:
        self._engine = SqlReportEngine(session)
        self._clock = clock

    def run(self, spec: ReportSpec, *, caller: Identity, viewpoint: str | None) -> EngineOutput:
        return self._engine.run(spec, RunContext(caller, self._clock(), viewpoint))

    def stream_details(
        self, spec: ReportSpec, *, caller: Identity, viewpoint: str | None
    ) -> tuple[tuple[Column, ...], Iterator[ResultRow]]:
        return self._engine.stream_details(spec, RunContext(caller, self._clock(), viewpoint))


class SqlReportingUnitOfWork(SqlUnitOfWork):
    engine: SqlEngine
    saved_reports: SqlSavedReports

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        outbox: OutboxContext,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(session_factory, outbox)
        self._clock = clock

    def __enter__(self) -> SqlReportingUnitOfWork:
        super().__enter__()
        self.engine = SqlEngine(self.session, self._clock)
        self.saved_reports = SqlSavedReports(self.session)
        return self

    # Scheduling (SchedulingUnitOfWork): stateless views of the open session.
    @property
    def schedules(self) -> SqlReportSchedules:
        return SqlReportSchedules(self.session)

    @property
    def runs(self) -> SqlReportRuns:
        return SqlReportRuns(self.session)

    def user_roles(self, user_id: str) -> tuple[frozenset[str], bool] | None:
        return user_roles(self.session, user_id)
