"""ConvertLead against the real opportunities service (in-process, its own PostgreSQL database, both
services on Kafka): the opportunity is made by the leads service on behalf of the caller (recorded
as such), a failure between it and the local commit is completed by a retry with the same
opportunity, and refusals keep their codes."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.rpc import code_pb2

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.leads.v1 import events_pb2, leads_pb2
from salesplane.opportunities.v1 import opportunities_pb2, opportunities_pb2_grpc
from salesplane_leads.adapters.opportunities_client import GrpcOpportunityService
from salesplane_leads.domain.conversion import OpportunityOrder
from salesplane_leads.entrypoints.main import DEFINITION, OPPORTUNITIES_TARGET_ENV, TOPIC, make_definition
from salesplane_leads.service_layer.conversion import OpportunityServiceUnavailable
from salesplane_opportunities.entrypoints.main import DEFINITION as OPPORTUNITIES
from salesplane_platform.events import unpack_payload
from salesplane_platform.service_credentials import DevelopmentServiceToken
from salesplane_platform.service_process import ServiceContext

pytestmark = pytest.mark.integration

QUALIFICATION = leads_pb2.Qualification(
    budget=Money(currency_code="USD", amount_minor=40_000_00),
    authority=leads_pb2.AUTHORITY_DECISION_MAKER,
    timeline=Date(year=2031, month=9, day=30),
)


@pytest.fixture
def opportunities(
    create_database: Any, kafka_broker: Any, topic_prefix: str, tmp_path: Path, it: SimpleNamespace
) -> Iterator[SimpleNamespace]:
    settings = it.settings_for(
        "opportunities", create_database(), kafka_broker, topic_prefix, tmp_path / "opportunities"
    )
    with it.running(OPPORTUNITIES, settings) as process, it.channel_to(process) as channel:
        stub = opportunities_pb2_grpc.OpportunityServiceStub(channel)
        yield SimpleNamespace(
            client=it.Client(stub, settings.auth_secret), address=f"127.0.0.1:{process.grpc_port}"
        )


@pytest.fixture
def leads_settings(
    create_database: Any, kafka_broker: Any, topic_prefix: str, tmp_path: Path, it: SimpleNamespace
) -> Any:
    return it.settings_for("leads", create_database(), kafka_broker, topic_prefix, tmp_path / "leads")


@pytest.fixture
def leads(
    opportunities: SimpleNamespace, leads_settings: Any, monkeypatch: pytest.MonkeyPatch, it: SimpleNamespace
) -> Iterator[Any]:
    """The leads service as deployed: it finds the opportunities service through the environment."""
    monkeypatch.setenv(OPPORTUNITIES_TARGET_ENV, opportunities.address)
    with it.running(DEFINITION, leads_settings) as process, it.channel_to(process) as channel:
        yield it.leads_client(channel, leads_settings)


def qualified_lead(client: Any, assignee: str = "bob", company: str = "Analytical Engines") -> leads_pb2.Lead:
    lead = client.call(
        "CreateLead",
        leads_pb2.CreateLeadRequest(
            lead=leads_pb2.LeadFields(
                first_name="Ada", last_name="Lovelace", company=company, email="ada@example.com"
            ),
            assigned_user_id=assignee,
        ),
    ).lead
    return client.call(
        "QualifyLead",
        leads_pb2.QualifyLeadRequest(lead_id=lead.id, qualification=QUALIFICATION),
        assignee,
        "rep",
    )


def opportunities_of(opportunities: SimpleNamespace, lead_id: str) -> list[opportunities_pb2.Opportunity]:
    listed = opportunities.client.call(
        "ListOpportunities", opportunities_pb2.ListOpportunitiesRequest(lead_id=lead_id)
    )
    return list(listed.opportunities)


def test_converting_makes_the_opportunity_on_behalf_of_the_caller_and_publishes_converted(
    leads: Any, opportunities: SimpleNamespace, leads_settings: Any, kafka_broker: Any, it: SimpleNamespace
) -> None:
    lead = qualified_lead(leads)

    converted = leads.call(
        "ConvertLead",
        leads_pb2.ConvertLeadRequest(lead_id=lead.id, next_step="Send the proposal"),
        "bob",
        "rep",
    )

    opportunity = opportunities.client.call(
        "GetOpportunity",
        opportunities_pb2.GetOpportunityRequest(opportunity_id=converted.opportunity_id),
        "bob",
        "rep",
    )
    stages = opportunities.client.call("ListSalesStages", opportunities_pb2.ListSalesStagesRequest())
    first_open = min(
        (s for s in stages.sales_stages if not s.is_won and not s.is_lost), key=lambda s: s.order
    )
    assert (opportunity.name, opportunity.account_name, opportunity.owner_user_id, opportunity.lead_id) == (
        "Analytical Engines",
        "Analytical Engines",
        "bob",
        lead.id,
    )
    assert (
        opportunity.amount,
        opportunity.expected_close_date,
        opportunity.sales_stage,
        opportunity.next_step,
    ) == (
        QUALIFICATION.budget,
        QUALIFICATION.timeline,
        first_open.name,
        "Send the proposal",
    )
    assert (converted.lead.status, converted.lead.converted_opportunity_id, converted.lead.version) == (
        leads_pb2.LEAD_STATUS_CONVERTED,
        opportunity.id,
        lead.version + 1,
    )
    # Made by the leads service with its own credentials, recorded as done for bob.
    history = opportunities.client.call(
        "GetStageHistory", opportunities_pb2.GetStageHistoryRequest(opportunity_id=opportunity.id)
    )
    assert [entry.actor for entry in history.entries] == ["service:leads on behalf of bob"]
    assert leads.call("ConvertLead", leads_pb2.ConvertLeadRequest(lead_id=lead.id), "bob", "rep") == converted
    assert len(opportunities_of(opportunities, lead.id)) == 1
    envelopes = it.read_envelopes(
        kafka_broker,
        leads_settings.topic(TOPIC),
        lambda found: any(e.aggregate_version == converted.lead.version for e in found),
    )
    last = unpack_payload(envelopes[-1], events_pb2.LeadChanged)
    assert (last.kind, last.previous_status, last.lead) == (
        events_pb2.LEAD_CHANGE_KIND_CONVERTED,
        leads_pb2.LEAD_STATUS_ASSIGNED,
        converted.lead,
    )


class AnswerLost:
    """The opportunity is made, but its answer never reaches the leads service (a timeout, or the
    process dying before its commit)."""

    def __init__(self, real: GrpcOpportunityService) -> None:
        self._real = real
        self.made: list[str] = []

    def first_open_stage(self, *, on_behalf_of: str) -> str:
        return self._real.first_open_stage(on_behalf_of=on_behalf_of)

    def create_opportunity(self, order: OpportunityOrder, *, on_behalf_of: str) -> str:
        self.made.append(self._real.create_opportunity(order, on_behalf_of=on_behalf_of))
        raise OpportunityServiceUnavailable("deadline exceeded")


def test_a_retry_after_a_failure_between_the_opportunity_and_the_local_commit_yields_one_opportunity(
    opportunities: SimpleNamespace, leads_settings: Any, it: SimpleNamespace
) -> None:
    lost: list[AnswerLost] = []

    def real(context: ServiceContext) -> GrpcOpportunityService:
        credentials = DevelopmentServiceToken(context.settings.auth, "leads")
        return GrpcOpportunityService(grpc.insecure_channel(opportunities.address), credentials)

    def losing(context: ServiceContext) -> AnswerLost:
        lost.append(AnswerLost(real(context)))
        return lost[-1]

    with (
        it.running(make_definition(opportunities=losing), leads_settings) as process,
        it.channel_to(process) as channel,
    ):
        client = it.leads_client(channel, leads_settings)
        lead = qualified_lead(client)
        with pytest.raises(grpc.RpcError) as unavailable:
            client.call("ConvertLead", leads_pb2.ConvertLeadRequest(lead_id=lead.id), "bob", "rep")
        with pytest.raises(grpc.RpcError) as blocked:
            client.call(
                "UpdateLead",
                leads_pb2.UpdateLeadRequest(
                    lead_id=lead.id,
                    lead=leads_pb2.LeadFields(title="x"),
                    update_mask=FieldMask(paths=["title"]),
                ),
            )
        pending = client.call("GetLead", leads_pb2.GetLeadRequest(lead_id=lead.id))

    assert unavailable.value.code() == grpc.StatusCode.UNAVAILABLE
    assert blocked.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert pending.status == leads_pb2.LEAD_STATUS_ASSIGNED and pending.version == lead.version
    [first_attempt] = lost[0].made

    # The leads service restarts (a new process on the same database) and the user retries.
    with (
        it.running(make_definition(opportunities=real), leads_settings) as process,
        it.channel_to(process) as channel,
    ):
        converted = it.leads_client(channel, leads_settings).call(
            "ConvertLead", leads_pb2.ConvertLeadRequest(lead_id=lead.id), "bob", "rep"
        )

    assert converted.opportunity_id == first_attempt
    assert converted.lead.status == leads_pb2.LEAD_STATUS_CONVERTED
    assert [o.id for o in opportunities_of(opportunities, lead.id)] == [first_attempt]


def test_refusals_of_the_opportunities_service_reach_the_caller_with_their_codes(
    leads: Any, opportunities: SimpleNamespace, it: SimpleNamespace
) -> None:
    lead = qualified_lead(leads)

    with pytest.raises(grpc.RpcError) as invalid:
        leads.call(
            "ConvertLead",
            leads_pb2.ConvertLeadRequest(lead_id=lead.id, sales_stage="No such stage"),
            "bob",
            "rep",
        )
    with pytest.raises(grpc.RpcError) as denied:
        leads.call(
            "ConvertLead", leads_pb2.ConvertLeadRequest(lead_id=lead.id, owner_user_id="carol"), "bob", "rep"
        )
    with pytest.raises(grpc.RpcError) as ours:
        leads.call(
            "ConvertLead",
            leads_pb2.ConvertLeadRequest(lead_id=lead.id, amount=Money(currency_code="EURO", amount_minor=1)),
            "bob",
            "rep",
        )

    # A stage the opportunities service does not have configured: its refusal keeps its code.
    assert it.field_violations(invalid.value, code_pb2.FAILED_PRECONDITION) == ["opportunity.sales_stage"]
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert it.field_violations(ours.value) == ["amount.currency_code"]
    assert opportunities_of(opportunities, lead.id) == []
    # Nothing was created, so the lead is free again.
    moved = leads.call(
        "ChangeLeadStatus",
        leads_pb2.ChangeLeadStatusRequest(lead_id=lead.id, status=leads_pb2.LEAD_STATUS_IN_PROCESS),
        "bob",
        "rep",
    )
    assert moved.status == leads_pb2.LEAD_STATUS_IN_PROCESS


def test_an_unreachable_opportunities_service_is_unavailable_and_the_lead_waits_for_the_retry(
    leads_settings: Any, monkeypatch: pytest.MonkeyPatch, it: SimpleNamespace
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    monkeypatch.setenv(OPPORTUNITIES_TARGET_ENV, f"127.0.0.1:{closed_port}")

    with it.running(DEFINITION, leads_settings) as process, it.channel_to(process) as channel:
        client = it.leads_client(channel, leads_settings)
        lead = qualified_lead(client)
        with pytest.raises(grpc.RpcError) as unavailable:
            client.call("ConvertLead", leads_pb2.ConvertLeadRequest(lead_id=lead.id), "bob", "rep")
        with pytest.raises(grpc.RpcError) as blocked:
            client.call(
                "ChangeLeadStatus",
                leads_pb2.ChangeLeadStatusRequest(
                    lead_id=lead.id, status=leads_pb2.LEAD_STATUS_DEAD, reason="x"
                ),
                "bob",
                "rep",
            )

    assert unavailable.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "calling ConvertLead again is safe" in unavailable.value.details()
    assert blocked.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "call ConvertLead again" in blocked.value.details()
