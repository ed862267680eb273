"""Admin commands of the reporting service.

`salesplane-reporting-admin rebuild` (with every reporting process stopped) empties the read models
and moves reporting's consumer group back to the start of every topic it reads; the service, once
started, replays them all and rebuilds the read models from the events alone. Report definitions,
schedules and runs are kept: they are reporting's own data, not projections."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import delete

from salesplane_platform.db import make_engine
from salesplane_platform.migrations import upgrade_to_head
from salesplane_platform.service_process import settings_from_env
from salesplane_platform.transport_factory import reset_consumer_group
from salesplane_reporting.adapters import tables

READ_MODELS = (
    tables.opportunity_current,
    tables.opportunity_versions,
    tables.sales_stage_view,
    tables.org_users,
    tables.org_closure,
    tables.fiscal_settings,
    tables.quota_view,
    tables.forecast_commits,
    tables.lead_view,
    tables.lead_touch_view,
    tables.lead_source_view,
    tables.campaign_view,
    tables.campaign_costs,
    tables.pipeline_rollup,
    tables.exchange_rate_view,
)


def rebuild() -> str:
    from salesplane_reporting.entrypoints.main import DEFINITION

    settings = settings_from_env(DEFINITION)
    engine = make_engine(settings.database_url)
    try:
        upgrade_to_head(engine, DEFINITION.migrations, lock_name=DEFINITION.name)
        with engine.begin() as connection:
            for table in READ_MODELS:
                connection.execute(delete(table))
            # What the consumer runner remembers of this group's events goes too, or the replay
            # would be skipped as already seen.
            connection.execute(delete(tables.platform.consumed_versions))
        partitions = reset_consumer_group(settings, [settings.topic(t) for t in DEFINITION.consumes])
    finally:
        engine.dispose()
    return f"emptied {len(READ_MODELS)} read models; {partitions} partitions will be replayed from the start"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="salesplane-reporting-admin", description=__doc__)
    parser.add_argument("command", choices=["rebuild"])
    parser.parse_args(argv)
    print(rebuild())
    sys.stdout.flush()


if __name__ == "__main__":
    main()
