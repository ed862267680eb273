"""Scheduled reports end to end below the API: a migrated SQLite database, the real report engine in
the owner's scope, SmtpMailer over a real SMTP conversation (aiosmtpd), and the runs kept in SQL."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

import salesplane_reporting
from salesplane_platform.db import as_utc, make_engine, make_session_factory
from salesplane_platform.identity import Identity
from salesplane_platform.migrations import upgrade_to_head
from salesplane_platform.unit_of_work import OutboxContext
from salesplane_reporting.adapters import pipeline_rollup, tables
from salesplane_reporting.adapters.report_rendering import ReportRendering, SmtpDelivery
from salesplane_reporting.adapters.schedule_store import SqlReportSchedules
from salesplane_reporting.adapters.smtp_mailer import SmtpMailer, SmtpSettings
from salesplane_reporting.adapters.sql_unit_of_work import SqlReportingUnitOfWork
from salesplane_reporting.domain.schedules import Frequency, Schedule
from salesplane_reporting.service_layer import schedules
from salesplane_reporting.service_layer.schedules import RunStatus
from salesplane_testing.smtp_server import ReceivedMessage, SmtpServer

pytestmark = pytest.mark.integration

MIGRATIONS = Path(salesplane_reporting.__file__).resolve().parent / "migrations"
SENDER = "reports@salesplane.example"
RECIPIENTS = ("ana@example.com", "bo@example.com")
# Monday 3 March 2031, 08:00 in Warsaw (UTC+1 until the end of March).
RUN_AT = datetime(2031, 3, 3, 7, 0, tzinfo=UTC)
CREATED = RUN_AT - timedelta(hours=3)
MARIA = Identity(subject="maria", roles=frozenset({"manager"}))
SINCE = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'reporting.db'}")
    upgrade_to_head(engine, MIGRATIONS, lock_name="reporting")
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    factory = make_session_factory(engine)
    with factory.begin() as session:
        seed(session)
    return factory


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def seed(session: Session) -> None:
    """Maria manages Rob; Otto is in another team. Deals in EUR, the base currency."""
    users = [
        ("maria", "Maria Manager", None, "manager"),
        ("rob", "Rob Rep", "maria", "rep"),
        ("otto", "Otto Outsider", None, "rep"),
    ]
    session.execute(
        tables.org_users.insert(),
        [
            {
                "user_id": user_id,
                "display_name": name,
                "manager_user_id": manager,
                "roles": roles,
                "active": True,
                "version": 1,
                "update_time": SINCE,
            }
            for user_id, name, manager, roles in users
        ],
    )
    pairs = [("maria", "maria", 0), ("maria", "rob", 1), ("rob", "rob", 0), ("otto", "otto", 0)]
    session.execute(
        tables.org_closure.insert(),
        [
            {
                "ancestor_user_id": a,
                "descendant_user_id": d,
                "distance": n,
                "valid_from": SINCE,
                "valid_to": None,
            }
            for a, d, n in pairs
        ],
    )
    session.execute(
        tables.fiscal_settings.insert().values(
            id=1, fiscal_year_start_month=1, currency_code="EUR", ranges="", version=1
        )
    )
    session.execute(
        tables.opportunity_current.insert(),
        [
            opportunity("o1", "rob", "Prospecting", 1_000_00, probability=10),
            opportunity("o2", "rob", "Negotiation/Review", 2_500_00, probability=60),
            opportunity("o3", "maria", "Prospecting", 500_00, probability=10),
            # Outside Maria's team: never in her report.
            opportunity("o4", "otto", "Prospecting", 9_999_00, probability=10),
            # Won, so not in the open pipeline.
            opportunity("o5", "rob", "Closed Won", 7_000_00, probability=100, status="won"),
        ],
    )
    # The rows are written as the projector would, so its pipeline rollup is derived from them too.
    pipeline_rollup.rebuild(session)


def opportunity(
    opportunity_id: str, owner: str, stage: str, amount_minor: int, *, probability: int, status: str = "open"
) -> dict[str, object]:
    weighted = amount_minor * probability // 100
    return {
        "opportunity_id": opportunity_id,
        "version": 1,
        "owner_user_id": owner,
        "name": f"Deal {opportunity_id}",
        "account_name": "Acme",
        "sales_stage": stage,
        "stage_order": 0,
        "probability": probability,
        "status": status,
        "amount_minor": amount_minor,
        "currency": "EUR",
        "amount_base_minor": amount_minor,
        "weighted_base_minor": weighted,
        "best_base_minor": amount_minor,
        "worst_base_minor": weighted,
        "base_currency": "EUR",
        "expected_close_date": None,
        "lead_source_id": "",
        "campaign_id": "",
        "lead_id": "",
        "close_reason": "",
        "next_step": "",
        "create_time": SINCE,
        "update_time": SINCE,
        "close_time": None,
        "cycle_seconds": None,
        "stage_entered_at": SINCE,
        "push_count": 0,
        "max_stage_order": 0,
    }


def unit_of_work(session_factory: sessionmaker[Session]) -> SqlReportingUnitOfWork:
    outbox = OutboxContext(tables.platform, "reporting", None, threading.Event())
    return SqlReportingUnitOfWork(session_factory, outbox, clock=lambda: RUN_AT)


def delivery_to(server: SmtpServer) -> SmtpDelivery:
    return SmtpDelivery(
        SmtpMailer(SmtpSettings(host=server.host, port=server.port, sender=SENDER, timeout_seconds=5))
    )


def create(
    session_factory: sessionmaker[Session], recipients: tuple[str, ...] = RECIPIENTS
) -> schedules.ScheduledReport:
    plan = Schedule(Frequency.DAILY, time(8, 0), "Europe/Warsaw", None, None, recipients)
    return schedules.create_schedule(
        caller=MARIA,
        uow=unit_of_work(session_factory),
        report_id="pipeline_by_stage",
        schedule=plan,
        now=CREATED,
    )


def run_due(
    session_factory: sessionmaker[Session], delivery: SmtpDelivery | None, now: datetime = RUN_AT
) -> int:
    return schedules.run_due_schedules(
        uow_factory=lambda: unit_of_work(session_factory),
        delivery=delivery,
        renderer=ReportRendering(),
        now=now,
    )


def attachment(received: ReceivedMessage, filename: str) -> bytes:
    [part] = [p for p in received.message.iter_attachments() if p.get_filename() == filename]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload


def test_a_due_schedule_mails_the_owners_report_and_keeps_the_run(session_factory, smtp_server):
    created = create(session_factory)
    assert created.next_run_at == RUN_AT

    assert run_due(session_factory, delivery_to(smtp_server)) == 1

    [received] = smtp_server.wait_for(1)
    assert received.mail_from == SENDER
    assert received.rcpt_tos == RECIPIENTS
    assert received.message["Subject"] == "Pipeline by stage \N{EM DASH} 2031-03-03"

    [run] = schedules.list_runs(
        caller=MARIA, uow=unit_of_work(session_factory), schedule_id=created.schedule_id
    )
    assert (run.status, run.detail, run.run_at) == (RunStatus.DELIVERED, "sent to 2 recipients", RUN_AT)
    assert run.row_count == 3
    mailed_csv = attachment(received, "pipeline-by-stage.csv")
    assert mailed_csv == run.result_csv
    # Maria's team only (not Otto's deal), open deals only (not the won one), totalled.
    assert list(csv.reader(io.StringIO(mailed_csv.decode("utf-8")))) == [
        ["row type", "Sales stage", "Deals", "Amount", "Amount currency", "Weighted", "Weighted currency"],
        ["group", "Prospecting", "2", "1500.00", "EUR", "150.00", "EUR"],
        ["group", "Negotiation/Review", "1", "2500.00", "EUR", "1500.00", "EUR"],
        ["total", "Total", "3", "4000.00", "EUR", "1650.00", "EUR"],
    ]
    assert b"\r\n" in mailed_csv

    html_part = received.message.get_body(preferencelist=("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert run.chart_svg.startswith("<svg")
    assert run.chart_svg in html.replace("\r\n", "\n")
    assert "<table" in html and "4000.00 EUR" in html
    assert attachment(received, "chart.svg").decode("utf-8") == run.chart_svg
    text_part = received.message.get_body(preferencelist=("plain",))
    assert text_part is not None
    assert "3 rows." in text_part.get_content()

    with session_factory() as session:
        kept = session.execute(select(tables.report_runs)).one()
        schedule_row = session.execute(select(tables.report_schedules)).one()
    assert (kept.run_id, kept.status, bytes(kept.result_csv)) == (run.run_id, "delivered", mailed_csv)
    assert (schedule_row.version, as_utc(schedule_row.next_run_at)) == (2, RUN_AT + timedelta(days=1))


def test_a_schedule_already_run_is_not_run_again_until_its_next_time(session_factory, smtp_server):
    create(session_factory)
    delivery = delivery_to(smtp_server)

    assert run_due(session_factory, delivery) == 1
    assert run_due(session_factory, delivery, RUN_AT + timedelta(minutes=10)) == 0
    assert run_due(session_factory, delivery, RUN_AT + timedelta(days=1)) == 1

    assert len(smtp_server.wait_for(2)) == 2
    with session_factory() as session:
        assert session.execute(select(func.count()).select_from(tables.report_runs)).scalar_one() == 2


def test_replicas_polling_at_once_mail_a_schedule_once(session_factory, smtp_server):
    create(session_factory)
    delivery = delivery_to(smtp_server)
    start = threading.Barrier(3)
    results: list[int] = []

    def replica() -> None:
        start.wait()
        results.append(run_due(session_factory, delivery))

    threads = [threading.Thread(target=replica) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(results) == [0, 0, 1]
    smtp_server.wait_for(1)
    assert len(smtp_server.messages) == 1


def test_a_claim_with_a_stale_version_is_refused(session_factory):
    created = create(session_factory)

    with session_factory.begin() as session:
        store = SqlReportSchedules(session)
        assert store.claim(created.schedule_id, expected_version=1, next_run_at=RUN_AT + timedelta(days=1))
        assert not store.claim(
            created.schedule_id, expected_version=1, next_run_at=RUN_AT + timedelta(days=2)
        )
    with session_factory() as session:
        stored = SqlReportSchedules(session).get(created.schedule_id)
    assert stored is not None
    assert (stored.version, stored.next_run_at) == (2, RUN_AT + timedelta(days=1))


def test_a_refused_delivery_is_kept_as_a_failed_run_with_its_csv(session_factory):
    created = create(session_factory, recipients=("nobody@example.com",))

    with SmtpServer(refuse_recipients=["nobody@example.com"]) as server:
        assert run_due(session_factory, delivery_to(server)) == 1

    [run] = schedules.list_runs(
        caller=MARIA, uow=unit_of_work(session_factory), schedule_id=created.schedule_id
    )
    assert run.status is RunStatus.FAILED
    assert run.detail.startswith("the e-mail was not delivered: the mail server refused every recipient")
    assert b"4000.00" in run.result_csv


def test_an_owner_deactivated_in_the_org_replica_stops_the_schedule(session_factory, smtp_server):
    created = create(session_factory)
    with session_factory.begin() as session:
        session.execute(
            tables.org_users.update().where(tables.org_users.c.user_id == "maria").values(active=False)
        )

    assert run_due(session_factory, delivery_to(smtp_server)) == 1

    [run] = schedules.list_runs(
        caller=MARIA, uow=unit_of_work(session_factory), schedule_id=created.schedule_id
    )
    assert (run.status, run.row_count) == (RunStatus.FAILED, 0)
    assert run.detail.startswith("owner inactive")
    [listed] = schedules.list_schedules(caller=MARIA, uow=unit_of_work(session_factory))
    assert not listed.schedule.active
    assert run_due(session_factory, delivery_to(smtp_server), RUN_AT + timedelta(days=2)) == 0
    assert smtp_server.messages == []
