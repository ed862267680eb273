"""Composition root of the opportunities service."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import grpc

from salesplane.opportunities.v1 import opportunities_pb2, opportunities_pb2_grpc
from salesplane_opportunities.adapters import tables
from salesplane_opportunities.adapters.configuration_store import SalesStageCatalogCache
from salesplane_opportunities.adapters.sql_unit_of_work import SqlOpportunitiesUnitOfWork
from salesplane_opportunities.entrypoints.grpc_api import OpportunityServicer
from salesplane_platform import topics
from salesplane_platform.consumer_runner import EventHandler
from salesplane_platform.org_replica import ORG_TOPIC, OrgReplicaHandler, Reach, ReportingLines
from salesplane_platform.service_principals import rpc_name, service_rpcs
from salesplane_platform.service_process import ServiceContext, ServiceDefinition, run_service

TOPIC = topics.OPPORTUNITIES
_OPPORTUNITY_SERVICE = opportunities_pb2.DESCRIPTOR.services_by_name["OpportunityService"]
# What other services may call here; to everything else a service principal is refused.
SERVICE_RPCS = service_rpcs(
    {
        # Converting a lead: the first open stage, and the deal (only for a conversion, see deals.py).
        "leads": {
            rpc_name(_OPPORTUNITY_SERVICE, "CreateOpportunity"),
            rpc_name(_OPPORTUNITY_SERVICE, "ListSalesStages"),
        },
        # Before it deactivates a user: their open deals handed to their manager.
        "forecasting": {rpc_name(_OPPORTUNITY_SERVICE, "ReassignOpenOpportunities")},
    }
)


def register_api(server: grpc.Server, context: ServiceContext) -> Sequence[str]:
    base_currency = context.settings.base_currency
    stage_cache = SalesStageCatalogCache()
    reach = Reach(ReportingLines(tables.reporting_lines))
    servicer = OpportunityServicer(
        lambda: SqlOpportunitiesUnitOfWork(
            context.session_factory,
            context.outbox,
            base_currency=base_currency,
            stage_cache=stage_cache,
            reach=reach,
        )
    )
    opportunities_pb2_grpc.add_OpportunityServiceServicer_to_server(servicer, server)
    return [opportunities_pb2.DESCRIPTOR.services_by_name["OpportunityService"].full_name]


def make_handler(context: ServiceContext) -> EventHandler:
    """Keeps the replica of the reporting lines (managers reach their subtree's deals) current."""
    return OrgReplicaHandler(tables.reporting_lines)


DEFINITION = ServiceDefinition(
    name="opportunities",
    default_grpc_port=50052,
    default_metrics_port=9102,
    tables=tables.platform,
    migrations=Path(__file__).resolve().parent.parent / "migrations",
    topic=TOPIC,
    register_api=register_api,
    consumes=(ORG_TOPIC,),
    make_handler=make_handler,
    org_members=tables.reporting_lines,
    service_rpcs=SERVICE_RPCS,
)


def main() -> None:
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
