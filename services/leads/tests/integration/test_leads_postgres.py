"""The leads service as it runs: real gRPC server, PostgreSQL, outbox relay to the local event log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2
from grpc_status import rpc_status

from salesplane.leads.v1 import events_pb2, leads_pb2, leads_pb2_grpc
from salesplane_leads.entrypoints.main import DEFINITION, TOPIC
from salesplane_platform.events import decode_envelope, unpack_payload
from salesplane_platform.identity import issue_token
from salesplane_platform.local_log import LocalLogSubscriber
from salesplane_platform.service_process import ServiceProcess
from salesplane_platform.settings import ServiceSettings

pytestmark = pytest.mark.integration

MISSING_ID = "5d0f7f53-7d3e-4ad5-9a0e-5f8d2f1c6b10"


class Client:
    def __init__(self, channel: grpc.Channel, secret: str) -> None:
        self._stub = leads_pb2_grpc.LeadServiceStub(channel)
        self._secret = secret

    def _metadata(self, subject: str, roles: list[str]) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {issue_token(self._secret, subject, roles)}")]

    def create(self, subject: str, roles: list[str], **fields: str) -> leads_pb2.Lead:
        request = leads_pb2.CreateLeadRequest(**fields)
        return self._stub.CreateLead(request, metadata=self._metadata(subject, roles), timeout=10)

    def get(self, subject: str, roles: list[str], lead_id: str) -> leads_pb2.Lead:
        request = leads_pb2.GetLeadRequest(lead_id=lead_id)
        return self._stub.GetLead(request, metadata=self._metadata(subject, roles), timeout=10)


@pytest.fixture
def settings(postgres_database_url: str, tmp_path: Path) -> ServiceSettings:
    return ServiceSettings.from_env(
        "leads",
        default_grpc_port=0,
        default_metrics_port=0,
        environ={"SALESPLANE_DATA_DIR": str(tmp_path), "SALESPLANE_DATABASE_URL": postgres_database_url},
    )


@pytest.fixture
def client(settings: ServiceSettings) -> Iterator[Client]:
    process = ServiceProcess(DEFINITION, settings)
    process.start()
    try:
        with grpc.insecure_channel(f"localhost:{process.grpc_port}") as channel:
            yield Client(channel, settings.auth_secret)
    finally:
        process.stop()


def field_violations(error: grpc.RpcError) -> list[str]:
    status = rpc_status.from_call(error)
    assert status is not None
    assert status.code == code_pb2.INVALID_ARGUMENT
    fields = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            fields.extend(v.field for v in bad_request.field_violations)
    return fields


def test_a_created_lead_can_be_read_back_by_its_creator(client: Client) -> None:
    created = client.create(
        "alice",
        ["rep"],
        first_name="Ada",
        last_name="Lovelace",
        company="Analytical Engines Ltd",
        email="Ada@Example.com",
        phone="+44 20 7946 0018",
        lead_source="Trade show",
    )

    read = client.get("alice", ["rep"], created.id)

    assert read == created
    assert read.status == leads_pb2.LEAD_STATUS_NEW
    assert read.email == "ada@example.com"
    assert read.version == 1
    assert read.create_time.ToDatetime() == read.update_time.ToDatetime()


def test_a_lead_created_with_an_assignee_is_assigned_and_readable_by_the_assignee(client: Client) -> None:
    created = client.create("carol", ["marketing"], last_name="Hopper", assigned_user_id="bob")

    read = client.get("bob", ["rep"], created.id)

    assert read.status == leads_pb2.LEAD_STATUS_ASSIGNED
    assert read.assigned_user_id == "bob"


def test_invalid_input_is_rejected_with_every_field_violation(client: Client) -> None:
    with pytest.raises(grpc.RpcError) as error:
        client.create(
            "alice", ["rep"], last_name="", email="not-an-address", phone="12", assigned_user_id="x y"
        )

    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(error.value) == ["last_name", "email", "phone", "assigned_user_id"]


def test_a_malformed_lead_id_is_an_invalid_argument(client: Client) -> None:
    with pytest.raises(grpc.RpcError) as error:
        client.get("alice", ["admin"], "lead-42")

    assert field_violations(error.value) == ["lead_id"]


def test_an_unknown_lead_is_not_found(client: Client) -> None:
    with pytest.raises(grpc.RpcError) as error:
        client.get("alice", ["admin"], MISSING_ID)

    assert error.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_rep_may_not_read_a_lead_of_someone_else(client: Client) -> None:
    created = client.create("alice", ["rep"], last_name="Lovelace", assigned_user_id="bob")

    with pytest.raises(grpc.RpcError) as error:
        client.get("mallory", ["rep"], created.id)

    assert error.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_call_without_a_token_is_unauthenticated(client: Client) -> None:
    with pytest.raises(grpc.RpcError) as error:
        client._stub.GetLead(leads_pb2.GetLeadRequest(lead_id=MISSING_ID), timeout=10)

    assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_creating_a_lead_publishes_lead_changed_with_its_full_state(
    client: Client, settings: ServiceSettings
) -> None:
    created = client.create("alice", ["rep"], last_name="Lovelace", lead_source="Web")

    subscriber = LocalLogSubscriber(settings.event_log_path, [TOPIC], group_id="test")
    try:
        deadline = time.monotonic() + 15
        records = []
        while not records and time.monotonic() < deadline:
            records = subscriber.poll(10, 0.5)
    finally:
        subscriber.close()

    assert len(records) == 1
    assert records[0].key == created.id.encode()
    envelope = decode_envelope(records[0].value)
    assert (envelope.aggregate_type, envelope.aggregate_id, envelope.aggregate_version) == (
        "lead",
        created.id,
        1,
    )
    assert (envelope.producer, envelope.actor) == ("leads", "alice")
    assert unpack_payload(envelope, events_pb2.LeadChanged).lead == created
