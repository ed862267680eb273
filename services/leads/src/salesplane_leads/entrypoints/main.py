"""Composition root of the leads service."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import grpc

from salesplane.leads.v1 import leads_pb2, leads_pb2_grpc
from salesplane_leads.adapters import tables
from salesplane_leads.adapters.sql_unit_of_work import SqlLeadsUnitOfWork
from salesplane_leads.entrypoints.grpc_api import LeadServicer
from salesplane_platform.service_process import ServiceContext, ServiceDefinition, run_service

TOPIC = "salesplane.leads.v1"


def register_api(server: grpc.Server, context: ServiceContext) -> Sequence[str]:
    servicer = LeadServicer(lambda: SqlLeadsUnitOfWork(context.session_factory, context.outbox))
    leads_pb2_grpc.add_LeadServiceServicer_to_server(servicer, server)
    return [leads_pb2.DESCRIPTOR.services_by_name["LeadService"].full_name]


DEFINITION = ServiceDefinition(
    name="leads",
    default_grpc_port=50051,
    default_metrics_port=9101,
    tables=tables.platform,
    migrations=Path(__file__).resolve().parent.parent / "migrations",
    topic=TOPIC,
    register_api=register_api,
)


def main() -> None:
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
