"""Composition root of the reporting service."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import grpc

from salesplane.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from salesplane_platform.consumer_runner import EventHandler
from salesplane_platform.service_process import ServiceContext, ServiceDefinition, run_service
from salesplane_reporting.adapters import tables
from salesplane_reporting.adapters.sql_unit_of_work import SqlReportingUnitOfWork
from salesplane_reporting.domain.reports.registry import builtin_reports
from salesplane_reporting.entrypoints.grpc_api import ReportingServicer
from salesplane_reporting.entrypoints.read_model_consumer import ReadModelProjector


def register_api(server: grpc.Server, context: ServiceContext) -> Sequence[str]:
    servicer = ReportingServicer(
        builtin_reports(), lambda: SqlReportingUnitOfWork(context.session_factory, context.outbox)
    )
    reporting_pb2_grpc.add_ReportingServiceServicer_to_server(servicer, server)
    return [reporting_pb2.DESCRIPTOR.services_by_name["ReportingService"].full_name]


def make_handler(context: ServiceContext) -> EventHandler:
    return ReadModelProjector()


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
)


def main() -> None:
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
