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
from salesplane_forecasting.adapters.open_work_client import GrpcOpenWork
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
from salesplane_forecasting.service_layer.org import OpenWork
from salesplane_platform import topics
from salesplane_platform.consumer_runner import EventHandler
from salesplane_platform.grpc_tracing import traced_channel
from salesplane_platform.service_process import PeriodicJob, ServiceContext, ServiceDefinition, run_service
from salesplane_platform.settings import bounded_int

TOPIC = topics.FORECASTING
ALERT_INTERVAL_VARIABLE = "SALESPLANE_INSPECTION_ALERT_INTERVAL_SECONDS"
DEFAULT_ALERT_INTERVAL_SECONDS = 300
# The naming the Helm chart, docker-compose.yml and the gateway use for the targets of gRPC calls;
# the defaults are where `make run` serves them.
LEADS_TARGET_ENV = "SALESPLANE_LEADS_TARGET"
OPPORTUNITIES_TARGET_ENV = "SALESPLANE_OPPORTUNITIES_TARGET"
DEFAULT_LEADS_ADDRESS = "localhost:50051"
DEFAULT_OPPORTUNITIES_ADDRESS = "localhost:50052"


def unit_of_work_factory(context: ServiceContext) -> Callable[[], SqlForecastingUnitOfWork]:
    """Forecasting's own unit of work (the context's plain one has none of its stores)."""
    return lambda: SqlForecastingUnitOfWork(context.session_factory, context.outbox)


def peer_address(environ: Mapping[str, str], variable: str, default: str) -> str:
    """host:port of a service forecasting calls: its SALESPLANE_<NAME>_TARGET, else the default."""
    return environ.get(variable, "").strip() or default


def open_work_from_env(context: ServiceContext) -> OpenWork:
    """The leads and opportunities services (a leaving user's open work), called with forecasting's
    own credentials. gRPC connects lazily: forecasting serves while they are down, and only
    deactivations wait for them."""
    credentials = context.settings.service_credentials()
    leads = traced_channel(
        grpc.insecure_channel(peer_address(os.environ, LEADS_TARGET_ENV, DEFAULT_LEADS_ADDRESS))
    )
    opportunities = traced_channel(
        grpc.insecure_channel(
            peer_address(os.environ, OPPORTUNITIES_TARGET_ENV, DEFAULT_OPPORTUNITIES_ADDRESS)
        )
    )
    context.closables.extend([leads.close, opportunities.close])
    return GrpcOpenWork(leads, opportunities, credentials)


def register_api(
    server: grpc.Server,
    context: ServiceContext,
    open_work: Callable[[ServiceContext], OpenWork] = open_work_from_env,
) -> Sequence[str]:
    unit_of_work = unit_of_work_factory(context)
    forecasting_pb2_grpc.add_ForecastingServiceServicer_to_server(
        ForecastingServicer(unit_of_work, context.settings.base_currency), server
    )
    org_pb2_grpc.add_OrgServiceServicer_to_server(OrgServicer(unit_of_work, open_work(context)), server)
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


def make_definition(
    open_work: Callable[[ServiceContext], OpenWork] = open_work_from_env,
) -> ServiceDefinition:
    """The forecasting service; tests pass another way to reach a user's open work."""
    return ServiceDefinition(
        name="forecasting",
        default_grpc_port=50053,
        default_metrics_port=9103,
        tables=tables.platform,
        migrations=Path(__file__).resolve().parent.parent / "migrations",
        topic=TOPIC,
        register_api=lambda server, context: register_api(server, context, open_work),
        consumes=(OPPORTUNITIES_TOPIC,),
        make_handler=make_handler,
        periodic_jobs=periodic_jobs(os.environ),
        # The organisation itself: its users table.
        org_members=tables.users,
    )


DEFINITION = make_definition()


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
