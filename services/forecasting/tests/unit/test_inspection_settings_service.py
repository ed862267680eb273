"""The inspection thresholds as stored settings, through the unit of work on SQLite: defaults until
an administrator saves, a version per change, optimistic concurrency, every bad value at once."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest

from salesplane_forecasting.adapters import tables
from salesplane_forecasting.adapters.sql_unit_of_work import SqlForecastingUnitOfWork
from salesplane_forecasting.domain.inspection.thresholds import DEFAULT_THRESHOLDS
from salesplane_forecasting.service_layer.inspection_settings import (
    get_inspection_settings,
    update_inspection_settings,
)
from salesplane_platform.audit_log import AuditQuery, field_changes, read_entries
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.errors import Conflict, InvalidArgument, PermissionDenied
from salesplane_platform.identity import Identity
from salesplane_platform.unit_of_work import OutboxContext

ADMIN = Identity("root", frozenset({"admin"}))
MANAGER = Identity("mia", frozenset({"manager"}))


@pytest.fixture
def uow(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'forecasting.db'}")
    tables.metadata.create_all(engine)
    sessions = make_session_factory(engine)
    outbox = OutboxContext(tables.platform, "forecasting", None, threading.Event())
    yield lambda: SqlForecastingUnitOfWork(sessions, outbox)
    engine.dispose()


def test_the_defaults_are_served_at_version_zero_until_an_admin_saves(uow):
    settings = get_inspection_settings(uow=uow())
    assert (settings.thresholds, settings.version, settings.updated_at) == (DEFAULT_THRESHOLDS, 0, None)


def test_each_change_is_a_new_version_and_reads_back(uow):
    first = replace(DEFAULT_THRESHOLDS, no_change_days=21, unlikely_max_stage_order=2)
    saved = update_inspection_settings(thresholds=first, expected_version=0, caller=ADMIN, uow=uow())
    assert (saved.version, saved.updated_by) == (1, "root")
    again = update_inspection_settings(
        thresholds=replace(first, pushes_to_flag=3), expected_version=1, caller=ADMIN, uow=uow()
    )
    stored = get_inspection_settings(uow=uow())
    assert stored.version == again.version == 2
    assert (stored.thresholds.no_change_days, stored.thresholds.pushes_to_flag) == (21, 3)
    assert stored.thresholds.unlikely_max_stage_order == 2
    # Each change is audited (no event carries it), with the one field changed the second time.
    with uow() as reader:
        entries, _ = read_entries(reader.session, tables.platform.audit_log, AuditQuery())
    assert [(e.action, e.actor, e.state["version"]) for e in entries] == [
        ("InspectionSettingsChanged", "root", 2),
        ("InspectionSettingsChanged", "root", 1),
    ]
    assert entries[0].previous_state is not None
    changed = {c.path for c in field_changes(entries[0].previous_state, entries[0].state)}
    assert changed == {"version", "thresholds.pushes_to_flag"}


def test_saving_the_stored_thresholds_again_makes_no_version(uow):
    update_inspection_settings(
        thresholds=replace(DEFAULT_THRESHOLDS, pushes_to_flag=3),
        expected_version=None,
        caller=ADMIN,
        uow=uow(),
    )
    same = update_inspection_settings(
        thresholds=replace(DEFAULT_THRESHOLDS, pushes_to_flag=3),
        expected_version=None,
        caller=ADMIN,
        uow=uow(),
    )
    assert same.version == 1


def test_a_stale_expected_version_is_a_conflict(uow):
    update_inspection_settings(thresholds=DEFAULT_THRESHOLDS, expected_version=0, caller=ADMIN, uow=uow())
    changed = replace(DEFAULT_THRESHOLDS, pushes_to_flag=4)
    update_inspection_settings(thresholds=changed, expected_version=0, caller=ADMIN, uow=uow())
    with pytest.raises(Conflict):
        update_inspection_settings(
            thresholds=replace(changed, pushes_to_flag=5), expected_version=0, caller=ADMIN, uow=uow()
        )


def test_only_administrators_change_them(uow):
    with pytest.raises(PermissionDenied):
        update_inspection_settings(
            thresholds=DEFAULT_THRESHOLDS, expected_version=None, caller=MANAGER, uow=uow()
        )


def test_every_value_out_of_range_is_named_at_once_and_nothing_is_saved(uow):
    bad = replace(DEFAULT_THRESHOLDS, stalled_percentile=0, no_change_days=400, bias_min_periods=5)
    with pytest.raises(InvalidArgument) as raised:
        update_inspection_settings(thresholds=bad, expected_version=None, caller=ADMIN, uow=uow())
    fields = {violation.field for violation in raised.value.violations}
    assert fields == {
        "thresholds.stalled_percentile",
        "thresholds.no_change_days",
        "thresholds.bias_min_periods",
    }
    assert get_inspection_settings(uow=uow()).version == 0
