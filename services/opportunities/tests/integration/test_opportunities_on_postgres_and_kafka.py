"""The opportunities service on PostgreSQL, publishing through its outbox to a real Kafka broker."""

from __future__ import annotations

import time
import uuid

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from grpc_status import rpc_status
from kafka import KafkaConsumer

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.opportunities.v1 import events_pb2
from salesplane.opportunities.v1 import opportunities_pb2 as pb
from salesplane.opportunities.v1 import opportunities_pb2_grpc as pb_grpc
from salesplane_opportunities.entrypoints.main import DEFINITION
from salesplane_platform.events import decode_envelope, unpack_payload
from salesplane_platform.identity import issue_token
from salesplane_platform.service_process import ServiceProcess
from salesplane_platform.settings import ServiceSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def running(postgres_database_url, kafka_broker, tmp_path):
    prefix = f"it-{uuid.uuid4().hex[:8]}."
    settings = ServiceSettings.from_env(
        "opportunities",
        default_grpc_port=0,
        default_metrics_port=0,
        environ={
            "SALESPLANE_DATABASE_URL": postgres_database_url,
            "SALESPLANE_KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
            "SALESPLANE_TOPIC_PREFIX": prefix,
            "SALESPLANE_DATA_DIR": str(tmp_path),
        },
    )
    process = ServiceProcess(DEFINITION, settings)
    process.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{process.grpc_port}")
    yield pb_grpc.OpportunityServiceStub(channel), settings, kafka_broker
    channel.close()
    process.stop()


def auth(settings, subject="alice", roles=("rep",)):
    return [("authorization", f"Bearer {issue_token(settings.auth_secret, subject, roles)}")]


def create_request(**overrides) -> pb.CreateOpportunityRequest:
    request = pb.CreateOpportunityRequest(
        name="Acme",
        owner_user_id="alice",
        amount=Money(currency_code="USD", amount_minor=5_000_00),
        expected_close_date=Date(year=2026, month=11, day=30),
        sales_stage="Prospecting",
    )
    for key, value in overrides.items():
        if isinstance(value, str):
            setattr(request, key, value)
        else:
            getattr(request, key).CopyFrom(value)
    return request


def test_every_change_reaches_kafka_keyed_by_deal_and_in_version_order(running):
    stub, settings, broker = running
    created = stub.CreateOpportunity(create_request(), metadata=auth(settings))
    for stage in ["Qualification", "Negotiation/Review", "Closed Won"]:
        stub.UpdateOpportunity(
            pb.UpdateOpportunityRequest(
                opportunity=pb.Opportunity(id=created.id, sales_stage=stage),
                update_mask=FieldMask(paths=["sales_stage"]),
            ),
            metadata=auth(settings),
        )
    consumer = KafkaConsumer(
        settings.topic("salesplane.opportunities.v1"),
        bootstrap_servers=broker.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=500,
    )
    records, deadline = [], time.monotonic() + 30
    while len(records) < 4 and time.monotonic() < deadline:
        records.extend(consumer)
    consumer.close()
    envelopes = [decode_envelope(r.value) for r in records]
    assert {r.key for r in records} == {created.id.encode()}
    assert [e.aggregate_version for e in envelopes] == [1, 2, 3, 4]
    final = unpack_payload(envelopes[-1], events_pb2.OpportunityChanged).opportunity
    assert (final.sales_stage, final.probability, final.status) == (
        "Closed Won",
        100,
        pb.OPPORTUNITY_STATUS_WON,
    )
    assert envelopes[0].actor == "alice" and envelopes[0].producer == "opportunities"


def test_a_stale_expected_version_is_aborted_and_changes_nothing(running):
    stub, settings, _ = running
    created = stub.CreateOpportunity(create_request(), metadata=auth(settings))
    rename = pb.UpdateOpportunityRequest(
        opportunity=pb.Opportunity(id=created.id, name="Renamed"),
        update_mask=FieldMask(paths=["name"]),
        expected_version=1,
    )
    assert stub.UpdateOpportunity(rename, metadata=auth(settings)).version == 2
    with pytest.raises(grpc.RpcError) as raised:
        stub.UpdateOpportunity(rename, metadata=auth(settings))
    assert raised.value.code() == grpc.StatusCode.ABORTED
    assert (
        stub.GetOpportunity(
            pb.GetOpportunityRequest(opportunity_id=created.id), metadata=auth(settings)
        ).version
        == 2
    )


@pytest.mark.parametrize(
    ("request_", "code", "fields"),
    [
        (create_request(name=""), grpc.StatusCode.INVALID_ARGUMENT, ["name"]),
        (
            create_request(amount=Money(currency_code="USD", amount_minor=-1)),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["amount.amount_minor"],
        ),
        (
            create_request(amount=Money(currency_code="ZZZ", amount_minor=1)),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["amount.currency_code"],
        ),
        (
            create_request(expected_close_date=Date(year=2026, month=2, day=30)),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["expected_close_date"],
        ),
        (
            pb.CreateOpportunityRequest(),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["name", "owner_user_id", "amount.currency_code", "expected_close_date", "sales_stage"],
        ),
    ],
)
def test_bad_input_is_invalid_argument_with_field_violations(running, request_, code, fields):
    stub, settings, _ = running
    with pytest.raises(grpc.RpcError) as raised:
        stub.CreateOpportunity(request_, metadata=auth(settings))
    assert raised.value.code() == code
    status = rpc_status.from_call(raised.value)
    from google.rpc import error_details_pb2

    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    assert [v.field for v in bad_request.field_violations] == fields


def test_malformed_ids_are_invalid_and_unknown_ids_not_found(running):
    stub, settings, _ = running
    with pytest.raises(grpc.RpcError) as malformed:
        stub.GetOpportunity(pb.GetOpportunityRequest(opportunity_id="42"), metadata=auth(settings))
    assert malformed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as unknown:
        stub.GetOpportunity(
            pb.GetOpportunityRequest(opportunity_id=str(uuid.uuid4())), metadata=auth(settings)
        )
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as unknown_update:
        stub.UpdateOpportunity(
            pb.UpdateOpportunityRequest(
                opportunity=pb.Opportunity(id=str(uuid.uuid4()), name="x"),
                update_mask=FieldMask(paths=["name"]),
            ),
            metadata=auth(settings),
        )
    assert unknown_update.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_rep_cannot_read_or_reassign_someone_elses_deal(running):
    stub, settings, _ = running
    created = stub.CreateOpportunity(
        create_request(owner_user_id="bob"), metadata=auth(settings, "mgr", ("manager",))
    )
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetOpportunity(
            pb.GetOpportunityRequest(opportunity_id=created.id), metadata=auth(settings, "alice")
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
