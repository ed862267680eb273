"""Risk alerts on SQLite: a transition is recorded once with its outbox event, nothing is recorded
when the kinds are unchanged, left kinds keep their reasons, a lost race changes nothing, and the
alerts list with the worksheets' visibility."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from salesplane.forecasting.v1 import inspection_pb2
from salesplane_forecasting.adapters import tables
from salesplane_forecasting.adapters.outbox_events import risk_state_aggregate_id
from salesplane_forecasting.adapters.sql_unit_of_work import SqlForecastingUnitOfWork
from salesplane_forecasting.domain.inspection.rep_flags import RepFlag, RepFlagKind
from salesplane_forecasting.domain.inspection.risk_state import RiskState, Subject, SubjectKind
from salesplane_forecasting.entrypoints.main import ALERT_INTERVAL_VARIABLE, periodic_jobs
from salesplane_forecasting.service_layer.risk_alerts import (
    evaluate_current_periods,
    list_risk_alerts,
    record_transitions,
)
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.errors import Conflict, InvalidArgument, PermissionDenied
from salesplane_platform.events import decode_envelope, unpack_payload
from salesplane_platform.identity import Identity
from salesplane_platform.unit_of_work import OutboxContext

# vp > mia > (ann, bob)
ORG = [("vp", None), ("mia", "vp"), ("ann", "mia"), ("bob", "mia")]
NOW = datetime(2026, 11, 16, 9, tzinfo=UTC)
ANN = Subject(SubjectKind.REP, "ann", "2026-Q4")


def flag(kind: RepFlagKind, money: int = 1_000, reason: str = "") -> RepFlag:
    return RepFlag(kind, "ann", reason or f"{kind.value} by {money}", {}, money)


@pytest.fixture
def env(tmp_path: Path) -> Any:
    engine = make_engine(f"sqlite:///{tmp_path / 'forecasting.db'}")
    tables.metadata.create_all(engine)
    sessions = make_session_factory(engine)
    with sessions() as session, session.begin():
        for user_id, manager in ORG:
            session.execute(
                tables.users.insert().values(
                    user_id=user_id,
                    display_name=user_id.title(),
                    email="",
                    roles="rep",
                    manager_user_id=manager,
                    active=True,
                    version=1,
                    updated_at=NOW,
                )
            )
    outbox = OutboxContext(tables.platform, "forecasting", "salesplane.forecasting", threading.Event())

    class Env:
        def uow(self) -> SqlForecastingUnitOfWork:
            return SqlForecastingUnitOfWork(sessions, outbox)

        def record(self, *flags: RepFlag, subject: Subject = ANN, now: datetime = NOW) -> int:
            done = record_transitions(
                subjects=[(subject, flags)], uow_factory=self.uow, base_currency="EUR", now=now
            )
            return done.recorded

        def events(self) -> list[tuple[str, str, int, inspection_pb2.RiskStateChanged]]:
            with sessions() as session:
                outbox = tables.platform.outbox
                rows = session.execute(
                    select(outbox).where(outbox.c.aggregate_type == "risk_state").order_by(outbox.c.id)
                )
                return [
                    (
                        row.aggregate_type,
                        row.aggregate_id,
                        row.aggregate_version,
                        unpack_payload(decode_envelope(row.payload), inspection_pb2.RiskStateChanged),
                    )
                    for row in rows
                ]

        def alerts(self, caller: str = "vp", user_id: str = "vp", **options: Any) -> Any:
            return list_risk_alerts(
                user_id=user_id,
                period_id=options.pop("period_id", ""),
                page_size=options.pop("page_size", 0),
                page_token=options.pop("page_token", ""),
                caller=Identity(caller, frozenset({"manager"})),
                uow=self.uow(),
            )

    yield Env()
    engine.dispose()


def test_entering_a_risk_state_is_recorded_once_with_its_event(env: Any) -> None:
    assert env.record(flag(RepFlagKind.PACING_BEHIND, 2_500)) == 1
    assert env.record(flag(RepFlagKind.PACING_BEHIND, 2_500)) == 0

    [(aggregate_type, aggregate_id, version, event)] = env.events()
    assert (aggregate_type, aggregate_id, version) == ("risk_state", risk_state_aggregate_id(ANN), 1)
    alert = event.alert
    assert (alert.subject_kind, alert.user_id, alert.period_id, alert.sequence) == (
        "rep",
        "ann",
        "2026-Q4",
        1,
    )
    assert [
        (f.kind, f.reason, f.money_at_risk.amount_minor, f.money_at_risk.currency_code) for f in alert.entered
    ] == [("pacing_behind", "pacing_behind by 2500", 2_500, "EUR")]
    assert list(alert.left) == []
    assert [f.kind for f in alert.current] == ["pacing_behind"]
    assert alert.occur_time.ToDatetime(UTC) == NOW
    [listed] = env.alerts().alerts
    assert (listed.sequence, [f.kind for f in listed.entered]) == (1, [RepFlagKind.PACING_BEHIND])


def test_new_numbers_for_the_same_kinds_record_nothing(env: Any) -> None:
    env.record(flag(RepFlagKind.PACING_BEHIND, 2_500))

    assert env.record(flag(RepFlagKind.PACING_BEHIND, 9_999, "worse")) == 0
    assert env.record() == 1
    assert [e[2] for e in env.events()] == [1, 2]


def test_no_flags_and_no_state_record_nothing(env: Any) -> None:
    assert env.record() == 0
    assert env.events() == []
    assert env.alerts().alerts == ()


def test_leaving_a_kind_reports_it_with_the_reason_of_the_last_change(env: Any) -> None:
    env.record(flag(RepFlagKind.PACING_BEHIND, 2_500), flag(RepFlagKind.SLIPPING, 700))

    assert env.record(flag(RepFlagKind.SLIPPING, 800), flag(RepFlagKind.LOW_P_QUOTA, 4_000)) == 1

    event = env.events()[-1][3].alert
    assert [(f.kind, f.money_at_risk.amount_minor) for f in event.left] == [("pacing_behind", 2_500)]
    assert [(f.kind, f.money_at_risk.amount_minor) for f in event.entered] == [("low_p_quota", 4_000)]
    assert [f.kind for f in event.current] == ["low_p_quota", "slipping"]
    assert event.sequence == 2
    latest, first = env.alerts().alerts
    assert (latest.sequence, first.sequence) == (2, 1)


def test_an_evaluator_that_lost_the_race_changes_nothing(env: Any) -> None:
    slow = env.uow()
    with slow.acting_for("slow"):
        stale = slow.risk_states.get(ANN)
    # Another evaluator records the same transition while this one is deciding.
    assert env.record(flag(RepFlagKind.PACING_BEHIND)) == 1
    with slow.acting_for("slow"):
        assert stale.evaluate([flag(RepFlagKind.PACING_BEHIND)], now=NOW, currency_code="EUR") is not None
        with pytest.raises(Conflict):
            slow.risk_states.save(stale)

    assert len(env.events()) == 1
    assert len(env.alerts().alerts) == 1


def test_a_stale_state_loses_to_a_later_version(env: Any) -> None:
    env.record(flag(RepFlagKind.PACING_BEHIND))
    uow = env.uow()
    with uow.acting_for("slow"):
        stale = uow.risk_states.get(ANN)
    env.record()
    with uow.acting_for("slow"):
        stale.evaluate([flag(RepFlagKind.SLIPPING)], now=NOW, currency_code="EUR")
        with pytest.raises(Conflict):
            uow.risk_states.save(stale)
    assert [e[2] for e in env.events()] == [1, 2]


def test_a_manager_lists_the_alerts_of_their_subtree_and_a_rep_only_their_own(env: Any) -> None:
    env.record(flag(RepFlagKind.PACING_BEHIND), subject=ANN)
    env.record(flag(RepFlagKind.SLIPPING), subject=Subject(SubjectKind.REP, "bob", "2026-Q4"))
    env.record(flag(RepFlagKind.LOW_P_QUOTA), subject=Subject(SubjectKind.TEAM, "mia", "2026-Q4"))
    env.record(flag(RepFlagKind.LOW_P_QUOTA), subject=Subject(SubjectKind.TEAM, "vp", "2026-Q4"))
    env.record(flag(RepFlagKind.SLIPPING), subject=Subject(SubjectKind.REP, "ann", "2026-11"))

    def listed(caller: str, user_id: str, **options: Any) -> list[tuple[str, str, str]]:
        page = env.alerts(caller, user_id, **options)
        return [(a.subject.kind.value, a.subject.user_id, a.subject.period_id) for a in page.alerts]

    assert listed("mia", "mia") == [
        ("rep", "ann", "2026-11"),
        ("team", "mia", "2026-Q4"),
        ("rep", "bob", "2026-Q4"),
        ("rep", "ann", "2026-Q4"),
    ]
    assert listed("mia", "mia", period_id="2026-Q4") == [
        ("team", "mia", "2026-Q4"),
        ("rep", "bob", "2026-Q4"),
        ("rep", "ann", "2026-Q4"),
    ]
    assert listed("ann", "") == [("rep", "ann", "2026-11"), ("rep", "ann", "2026-Q4")]
    assert len(listed("vp", "vp")) == 5
    with pytest.raises(PermissionDenied):
        env.alerts("ann", "bob")
    with pytest.raises(PermissionDenied):
        env.alerts("mia", "vp")


def test_alerts_page_newest_first_and_a_bad_period_is_refused(env: Any) -> None:
    for day in range(3):
        kinds = [flag(RepFlagKind.PACING_BEHIND)] if day % 2 == 0 else []
        env.record(*kinds, now=NOW + timedelta(days=day))

    first = env.alerts(page_size=2)
    second = env.alerts(page_size=2, page_token=first.next_page_token)

    assert [a.sequence for a in first.alerts] == [3, 2]
    assert ([a.sequence for a in second.alerts], second.next_page_token) == ([1], "")
    with pytest.raises(InvalidArgument):
        env.alerts(page_size=2, page_token=first.next_page_token, period_id="2026-Q4")
    with pytest.raises(InvalidArgument):
        env.alerts(period_id="2026-Q9")


def test_the_periodic_job_inspects_everyone_and_alerts_nothing_on_an_empty_org(env: Any) -> None:
    done = evaluate_current_periods(uow_factory=env.uow, base_currency="EUR", now=datetime.now(UTC))

    # vp and mia for their teams and own deals, ann and bob as mia's reports, in quarter and month.
    assert (done.recorded, done.unchanged, done.lost_races) == (0, 12, 0)


def test_the_alert_job_runs_every_interval_unless_disabled() -> None:
    def alert_jobs(env: dict[str, str]) -> list[float]:
        return [job.interval_seconds for job in periodic_jobs(env) if job.name == "inspection-risk-alerts"]

    assert alert_jobs({}) == [300.0]
    assert alert_jobs({ALERT_INTERVAL_VARIABLE: "60"}) == [60.0]
    assert alert_jobs({ALERT_INTERVAL_VARIABLE: "0"}) == []


def test_a_state_is_a_new_version_only_when_a_kind_changes() -> None:
    state = RiskState(ANN)

    assert state.evaluate([], now=NOW, currency_code="EUR") is None
    entered = state.evaluate([flag(RepFlagKind.SLIPPING)], now=NOW, currency_code="EUR")
    assert entered is not None and state.version == 1
    assert state.evaluate([flag(RepFlagKind.SLIPPING, 5)], now=NOW, currency_code="EUR") is None
    assert state.version == 1 and len(state.events) == 1
