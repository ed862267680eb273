"""Composition root of the forecasting service."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import grpc

from salesplane.forecasting.v1 import (
    forecasting_pb2,
    forecasting_pb2_grpc,
    inspection_pb2,
    inspection_pb2_grpc,
    org_pb2,
    org_pb2_grpc,
    quotas_pb2,
    quotas_pb2_grpc,
    settings_pb2,
    settings_pb2_grpc,
    worksheets_pb2,
    worksheets_pb2_grpc,
)
from salesplane_forecasting.adapters import tables
from salesplane_forecasting.adapters.sql_unit_of_work import SqlForecastingUnitOfWork
from salesplane_forecasting.entrypoints.grpc_api import ForecastingServicer
from salesplane_forecasting.entrypoints.inspection_api import InspectionServicer
from salesplane_forecasting.entrypoints.opportunity_consumer import (
    OPPORTUNITIES_TOPIC,
    OpportunityRollupHandler,
)
from salesplane_forecasting.entrypoints.org_api import OrgServicer
from salesplane_forecasting.entrypoints.quota_api import QuotaServicer
from salesplane_forecasting.entrypoints.settings_api import ForecastSettingsServicer
from salesplane_forecasting.entrypoints.worksheet_api import WorksheetServicer
from salesplane_forecasting.service_layer import org, risk_alerts
from salesplane_platform import topics
from salesplane_platform.consumer_runner import EventHandler
from salesplane_platform.service_process import PeriodicJob, ServiceContext, ServiceDefinition, run_service
from salesplane_platform.settings import bounded_int

TOPIC = topics.FORECASTING
ALERT_INTERVAL_VARIABLE = "SALESPLANE_INSPECTION_ALERT_INTERVAL_SECONDS"
DEFAULT_ALERT_INTERVAL_SECONDS = 300


def unit_of_work_factory(context: ServiceContext) -> Callable[[], SqlForecastingUnitOfWork]:
    """Forecasting's own unit of work (the context's plain one has none of its stores)."""
    return lambda: SqlForecastingUnitOfWork(context.session_factory, context.outbox)


def register_api(server: grpc.Server, context: ServiceContext) -> Sequence[str]:
    unit_of_work = unit_of_work_factory(context)
    forecasting_pb2_grpc.add_ForecastingServiceServicer_to_server(
        ForecastingServicer(unit_of_work, context.settings.base_currency), server
    )
    org_pb2_grpc.add_OrgServiceServicer_to_server(OrgServicer(unit_of_work), server)
    settings_pb2_grpc.add_ForecastSettingsServiceServicer_to_server(
        ForecastSettingsServicer(unit_of_work, context.settings.base_currency), server
    )
    quotas_pb2_grpc.add_QuotaServiceServicer_to_server(
        QuotaServicer(unit_of_work, context.settings.base_currency), server
    )
    worksheets_pb2_grpc.add_WorksheetServiceServicer_to_server(
        WorksheetServicer(unit_of_work, context.settings.base_currency), server
    )
    inspection_pb2_grpc.add_InspectionServiceServicer_to_server(
        InspectionServicer(unit_of_work, context.settings.base_currency), server
    )
    return [
        forecasting_pb2.DESCRIPTOR.services_by_name["ForecastingService"].full_name,
        org_pb2.DESCRIPTOR.services_by_name["OrgService"].full_name,
        settings_pb2.DESCRIPTOR.services_by_name["ForecastSettingsService"].full_name,
        quotas_pb2.DESCRIPTOR.services_by_name["QuotaService"].full_name,
        worksheets_pb2.DESCRIPTOR.services_by_name["WorksheetService"].full_name,
        inspection_pb2.DESCRIPTOR.services_by_name["InspectionService"].full_name,
    ]


def scheduled_moves(context: ServiceContext) -> Callable[[], object]:
    return lambda: org.apply_due_moves(today=datetime.now(UTC).date(), uow=unit_of_work_factory(context)())


def risk_alert_evaluation(context: ServiceContext) -> Callable[[], object]:
    """Records the risk transitions of the current periods (service_layer/risk_alerts.py)."""
    return lambda: risk_alerts.evaluate_current_periods(
        uow_factory=unit_of_work_factory(context),
        base_currency=context.settings.base_currency,
        now=datetime.now(UTC),
    )


def periodic_jobs(env: Mapping[str, str]) -> tuple[PeriodicJob, ...]:
    """The reorganisations every minute; the risk alerts every ALERT_INTERVAL_VARIABLE seconds
    unless it is 0."""
    jobs = [PeriodicJob("scheduled-reorganisations", 60.0, scheduled_moves)]
    interval = bounded_int(env, ALERT_INTERVAL_VARIABLE, DEFAULT_ALERT_INTERVAL_SECONDS, low=0)
    if interval:
        jobs.append(PeriodicJob("inspection-risk-alerts", float(interval), risk_alert_evaluation))
    return tuple(jobs)


def make_handler(context: ServiceContext) -> EventHandler:
    return OpportunityRollupHandler(context.settings.base_currency)


DEFINITION = ServiceDefinition(
    name="forecasting",
    default_grpc_port=50053,
    default_metrics_port=9103,
    tables=tables.platform,
    migrations=Path(__file__).resolve().parent.parent / "migrations",
    topic=TOPIC,
    register_api=register_api,
    consumes=(OPPORTUNITIES_TOPIC,),
    make_handler=make_handler,
    periodic_jobs=periodic_jobs(os.environ),
    # The organisation itself: its users table.
    org_members=tables.users,
)


def main() -> None:
    parser = argparse.ArgumentParser(description="Salesplane forecasting service")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "rebuild-rollups"])
    options = parser.parse_args()
    if options.command == "rebuild-rollups":
        from salesplane_forecasting.entrypoints.admin import rebuild

        rebuild()
        return
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
