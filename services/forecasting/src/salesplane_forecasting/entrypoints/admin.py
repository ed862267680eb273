"""Admin commands: `salesplane-forecasting rebuild-rollups` recomputes every rollup from scratch."""

from __future__ import annotations

from salesplane_forecasting.service_layer.rollups import rebuild_all_rollups
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.migrations import upgrade_to_head
from salesplane_platform.settings import ServiceSettings


def rebuild() -> None:
    from salesplane_forecasting.entrypoints.main import DEFINITION

    settings = ServiceSettings.from_env(
        DEFINITION.name,
        default_grpc_port=DEFINITION.default_grpc_port,
        default_metrics_port=DEFINITION.default_metrics_port,
    )
    engine = make_engine(settings.database_url)
    try:
        upgrade_to_head(engine, DEFINITION.migrations, lock_name=DEFINITION.name)
        rows = rebuild_all_rollups(sessions=make_session_factory(engine))
        print(f"rebuilt {rows} rollup rows")
    finally:
        engine.dispose()
