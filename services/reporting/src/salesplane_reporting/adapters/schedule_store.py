"""Report schedules and the runs they keep, in SQL; and the org replica's roles of a user."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, time
from typing import Any, cast

from sqlalchemy import CursorResult, Row, delete, select, update
from sqlalchemy.orm import Session

from salesplane_platform.db import as_utc
from salesplane_reporting.adapters import tables
from salesplane_reporting.domain.schedules import Frequency, Schedule
from salesplane_reporting.service_layer.schedules import ReportRun, RunStatus, ScheduledReport

_schedules = tables.report_schedules
_runs = tables.report_runs
_users = tables.org_users


def schedule_to_json(schedule: Schedule) -> str:
    """The schedule column: everything but `active`, which has a column of its own."""
    return json.dumps(
        {
            "frequency": schedule.frequency.value,
            "time_of_day": schedule.time_of_day.isoformat(),
            "time_zone": schedule.time_zone,
            "weekday": schedule.weekday,
            "day_of_month": schedule.day_of_month,
            "recipients": list(schedule.recipients),
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def schedule_from_json(text: str, *, active: bool) -> Schedule:
    document = json.loads(text)
    return Schedule(
        frequency=Frequency(document["frequency"]),
        time_of_day=time.fromisoformat(document["time_of_day"]),
        time_zone=document["time_zone"],
        weekday=document.get("weekday"),
        day_of_month=document.get("day_of_month"),
        recipients=tuple(document["recipients"]),
        active=active,
    )


def _utc(instant: datetime) -> datetime:
    # SQLite keeps no offset: every instant is written, and compared, in UTC.
    return instant.astimezone(UTC)


def _scheduled(row: Row[Any]) -> ScheduledReport:
    return ScheduledReport(
        schedule_id=row.schedule_id,
        report_id=row.report_id,
        owner_user_id=row.owner_user_id,
        schedule=schedule_from_json(row.schedule, active=bool(row.active)),
        next_run_at=as_utc(row.next_run_at),
        version=int(row.version),
    )


def _run(row: Row[Any]) -> ReportRun:
    return ReportRun(
        run_id=row.run_id,
        schedule_id=row.schedule_id,
        report_id=row.report_id,
        run_at=as_utc(row.run_at),
        status=RunStatus(row.status),
        detail=row.detail,
        row_count=int(row.row_count),
        result_csv=bytes(row.result_csv),
        chart_svg=row.chart_svg,
    )


class SqlReportSchedules:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, scheduled: ScheduledReport) -> None:
        self._session.execute(
            _schedules.insert().values(
                schedule_id=scheduled.schedule_id,
                report_id=scheduled.report_id,
                owner_user_id=scheduled.owner_user_id,
                schedule=schedule_to_json(scheduled.schedule),
                next_run_at=_utc(scheduled.next_run_at),
                active=scheduled.schedule.active,
                version=scheduled.version,
            )
        )

    def get(self, schedule_id: str) -> ScheduledReport | None:
        row = self._session.execute(select(_schedules).where(_schedules.c.schedule_id == schedule_id)).first()
        return _scheduled(row) if row else None

    def listed(self, *, owner_user_id: str | None, report_id: str = "") -> Sequence[ScheduledReport]:
        statement = select(_schedules).order_by(_schedules.c.next_run_at, _schedules.c.schedule_id)
        if owner_user_id is not None:
            statement = statement.where(_schedules.c.owner_user_id == owner_user_id)
        if report_id:
            statement = statement.where(_schedules.c.report_id == report_id)
        return [_scheduled(r) for r in self._session.execute(statement)]

    def due(self, now: datetime, *, limit: int) -> Sequence[ScheduledReport]:
        statement = (
            select(_schedules)
            .where(_schedules.c.active.is_(True), _schedules.c.next_run_at <= _utc(now))
            .order_by(_schedules.c.next_run_at, _schedules.c.schedule_id)
            .limit(limit)
        )
        return [_scheduled(r) for r in self._session.execute(statement)]

    def claim(self, schedule_id: str, *, expected_version: int, next_run_at: datetime) -> bool:
        claimed = self._session.execute(
            update(_schedules)
            .where(
                _schedules.c.schedule_id == schedule_id,
                _schedules.c.version == expected_version,
                _schedules.c.active.is_(True),
            )
            .values(next_run_at=_utc(next_run_at), version=_schedules.c.version + 1)
        )
        return cast(CursorResult[Any], claimed).rowcount == 1

    def deactivate(self, schedule_id: str) -> None:
        self._session.execute(
            update(_schedules)
            .where(_schedules.c.schedule_id == schedule_id)
            .values(active=False, version=_schedules.c.version + 1)
        )

    def remove(self, schedule_id: str) -> None:
        self._session.execute(delete(_schedules).where(_schedules.c.schedule_id == schedule_id))


class SqlReportRuns:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, run: ReportRun) -> None:
        self._session.execute(
            _runs.insert().values(
                run_id=run.run_id,
                schedule_id=run.schedule_id,
                report_id=run.report_id,
                run_at=_utc(run.run_at),
                status=run.status.value,
                detail=run.detail,
                row_count=run.row_count,
                result_csv=run.result_csv,
                chart_svg=run.chart_svg,
            )
        )

    def newest(self, schedule_id: str, *, limit: int) -> Sequence[ReportRun]:
        statement = (
            select(_runs)
            .where(_runs.c.schedule_id == schedule_id)
            .order_by(_runs.c.run_at.desc(), _runs.c.run_id.desc())
            .limit(limit)
        )
        return [_run(r) for r in self._session.execute(statement)]

    def remove_all(self, schedule_id: str) -> None:
        self._session.execute(delete(_runs).where(_runs.c.schedule_id == schedule_id))


def user_roles(session: Session, user_id: str) -> tuple[frozenset[str], bool] | None:
    """A user's roles (comma-separated in the replica) and whether they are active; None: unknown."""
    row = session.execute(select(_users.c.roles, _users.c.active).where(_users.c.user_id == user_id)).first()
    if row is None:
        return None
    roles = frozenset(role.strip() for role in str(row.roles).split(",") if role.strip())
    return roles, bool(row.active)
