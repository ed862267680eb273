"""A rep leaves, end to end on real Kafka and PostgreSQL with every service a separate process:
deactivating them while they still have an open deal and an open lead is refused, naming both;
asked to reassign, forecasting has the leads service hand the lead and the opportunities service the
deal to their manager (with forecasting's own service credentials, on behalf of the admin), then
deactivates them; the manager's own pipeline then holds the deal, and the rep's holds nothing."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from kafka import KafkaConsumer

from salesplane.common.v1.common_pb2 import Money
from salesplane.forecasting.v1 import forecasting_pb2, forecasting_pb2_grpc, org_pb2, org_pb2_grpc
from salesplane.leads.v1 import leads_pb2, leads_pb2_grpc
from salesplane.opportunities.v1 import events_pb2 as opportunity_events
from salesplane.opportunities.v1 import opportunities_pb2, opportunities_pb2_grpc
from salesplane_platform.events import decode_envelope, unpack_payload
from tests.e2e.conftest import bearer
from tests.e2e.story_helpers import await_organisation, eventually, proto_date

pytestmark = pytest.mark.e2e

ADMIN = bearer()
DEAL_AMOUNT = 25_000_00


def month_of(day: date) -> str:
    return f"{day.year}-{day.month:02d}"


def user(user_id: str, manager: str, roles: list[str], *, active: bool = True) -> org_pb2.User:
    return org_pb2.User(
        user_id=user_id, display_name=user_id.title(), roles=roles, manager_user_id=manager, active=active
    )


def reassigned_actors(bootstrap: str, topic: str, deal_id: str, timeout: float = 30) -> list[str]:
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=1000
    )
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for record in consumer:
                envelope = decode_envelope(record.value)
                if envelope.aggregate_id != deal_id:
                    continue
                change = unpack_payload(envelope, opportunity_events.OpportunityChanged)
                if change.kind == opportunity_events.CHANGE_KIND_REASSIGNED:
                    return [envelope.actor]
    finally:
        consumer.close()
    return []


def test_a_leaving_rep_with_open_work_is_refused_then_their_work_goes_to_their_manager(
    services, kafka_broker, topic_prefix
):
    # The fixture tells each service where the others serve (forecasting: leads and opportunities).
    forecasting = services("forecasting")
    opportunities = services("opportunities")
    leads = services("leads")
    org = org_pb2_grpc.OrgServiceStub(grpc.insecure_channel(forecasting.target))
    rollups = forecasting_pb2_grpc.ForecastingServiceStub(grpc.insecure_channel(forecasting.target))
    deals = opportunities_pb2_grpc.OpportunityServiceStub(grpc.insecure_channel(opportunities.target))
    lead_api = leads_pb2_grpc.LeadServiceStub(grpc.insecure_channel(leads.target))

    for member in (user("vp", "", ["manager"]), user("mgr", "vp", ["manager"]), user("rep", "mgr", ["rep"])):
        org.UpsertUser(org_pb2.UpsertUserRequest(user=member), metadata=ADMIN)
    for service in (opportunities, leads):
        await_organisation(service.env["SALESPLANE_DATABASE_URL"], ["vp", "mgr", "rep"])

    # The rep's work: an open deal and an open lead (and a dead lead, which is no one's work).
    close_on = datetime.now(UTC).date() + timedelta(days=20)
    stages = deals.ListSalesStages(opportunities_pb2.ListSalesStagesRequest(), metadata=ADMIN).sales_stages
    first_open = min((s for s in stages if not s.is_won and not s.is_lost), key=lambda s: s.order)
    deal = deals.CreateOpportunity(
        opportunities_pb2.CreateOpportunityRequest(
            name="Difference Engine",
            owner_user_id="rep",
            amount=Money(currency_code="USD", amount_minor=DEAL_AMOUNT),
            expected_close_date=proto_date(close_on),
            sales_stage=first_open.name,
        ),
        metadata=ADMIN,
    )
    lead = lead_api.CreateLead(
        leads_pb2.CreateLeadRequest(
            lead=leads_pb2.LeadFields(first_name="Ada", last_name="Lovelace", company="Analytical Engines"),
            assigned_user_id="rep",
        ),
        metadata=ADMIN,
    ).lead
    dead = lead_api.CreateLead(
        leads_pb2.CreateLeadRequest(
            lead=leads_pb2.LeadFields(first_name="Charles", last_name="Babbage", company="Engines"),
            assigned_user_id="rep",
        ),
        metadata=ADMIN,
    ).lead
    lead_api.ChangeLeadStatus(
        leads_pb2.ChangeLeadStatusRequest(
            lead_id=dead.id, status=leads_pb2.LEAD_STATUS_DEAD, reason="no budget"
        ),
        metadata=ADMIN,
    )
    leaving = org_pb2.UpsertUserRequest(user=user("rep", "mgr", ["rep"], active=False))

    def refused_naming_both() -> grpc.RpcError:
        try:
            org.UpsertUser(leaving, metadata=ADMIN)
        except grpc.RpcError as error:
            # Until forecasting has the deal's event, only the lead is named.
            assert "still owns 1 open deal and has 1 open lead" in (error.details() or ""), error.details()
            return error
        raise AssertionError("the rep was deactivated with open work")

    refusal = eventually(refused_naming_both)
    info = error_details_pb2.ErrorInfo()
    status = rpc_status.from_call(refusal)
    assert status is not None and status.details[0].Unpack(info)
    assert refusal.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (info.reason, dict(info.metadata)) == ("OWNS_OPEN_DEALS", {"open_deals": "1", "open_leads": "1"})
    assert org.GetUser(org_pb2.GetUserRequest(user_id="rep"), metadata=ADMIN).active

    # Asked to reassign: the lead, then the deal, go to the manager, then the rep is deactivated.
    leaving.reassign_open_work_to_manager = True
    left = org.UpsertUser(leaving, metadata=ADMIN)

    assert left.active is False
    assert (
        deals.GetOpportunity(
            opportunities_pb2.GetOpportunityRequest(opportunity_id=deal.id), metadata=ADMIN
        ).owner_user_id
        == "mgr"
    )
    moved = lead_api.GetLead(leads_pb2.GetLeadRequest(lead_id=lead.id), metadata=ADMIN)
    assert (moved.assigned_user_id, moved.status) == ("mgr", leads_pb2.LEAD_STATUS_ASSIGNED)
    assert (
        lead_api.GetLead(leads_pb2.GetLeadRequest(lead_id=dead.id), metadata=ADMIN).assigned_user_id == "rep"
    )
    # Done by forecasting as itself, on the admin's behalf, as each deal's own event says.
    assert reassigned_actors(
        kafka_broker.bootstrap_servers, f"{topic_prefix}salesplane.opportunities.v1", deal.id
    ) == ["service:forecasting on behalf of e2e-admin"]

    # The rollups follow the deal's event: the manager's own pipeline holds it, the rep's nothing.
    period = month_of(close_on)

    def the_deal_rolls_up_under_the_manager() -> None:
        manager = rollups.GetRollup(
            forecasting_pb2.GetRollupRequest(user_id="mgr", period_id=period), metadata=ADMIN
        )
        rep = rollups.GetRollup(
            forecasting_pb2.GetRollupRequest(user_id="rep", period_id=period), metadata=ADMIN
        )
        assert (manager.own.open_count, manager.own.pipeline.amount_minor) == (1, DEAL_AMOUNT)
        assert (rep.own.open_count, rep.own.pipeline.amount_minor) == (0, 0)
        assert manager.team.pipeline.amount_minor == DEAL_AMOUNT

    eventually(the_deal_rolls_up_under_the_manager)

    # Repeating the request changes nothing and moves nothing twice.
    assert org.UpsertUser(leaving, metadata=ADMIN).version == left.version
