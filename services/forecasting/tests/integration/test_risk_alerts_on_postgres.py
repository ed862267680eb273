"""Two risk-alert evaluators (two replicas of the forecasting process) recording the same change at
once, on PostgreSQL: both read the same state, both try to save it, one wins; there is one alert
record and one outbox event per change, for the first change (both insert the state) and for a
later one (both update it). Their figure records of the day are one row."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from salesplane_forecasting.adapters import risk_state_store, tables
from salesplane_forecasting.adapters.sql_unit_of_work import SqlForecastingUnitOfWork
from salesplane_forecasting.domain.inspection.recorded_figures import FiguresKey, RecordedFigures
from salesplane_forecasting.domain.inspection.rep_figures import RepFigures
from salesplane_forecasting.domain.inspection.rep_flags import RepFlag, RepFlagKind
from salesplane_forecasting.domain.inspection.risk_state import Subject, SubjectKind
from salesplane_forecasting.entrypoints.main import DEFINITION
from salesplane_forecasting.service_layer.risk_alerts import Evaluation, record_transitions
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.migrations import upgrade_to_head
from salesplane_platform.unit_of_work import OutboxContext

pytestmark = pytest.mark.integration

ANN = Subject(SubjectKind.REP, "ann", "2026-Q4")
NOW = datetime(2026, 11, 16, 9, tzinfo=UTC)


def flag(kind: RepFlagKind) -> RepFlag:
    return RepFlag(kind, "ann", kind.value, {}, 1_000)


@pytest.fixture
def make_uow(postgres_database_url: str) -> Any:
    engine = make_engine(postgres_database_url)
    upgrade_to_head(engine, DEFINITION.migrations, lock_name=DEFINITION.name)
    sessions = make_session_factory(engine)
    outbox = OutboxContext(tables.platform, "forecasting", "salesplane.forecasting", threading.Event())
    yield lambda: SqlForecastingUnitOfWork(sessions, outbox), sessions
    engine.dispose()


def race(make: Any, monkeypatch: pytest.MonkeyPatch, *flags: RepFlag) -> list[Evaluation]:
    """Both evaluators read the stored state before either saves."""
    both_read = threading.Barrier(2, timeout=10)
    load = risk_state_store.load

    def load_then_wait(session: Any, subject: Subject) -> Any:
        state = load(session, subject)
        both_read.wait()
        return state

    monkeypatch.setattr(risk_state_store, "load", load_then_wait)
    results: list[Evaluation] = []

    def evaluate() -> None:
        results.append(
            record_transitions(subjects=[(ANN, flags)], uow_factory=make, base_currency="EUR", now=NOW)
        )

    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    monkeypatch.setattr(risk_state_store, "load", load)
    return results


def counts(sessions: Any) -> tuple[int, int]:
    with sessions() as session:
        alerts = session.scalar(select(func.count()).select_from(tables.risk_alerts))
        events = session.scalar(
            select(func.count())
            .select_from(tables.platform.outbox)
            .where(tables.platform.outbox.c.aggregate_type == "risk_state")
        )
    return int(alerts or 0), int(events or 0)


def test_two_evaluators_record_each_change_once(make_uow: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    make, sessions = make_uow

    first = race(make, monkeypatch, flag(RepFlagKind.PACING_BEHIND))
    assert sorted((e.recorded, e.lost_races) for e in first) == [(0, 1), (1, 0)]
    assert counts(sessions) == (1, 1)

    later = race(make, monkeypatch, flag(RepFlagKind.PACING_BEHIND), flag(RepFlagKind.SLIPPING))
    assert sorted((e.recorded, e.lost_races) for e in later) == [(0, 1), (1, 0)]
    assert counts(sessions) == (2, 2)
    with make() as uow:
        state = uow.risk_states.get(ANN)
    assert state.version == 2
    assert {f.kind for f in state.flags} == {RepFlagKind.PACING_BEHIND, RepFlagKind.SLIPPING}


def test_figure_records_of_a_day_from_two_evaluators_are_one_row(make_uow: Any) -> None:
    make, sessions = make_uow
    key = FiguresKey("ann", False, "2026-Q4")

    def figures(pipeline: int) -> RecordedFigures:
        values = RepFigures("ann", "EUR", 100, 10, None, 10, pipeline, 50, 0.25)
        return RecordedFigures(key, NOW, values)

    both = threading.Barrier(2, timeout=10)

    def record(pipeline: int) -> None:
        uow = make()
        with uow:
            both.wait()
            uow.figure_records.record([figures(pipeline)])
            uow.commit()

    threads = [threading.Thread(target=record, args=(p,)) for p in (300, 400)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    with make() as uow:
        stored = uow.figure_records.as_of([key], NOW.date())
    assert list(stored) == [key]
    assert stored[key].figures.pipeline_minor in (300, 400) and stored[key].figures.p_quota == 0.25
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(tables.inspection_figures)) == 1
