"""Admin commands: `salesplane-forecasting rebuild-rollups` recomputes every rollup from scratch."""

from __future__ import annotations

import threading

from salesplane_forecasting.adapters.sql_unit_of_work import SqlForecastingUnitOfWork
from salesplane_forecasting.service_layer.rollups import rebuild_all_rollups
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.migrations import upgrade_to_head
from salesplane_platform.service_process import settings_from_env
from salesplane_platform.unit_of_work import OutboxContext


def rebuild() -> None:
    from salesplane_forecasting.entrypoints.main import DEFINITION

    settings = settings_from_env(DEFINITION)
    engine = make_engine(settings.database_url)
    try:
        upgrade_to_head(engine, DEFINITION.migrations, lock_name=DEFINITION.name)
        # A rebuild raises no events: the outbox context only completes the unit of work.
        outbox = OutboxContext(DEFINITION.tables, DEFINITION.name, None, threading.Event())
        uow = SqlForecastingUnitOfWork(make_session_factory(engine), outbox)
        rows = rebuild_all_rollups(uow=uow)
        print(f"rebuilt {rows} rollup rows")
    finally:
        engine.dispose()
