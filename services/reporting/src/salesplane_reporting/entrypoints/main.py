"""Composition root of the reporting service."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import grpc

from salesplane.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from salesplane_platform.consumer_runner import EventHandler
from salesplane_platform.service_process import PeriodicJob, ServiceContext, ServiceDefinition, run_service
from salesplane_platform.settings import bounded_int
from salesplane_reporting.adapters import tables
from salesplane_reporting.adapters.report_rendering import ReportRendering, SmtpDelivery
from salesplane_reporting.adapters.smtp_mailer import SmtpMailer, SmtpSettings
from salesplane_reporting.adapters.sql_unit_of_work import SqlReportingUnitOfWork
from salesplane_reporting.entrypoints.grpc_api import ReportingServicer
from salesplane_reporting.entrypoints.read_model_consumer import ReadModelProjector
from salesplane_reporting.service_layer import schedules


def register_api(server: grpc.Server, context: ServiceContext) -> Sequence[str]:
    servicer = ReportingServicer(lambda: SqlReportingUnitOfWork(context.session_factory, context.outbox))
    reporting_pb2_grpc.add_ReportingServiceServicer_to_server(servicer, server)
    return [reporting_pb2.DESCRIPTOR.services_by_name["ReportingService"].full_name]


def make_handler(context: ServiceContext) -> EventHandler:
    return ReadModelProjector()


SCHEDULE_POLL_VARIABLE = "SALESPLANE_SCHEDULE_POLL_SECONDS"
DEFAULT_SCHEDULE_POLL_SECONDS = 30


def scheduled_reports(context: ServiceContext) -> Callable[[], object]:
    """Runs the due report schedules; mail goes out only when SALESPLANE_SMTP_HOST is set."""
    smtp = SmtpSettings.from_env()
    delivery = SmtpDelivery(SmtpMailer(smtp)) if smtp is not None else None
    renderer = ReportRendering()
    return lambda: schedules.run_due_schedules(
        uow_factory=lambda: SqlReportingUnitOfWork(context.session_factory, context.outbox),
        delivery=delivery,
        renderer=renderer,
        now=datetime.now(UTC),
    )


DEFINITION = ServiceDefinition(
    name="reporting",
    default_grpc_port=50054,
    default_metrics_port=9104,
    tables=tables.platform,
    migrations=Path(__file__).resolve().parent.parent / "migrations",
    topic=None,  # reporting only reads
    register_api=register_api,
    consumes=ReadModelProjector.topics,
    make_handler=make_handler,
    org_members=tables.org_users,
    periodic_jobs=(
        PeriodicJob(
            "scheduled-reports",
            float(bounded_int(os.environ, SCHEDULE_POLL_VARIABLE, DEFAULT_SCHEDULE_POLL_SECONDS, low=1)),
            scheduled_reports,
        ),
    ),
)


def main() -> None:
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
