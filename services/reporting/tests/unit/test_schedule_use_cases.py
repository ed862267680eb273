"""Scheduled reports through their use cases, over in-memory fakes of every port."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from types import TracebackType
from typing import Any, Self

import pytest

from salesplane.reporting.v1 import reporting_pb2
from salesplane_platform.errors import InvalidArgument, NotFound, Unavailable
from salesplane_platform.identity import Identity
from salesplane_platform.money import Money
from salesplane_reporting.domain.definition import ReportSpec
from salesplane_reporting.domain.report import (
    ChartData,
    ChartKind,
    ChartSeries,
    Column,
    ColumnType,
    ReportResult,
    ResultRow,
    RowKind,
)
from salesplane_reporting.domain.saved_reports import SavedReport, Sharing
from salesplane_reporting.domain.schedules import Frequency, Schedule
from salesplane_reporting.entrypoints import schedule_api
from salesplane_reporting.service_layer import schedules
from salesplane_reporting.service_layer.schedules import ReportRun, RunStatus, ScheduledReport

PIPELINE = "pipeline_by_stage"
# 2031-01-06 is a Monday; Warsaw is UTC+1 in winter.
CREATED = datetime(2031, 1, 6, 6, 0, tzinfo=UTC)
FIRST_RUN = datetime(2031, 1, 6, 7, 0, tzinfo=UTC)
MARIA = Identity(subject="maria", roles=frozenset({"manager"}))
OLGA = Identity(subject="olga", roles=frozenset({"manager"}))
ADMIN = Identity(subject="root", roles=frozenset({"admin"}))


# --- fakes ----------------------------------------------------------------------------------------


@dataclass
class FakeEngineOutput:
    columns: tuple[Column, ...]
    rows: list[ResultRow]
    truncated: bool = False
    notes: list[str] = field(default_factory=lambda: ["Money is in EUR."])
    chart: ChartData | None = None


COLUMNS = (
    Column("sales_stage", "Sales stage", ColumnType.STRING),
    Column("deals", "Deals", ColumnType.INTEGER),
    Column("amount", "Amount", ColumnType.MONEY),
)
CHART = ChartData(ChartKind.BAR, "Amount", ("Prospecting",), (ChartSeries("Amount", (100_00,)),))


class FakeEngine:
    def __init__(self, database: FakeDatabase) -> None:
        self._database = database

    def run(self, spec: ReportSpec, *, caller: Identity, viewpoint: str | None) -> FakeEngineOutput:
        self._database.callers.append(caller)
        rows = [
            ResultRow(RowKind.GROUP, ("Prospecting", 2, Money("EUR", 100_00))),
            ResultRow(RowKind.GRAND_TOTAL, ("Total", 2, Money("EUR", 100_00))),
        ]
        return FakeEngineOutput(COLUMNS, rows, chart=CHART)

    def stream_details(self, spec, *, caller, viewpoint):  # pragma: no cover - not used here
        raise AssertionError("a scheduled run does not stream")


class FakeSavedReports:
    def __init__(self, database: FakeDatabase) -> None:
        self._database = database

    def get(self, report_id: str) -> SavedReport | None:
        return self._database.saved.get(report_id)

    def visible_to(self, caller: Identity) -> Sequence[SavedReport]:
        return [r for r in self._database.saved.values() if self.may_read(caller, r)]

    def may_read(self, caller: Identity, report: SavedReport) -> bool:
        return caller.is_admin or report.owner_user_id == caller.subject or report.sharing is Sharing.EVERYONE

    def add(self, report: SavedReport) -> None:
        self._database.saved[report.report_id] = report

    def replace(self, report: SavedReport) -> None:
        self._database.saved[report.report_id] = report

    def remove(self, report_id: str) -> None:
        del self._database.saved[report_id]


class FakeSchedules:
    def __init__(self, database: FakeDatabase) -> None:
        self._database = database

    def add(self, scheduled: ScheduledReport) -> None:
        self._database.schedules[scheduled.schedule_id] = scheduled

    def get(self, schedule_id: str) -> ScheduledReport | None:
        return self._database.schedules.get(schedule_id)

    def listed(self, *, owner_user_id: str | None, report_id: str = "") -> Sequence[ScheduledReport]:
        found = [
            s
            for s in self._database.schedules.values()
            if owner_user_id in (None, s.owner_user_id) and report_id in ("", s.report_id)
        ]
        return sorted(found, key=lambda s: (s.next_run_at, s.schedule_id))

    def due(self, now: datetime, *, limit: int) -> Sequence[ScheduledReport]:
        found = [s for s in self._database.schedules.values() if s.schedule.active and s.next_run_at <= now]
        snapshot = sorted(found, key=lambda s: (s.next_run_at, s.schedule_id))[:limit]
        if self._database.after_due is not None:
            hook, self._database.after_due = self._database.after_due, None
            hook()
        return snapshot

    def claim(self, schedule_id: str, *, expected_version: int, next_run_at: datetime) -> bool:
        found = self._database.schedules.get(schedule_id)
        if found is None or found.version != expected_version or not found.schedule.active:
            return False
        self._database.schedules[schedule_id] = replace(
            found, next_run_at=next_run_at, version=found.version + 1
        )
        return True

    def deactivate(self, schedule_id: str) -> None:
        found = self._database.schedules[schedule_id]
        self._database.schedules[schedule_id] = replace(
            found, schedule=replace(found.schedule, active=False), version=found.version + 1
        )

    def remove(self, schedule_id: str) -> None:
        del self._database.schedules[schedule_id]


class FakeRuns:
    def __init__(self, database: FakeDatabase) -> None:
        self._database = database

    def add(self, run: ReportRun) -> None:
        self._database.runs.append(run)

    def newest(self, schedule_id: str, *, limit: int) -> Sequence[ReportRun]:
        found = [r for r in self._database.runs if r.schedule_id == schedule_id]
        return list(reversed(found))[:limit]

    def remove_all(self, schedule_id: str) -> None:
        self._database.runs = [r for r in self._database.runs if r.schedule_id != schedule_id]


@dataclass
class FakeDatabase:
    """What every unit of work of one test shares, as replicas share a database."""

    schedules: dict[str, ScheduledReport] = field(default_factory=dict)
    runs: list[ReportRun] = field(default_factory=list)
    saved: dict[str, SavedReport] = field(default_factory=dict)
    # (actor, action, subject id) of each audited change.
    audited: list[tuple[str, str, str]] = field(default_factory=list)
    # user id -> (roles, active), as the org replica has them.
    users: dict[str, tuple[frozenset[str], bool]] = field(
        default_factory=lambda: {
            "maria": (frozenset({"manager"}), True),
            "olga": (frozenset({"manager"}), True),
        }
    )
    callers: list[Identity] = field(default_factory=list)
    commits: int = 0
    # Called once, after the next `due` read (another replica acting in between).
    after_due: Callable[[], None] | None = None


class FakeUnitOfWork:
    def __init__(self, database: FakeDatabase) -> None:
        self.database = database
        self.engine = FakeEngine(database)
        self.saved_reports = FakeSavedReports(database)
        self.schedules = FakeSchedules(database)
        self.runs = FakeRuns(database)

    def user_roles(self, user_id: str) -> tuple[frozenset[str], bool] | None:
        return self.database.users.get(user_id)

    def commit(self) -> None:
        self.database.commits += 1

    def acting_for(self, actor: str) -> Self:
        self.actor = actor
        return self

    def audit(self, *, action: str, subject_type: str, subject_id: str, state: Mapping[str, Any]) -> None:
        self.database.audited.append((self.actor, action, subject_id))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        pass


class FakeRenderer:
    def csv(self, result: ReportResult) -> bytes:
        if result.title == "Explodes":
            raise RuntimeError("renderer broke")
        return f"csv of {result.title}: {len(result.rows)} rows\r\n".encode()

    def chart_svg(self, result: ReportResult) -> str:
        return "<svg>chart</svg>" if result.chart is not None else ""

    def html_table(self, result: ReportResult, *, max_rows: int) -> str:
        return f"<table>{min(len(result.rows), max_rows)} rows</table>"


@dataclass
class Sent:
    recipients: tuple[str, ...]
    subject: str
    text_body: str
    html_body: str
    csv_filename: str
    csv: bytes
    chart_svg: str


class FakeDelivery:
    def __init__(self, *, refusing: frozenset[str] = frozenset()) -> None:
        self.sent: list[Sent] = []
        self._refusing = refusing

    def deliver(self, **message: object) -> None:
        sent = Sent(**message)  # type: ignore[arg-type]
        if self._refusing & set(sent.recipients):
            raise Unavailable("the mail server refused every recipient: ana@example.com (550 no such user)")
        self.sent.append(sent)


# --- helpers --------------------------------------------------------------------------------------


def daily(recipients: tuple[str, ...] = ("ana@example.com",), zone: str = "Europe/Warsaw") -> Schedule:
    return Schedule(Frequency.DAILY, time(8, 0), zone, None, None, recipients)


def schedule(
    database: FakeDatabase,
    caller: Identity = MARIA,
    report_id: str = PIPELINE,
    plan: Schedule | None = None,
    now: datetime = CREATED,
) -> ScheduledReport:
    return schedules.create_schedule(
        caller=caller, uow=FakeUnitOfWork(database), report_id=report_id, schedule=plan or daily(), now=now
    )


def run_due(
    database: FakeDatabase, now: datetime, delivery: FakeDelivery | None = None, *, no_mail: bool = False
) -> int:
    return schedules.run_due_schedules(
        uow_factory=lambda: FakeUnitOfWork(database),
        delivery=None if no_mail else (delivery if delivery is not None else FakeDelivery()),
        renderer=FakeRenderer(),
        now=now,
    )


def saved_report(report_id: str, owner: str, title: str = "My pipeline") -> SavedReport:
    return SavedReport(
        report_id=report_id,
        owner_user_id=owner,
        sharing=Sharing.PRIVATE,
        title=title,
        description="",
        document={
            "source": "opportunities",
            "layout": "summation",
            "dimensions": [{"field": "sales_stage"}],
            "measures": [{"name": "deals", "title": "Deals", "aggregate": "count"}],
        },
        version=1,
        create_time=CREATED,
        update_time=CREATED,
    )


# --- creating and reading schedules ---------------------------------------------------------------


def test_a_new_schedule_belongs_to_its_creator_and_first_runs_at_its_next_local_time():
    database = FakeDatabase()

    created = schedule(database)

    assert created.owner_user_id == "maria"
    assert created.report_id == PIPELINE
    # 08:00 in Warsaw, which is 07:00 UTC in January.
    assert created.next_run_at == FIRST_RUN
    assert database.schedules[created.schedule_id] == created
    assert database.audited == [("maria", "ReportScheduled", created.schedule_id)]


def test_an_invalid_schedule_names_every_bad_field_and_keeps_nothing():
    database = FakeDatabase()
    bad = Schedule(Frequency.WEEKLY, time(8, 0), "Mars/Olympus", None, None, ("not-an-address",))

    with pytest.raises(InvalidArgument) as raised:
        schedule(database, plan=bad)

    assert [v.field for v in raised.value.violations] == [
        "schedule.time_zone",
        "schedule.weekday",
        "schedule.recipients[0]",
    ]
    assert database.schedules == {}


def test_a_report_the_caller_may_not_read_cannot_be_scheduled():
    database = FakeDatabase(saved={"olgas": saved_report("olgas", "olga")})

    with pytest.raises(NotFound):
        schedule(database, caller=MARIA, report_id="olgas")
    with pytest.raises(NotFound):
        schedule(database, caller=MARIA, report_id="no-such-report")
    assert database.schedules == {}


def test_callers_list_their_own_schedules_and_admins_list_everyones():
    database = FakeDatabase()
    marias = schedule(database, caller=MARIA)
    olgas = schedule(database, caller=OLGA)

    assert schedules.list_schedules(caller=MARIA, uow=FakeUnitOfWork(database)) == [marias]
    everyone = schedules.list_schedules(caller=ADMIN, uow=FakeUnitOfWork(database))
    assert {s.schedule_id for s in everyone} == {marias.schedule_id, olgas.schedule_id}
    assert schedules.list_schedules(caller=MARIA, uow=FakeUnitOfWork(database), report_id="other") == []


def test_someone_elses_schedule_is_not_found_for_deleting_or_listing_its_runs():
    database = FakeDatabase()
    olgas = schedule(database, caller=OLGA)

    with pytest.raises(NotFound) as raised:
        schedules.delete_schedule(caller=MARIA, uow=FakeUnitOfWork(database), schedule_id=olgas.schedule_id)
    assert (raised.value.resource_type, raised.value.resource_id) == ("schedule", olgas.schedule_id)
    with pytest.raises(NotFound):
        schedules.list_runs(caller=MARIA, uow=FakeUnitOfWork(database), schedule_id=olgas.schedule_id)
    # Exactly what an id that never existed gets: nothing tells the two apart.
    with pytest.raises(NotFound):
        schedules.delete_schedule(caller=MARIA, uow=FakeUnitOfWork(database), schedule_id="made-up")
    assert olgas.schedule_id in database.schedules


def test_the_owner_or_an_admin_deletes_a_schedule_with_its_runs():
    database = FakeDatabase()
    marias, olgas = schedule(database, caller=MARIA), schedule(database, caller=OLGA)
    run_due(database, FIRST_RUN)
    assert len(database.runs) == 2

    schedules.delete_schedule(caller=MARIA, uow=FakeUnitOfWork(database), schedule_id=marias.schedule_id)
    schedules.delete_schedule(caller=ADMIN, uow=FakeUnitOfWork(database), schedule_id=olgas.schedule_id)

    assert database.schedules == {}
    assert database.runs == []


def test_the_run_list_is_newest_first_and_its_limit_defaults_to_20_and_stops_at_200():
    database = FakeDatabase()
    created = schedule(database)
    for day in range(3):
        run_due(database, FIRST_RUN + timedelta(days=day))

    def listed(limit: int) -> list[ReportRun]:
        return schedules.list_runs(
            caller=MARIA, uow=FakeUnitOfWork(database), schedule_id=created.schedule_id, limit=limit
        )

    assert [r.run_at for r in listed(0)] == [FIRST_RUN + timedelta(days=d) for d in (2, 1, 0)]
    assert len(listed(2)) == 2
    assert len(listed(10_000)) == 3
    with pytest.raises(InvalidArgument) as raised:
        listed(-1)
    assert [v.field for v in raised.value.violations] == ["limit"]


# --- running due schedules ------------------------------------------------------------------------


def test_a_due_schedule_runs_once_and_its_next_run_moves_to_the_next_day():
    database = FakeDatabase()
    created = schedule(database)
    delivery = FakeDelivery()

    assert run_due(database, FIRST_RUN - timedelta(seconds=1), delivery) == 0
    assert run_due(database, FIRST_RUN, delivery) == 1
    assert run_due(database, FIRST_RUN + timedelta(minutes=5), delivery) == 0

    assert len(delivery.sent) == 1
    [run] = database.runs
    assert (run.status, run.detail, run.row_count) == (RunStatus.DELIVERED, "sent to 1 recipient", 2)
    assert run.run_at == FIRST_RUN
    stored = database.schedules[created.schedule_id]
    assert stored.next_run_at == FIRST_RUN + timedelta(days=1)
    assert stored.version == created.version + 1


def test_a_weekly_schedule_moves_on_a_week_and_a_monthly_one_to_its_day_next_month():
    database = FakeDatabase()
    weekly = schedule(
        database, plan=Schedule(Frequency.WEEKLY, time(9, 30), "UTC", 0, None, ("a@example.com",))
    )
    monthly = schedule(
        database, plan=Schedule(Frequency.MONTHLY, time(6, 0), "UTC", None, 31, ("a@example.com",))
    )
    assert weekly.next_run_at == datetime(2031, 1, 6, 9, 30, tzinfo=UTC)
    assert monthly.next_run_at == datetime(2031, 1, 31, 6, 0, tzinfo=UTC)

    run_due(database, datetime(2031, 1, 31, 6, 0, tzinfo=UTC))

    # Both ran; the monthly one next runs on February's last day.
    assert database.schedules[weekly.schedule_id].next_run_at == datetime(2031, 2, 3, 9, 30, tzinfo=UTC)
    assert database.schedules[monthly.schedule_id].next_run_at == datetime(2031, 2, 28, 6, 0, tzinfo=UTC)


def test_a_schedule_overdue_by_days_runs_once_and_then_at_its_next_time_from_now():
    database = FakeDatabase()
    created = schedule(database)
    three_days_late = FIRST_RUN + timedelta(days=3, hours=2)

    assert run_due(database, three_days_late) == 1

    assert len(database.runs) == 1
    assert database.schedules[created.schedule_id].next_run_at == FIRST_RUN + timedelta(days=4)


def test_two_replicas_that_both_see_a_schedule_due_run_it_once():
    database = FakeDatabase()
    schedule(database)
    first, second = FakeDelivery(), FakeDelivery()
    ran_by_second: list[int] = []
    # The second replica polls, claims and runs between the first one's read and its claim.
    database.after_due = lambda: ran_by_second.append(run_due(database, FIRST_RUN, second))

    ran_by_first = run_due(database, FIRST_RUN, first)

    assert (ran_by_first, ran_by_second) == (0, [1])
    assert (len(first.sent), len(second.sent), len(database.runs)) == (0, 1, 1)


def test_a_changed_schedule_cannot_be_claimed_with_its_old_version():
    database = FakeDatabase()
    created = schedule(database)
    uow = FakeUnitOfWork(database)

    assert uow.schedules.claim(created.schedule_id, expected_version=1, next_run_at=FIRST_RUN)
    assert not uow.schedules.claim(created.schedule_id, expected_version=1, next_run_at=FIRST_RUN)


def test_the_report_runs_in_the_owners_scope_with_the_roles_the_org_replica_gives_them():
    database = FakeDatabase()
    # Created with a manager's token; by now the replica knows her as a rep only.
    schedule(database, caller=MARIA)
    database.users["maria"] = (frozenset({"rep"}), True)

    run_due(database, FIRST_RUN)

    # The first caller is the check when creating the schedule: none (a built-in report).
    assert database.callers == [Identity(subject="maria", roles=frozenset({"rep"}))]


def test_each_schedule_runs_as_its_own_owner():
    database = FakeDatabase()
    schedule(database, caller=MARIA)
    schedule(database, caller=OLGA)

    run_due(database, FIRST_RUN)

    assert sorted(c.subject for c in database.callers) == ["maria", "olga"]


def test_the_email_carries_the_title_local_date_row_count_notes_table_chart_and_csv():
    database = FakeDatabase()
    # 23:30 UTC on 6 January is already 7 January in Auckland (UTC+13).
    plan = Schedule(
        Frequency.DAILY, time(12, 30), "Pacific/Auckland", None, None, ("ana@example.com", "bo@example.com")
    )
    created = schedule(database, plan=plan)
    delivery = FakeDelivery()

    run_due(database, created.next_run_at, delivery)

    [sent] = delivery.sent
    assert created.next_run_at == datetime(2031, 1, 6, 23, 30, tzinfo=UTC)
    assert sent.recipients == ("ana@example.com", "bo@example.com")
    assert sent.subject == "Pipeline by stage \N{EM DASH} 2031-01-07"
    assert "2 rows." in sent.text_body
    assert "Money is in EUR." in sent.text_body
    assert "<table>2 rows</table>" in sent.html_body
    assert "<svg>chart</svg>" in sent.html_body
    assert "<h2>Pipeline by stage</h2>" in sent.html_body
    assert sent.csv_filename == "pipeline-by-stage.csv"
    assert sent.csv == b"csv of Pipeline by stage: 2 rows\r\n"
    assert sent.chart_svg == "<svg>chart</svg>"
    [run] = database.runs
    assert (run.result_csv, run.chart_svg, run.detail) == (sent.csv, sent.chart_svg, "sent to 2 recipients")


def test_a_failed_delivery_is_kept_as_a_failed_run_and_the_other_schedules_still_run():
    database = FakeDatabase()
    refused = schedule(database, caller=MARIA, plan=daily(("ana@example.com",)))
    accepted = schedule(database, caller=OLGA, plan=daily(("bo@example.com",)))
    delivery = FakeDelivery(refusing=frozenset({"ana@example.com"}))

    assert run_due(database, FIRST_RUN, delivery) == 2

    runs = {r.schedule_id: r for r in database.runs}
    failed = runs[refused.schedule_id]
    assert failed.status is RunStatus.FAILED
    assert failed.detail.startswith("the e-mail was not delivered: the mail server refused every recipient")
    # What the report said that day is kept even though nobody received it.
    assert failed.result_csv == b"csv of Pipeline by stage: 2 rows\r\n"
    assert runs[accepted.schedule_id].status is RunStatus.DELIVERED
    assert [s.recipients for s in delivery.sent] == [("bo@example.com",)]
    # A failed delivery does not stop the schedule: it runs again tomorrow.
    assert database.schedules[refused.schedule_id].schedule.active


@pytest.mark.parametrize("owner_now", [None, (frozenset({"manager"}), False)], ids=["unknown", "inactive"])
def test_an_owner_who_left_fails_the_run_and_deactivates_the_schedule(owner_now):
    database = FakeDatabase()
    created = schedule(database, caller=MARIA)
    if owner_now is None:
        del database.users["maria"]
    else:
        database.users["maria"] = owner_now
    delivery = FakeDelivery()

    assert run_due(database, FIRST_RUN, delivery) == 1

    [run] = database.runs
    assert run.status is RunStatus.FAILED
    assert run.detail.startswith("owner inactive")
    assert (run.row_count, run.result_csv) == (0, b"")
    assert database.callers == []
    assert delivery.sent == []
    assert not database.schedules[created.schedule_id].schedule.active
    # Deactivated: never due again.
    assert run_due(database, FIRST_RUN + timedelta(days=5), delivery) == 0


def test_a_report_deleted_since_it_was_scheduled_is_a_failed_run_and_the_others_still_run():
    database = FakeDatabase(saved={"mine": saved_report("mine", "maria")})
    gone = schedule(database, caller=MARIA, report_id="mine")
    kept = schedule(database, caller=OLGA)
    del database.saved["mine"]

    assert run_due(database, FIRST_RUN) == 2

    runs = {r.schedule_id: r for r in database.runs}
    assert runs[gone.schedule_id].status is RunStatus.FAILED
    assert runs[gone.schedule_id].detail == "the report could not run: report 'mine' not found"
    assert runs[kept.schedule_id].status is RunStatus.DELIVERED


def test_an_unexpected_error_in_one_schedule_is_kept_as_a_failed_run_and_the_others_still_run():
    database = FakeDatabase(saved={"boom": saved_report("boom", "maria", title="Explodes")})
    broken = schedule(database, caller=MARIA, report_id="boom")
    fine = schedule(database, caller=OLGA)

    assert run_due(database, FIRST_RUN) == 2

    runs = {r.schedule_id: r for r in database.runs}
    assert runs[broken.schedule_id].status is RunStatus.FAILED
    assert runs[broken.schedule_id].detail == "the run failed: RuntimeError; see the service log"
    assert runs[fine.schedule_id].status is RunStatus.DELIVERED


def test_without_a_mail_server_runs_are_kept_as_no_delivery():
    database = FakeDatabase()
    schedule(database)

    assert run_due(database, FIRST_RUN, no_mail=True) == 1

    [run] = database.runs
    assert run.status is RunStatus.NO_DELIVERY
    assert run.result_csv == b"csv of Pipeline by stage: 2 rows\r\n"


def test_a_paused_schedule_is_never_due():
    database = FakeDatabase()
    schedule(database, plan=replace(daily(), active=False))

    assert run_due(database, FIRST_RUN + timedelta(days=3)) == 0


def test_one_poll_runs_at_most_a_batch_and_leaves_the_rest_due():
    database = FakeDatabase()
    for _ in range(3):
        schedule(database)

    def poll() -> int:
        return schedules.run_due_schedules(
            uow_factory=lambda: FakeUnitOfWork(database),
            delivery=FakeDelivery(),
            renderer=FakeRenderer(),
            now=FIRST_RUN,
            batch=2,
        )

    assert (poll(), poll(), poll()) == (2, 1, 0)


# --- the API's translation ------------------------------------------------------------------------


def proto_schedule(**fields) -> reporting_pb2.ReportSchedule:
    values: dict[str, Any] = {
        "report_id": PIPELINE,
        "frequency": reporting_pb2.FREQUENCY_WEEKLY,
        "time_of_day": "08:15",
        "time_zone": "Europe/Warsaw",
        "weekday": 7,
        "recipients": ["ana@example.com"],
    }
    values.update(fields)
    return reporting_pb2.ReportSchedule(**values)


def test_the_api_counts_weekdays_from_1_for_monday_and_writes_times_as_hh_mm():
    database = FakeDatabase()
    request = reporting_pb2.CreateScheduleRequest(schedule=proto_schedule(weekday=7))

    created = schedule_api.create_schedule(request, MARIA, FakeUnitOfWork(database))

    [stored] = database.schedules.values()
    assert (stored.schedule.weekday, stored.schedule.time_of_day) == (6, time(8, 15))
    assert stored.schedule.active
    assert (created.weekday, created.time_of_day, created.owner_user_id) == (7, "08:15", "maria")
    assert created.frequency == reporting_pb2.FREQUENCY_WEEKLY
    assert created.active
    assert created.next_run_time.ToDatetime(tzinfo=UTC) == stored.next_run_at
    listed = schedule_api.list_schedules(
        reporting_pb2.ListSchedulesRequest(), MARIA, FakeUnitOfWork(database)
    )
    assert [s.schedule_id for s in listed.schedules] == [stored.schedule_id]


def test_api_errors_name_the_fields_of_the_schedule():
    request = reporting_pb2.CreateScheduleRequest(
        schedule=proto_schedule(
            report_id="", frequency=reporting_pb2.FREQUENCY_UNSPECIFIED, time_of_day="8:15"
        )
    )

    with pytest.raises(InvalidArgument) as raised:
        schedule_api.create_schedule(request, MARIA, FakeUnitOfWork(FakeDatabase()))

    assert [v.field for v in raised.value.violations] == [
        "schedule.report_id",
        "schedule.frequency",
        "schedule.time_of_day",
    ]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"weekday": 0}, ["schedule.weekday"]),
        ({"weekday": 8}, ["schedule.weekday"]),
        ({"frequency": reporting_pb2.FREQUENCY_DAILY, "weekday": 1}, ["schedule.weekday"]),
        ({"time_zone": "Nowhere/Else"}, ["schedule.time_zone"]),
        (
            {"frequency": reporting_pb2.FREQUENCY_MONTHLY, "weekday": 0, "day_of_month": 32},
            ["schedule.day_of_month"],
        ),
        ({"recipients": ["ok@example.com", "bad"]}, ["schedule.recipients[1]"]),
        ({"time_of_day": "24:00"}, ["schedule.time_of_day"]),
    ],
)
def test_each_bad_schedule_field_is_named(fields, expected):
    request = reporting_pb2.CreateScheduleRequest(schedule=proto_schedule(**fields))

    with pytest.raises(InvalidArgument) as raised:
        schedule_api.create_schedule(request, MARIA, FakeUnitOfWork(FakeDatabase()))

    assert [v.field for v in raised.value.violations] == expected


def test_runs_reach_the_api_with_their_csv_and_status():
    database = FakeDatabase()
    created = schedule(database)
    run_due(database, FIRST_RUN)

    response = schedule_api.list_runs(
        reporting_pb2.ListReportRunsRequest(schedule_id=created.schedule_id), MARIA, FakeUnitOfWork(database)
    )

    [run] = response.runs
    assert (run.status, run.row_count, run.report_id) == ("delivered", 2, PIPELINE)
    assert run.result_csv == b"csv of Pipeline by stage: 2 rows\r\n"
    assert run.run_time.ToDatetime(tzinfo=UTC) == FIRST_RUN
    schedule_api.delete_schedule(
        reporting_pb2.DeleteScheduleRequest(schedule_id=created.schedule_id), MARIA, FakeUnitOfWork(database)
    )
    assert database.schedules == {}
