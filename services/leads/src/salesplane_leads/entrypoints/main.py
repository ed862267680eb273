"""Composition root of the leads service."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import grpc

from salesplane.leads.v1 import leads_pb2, leads_pb2_grpc
from salesplane_leads.adapters import tables
from salesplane_leads.adapters.opportunities_client import DEFAULT_DEADLINE_SECONDS, GrpcOpportunityService
from salesplane_leads.adapters.sql_unit_of_work import SqlLeadsUnitOfWork
from salesplane_leads.entrypoints.grpc_api import LeadServicer
from salesplane_leads.service_layer.conversion import OpportunityService
from salesplane_platform import topics
from salesplane_platform.consumer_runner import EventHandler
from salesplane_platform.grpc_tracing import traced_channel
from salesplane_platform.org_replica import ORG_TOPIC, OrgReplicaHandler
from salesplane_platform.service_principals import rpc_name, service_rpcs
from salesplane_platform.service_process import ServiceContext, ServiceDefinition, run_service

TOPIC = topics.LEADS
# The naming the Helm chart, docker-compose.yml and the gateway use for the targets of gRPC calls.
OPPORTUNITIES_TARGET_ENV = "SALESPLANE_OPPORTUNITIES_TARGET"
DEFAULT_OPPORTUNITIES_ADDRESS = "localhost:50052"
_LEAD_SERVICE = leads_pb2.DESCRIPTOR.services_by_name["LeadService"]
# What other services may call here; to everything else a service principal is refused.
SERVICE_RPCS = service_rpcs(
    {
        # Before it deactivates a user: their open leads, counted or handed to their manager.
        "forecasting": {
            rpc_name(_LEAD_SERVICE, "CountOpenLeads"),
            rpc_name(_LEAD_SERVICE, "ReassignOpenLeads"),
        },
    }
)


def opportunities_address(environ: Mapping[str, str]) -> str:
    """host:port of the opportunities service: SALESPLANE_OPPORTUNITIES_TARGET, else
    localhost:50052 (where `make run` serves it)."""
    return environ.get(OPPORTUNITIES_TARGET_ENV, "").strip() or DEFAULT_OPPORTUNITIES_ADDRESS


def opportunities_from_env(context: ServiceContext) -> OpportunityService:
    """gRPC connects lazily, so the leads service starts (and serves everything but conversions)
    while the opportunities service is down. Calls carry the leads service's own credentials."""
    credentials = context.settings.service_credentials()
    channel = traced_channel(grpc.insecure_channel(opportunities_address(os.environ)))
    context.closables.append(channel.close)
    return GrpcOpportunityService(channel, credentials, deadline_seconds=DEFAULT_DEADLINE_SECONDS)


def make_org_replica_handler(context: ServiceContext) -> EventHandler:
    return OrgReplicaHandler(tables.reporting_lines)


def make_definition(
    opportunities: Callable[[ServiceContext], OpportunityService] = opportunities_from_env,
) -> ServiceDefinition:
    """The leads service; tests pass another way to reach the opportunities service."""

    def register_api(server: grpc.Server, context: ServiceContext) -> Sequence[str]:
        servicer = LeadServicer(
            lambda: SqlLeadsUnitOfWork(context.session_factory, context.outbox), opportunities(context)
        )
        leads_pb2_grpc.add_LeadServiceServicer_to_server(servicer, server)
        return [leads_pb2.DESCRIPTOR.services_by_name["LeadService"].full_name]

    return ServiceDefinition(
        name="leads",
        default_grpc_port=50051,
        default_metrics_port=9101,
        tables=tables.platform,
        migrations=Path(__file__).resolve().parent.parent / "migrations",
        topic=TOPIC,
        register_api=register_api,
        consumes=(ORG_TOPIC,),
        make_handler=make_org_replica_handler,
        org_members=tables.reporting_lines,
        service_rpcs=SERVICE_RPCS,
    )


DEFINITION = make_definition()


def main() -> None:
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
