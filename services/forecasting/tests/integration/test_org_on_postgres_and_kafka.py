"""OrgService on PostgreSQL, publishing UserChanged to a real Kafka broker; another service's replica
built from those events limits a manager to their subtree."""

from __future__ import annotations

import time
import uuid

import grpc
import pytest
from kafka import KafkaConsumer
from sqlalchemy import MetaData, create_engine
from sqlalchemy.orm import sessionmaker

from salesplane.forecasting.v1 import forecasting_pb2, forecasting_pb2_grpc, org_pb2, org_pb2_grpc
from salesplane_forecasting.entrypoints.main import DEFINITION
from salesplane_platform.consumer_runner import ConsumedEvent
from salesplane_platform.event_transport import IncomingRecord
from salesplane_platform.events import decode_envelope, unpack_payload
from salesplane_platform.identity import Identity, issue_token
from salesplane_platform.org_replica import (
    OrgReplicaHandler,
    Reach,
    ReportingLines,
    define_reporting_lines_table,
)
from salesplane_platform.service_process import ServiceProcess
from salesplane_platform.settings import ServiceSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def running(postgres_database_url, kafka_broker, tmp_path):
    prefix = f"it-{uuid.uuid4().hex[:8]}."
    settings = ServiceSettings.from_env(
        "forecasting",
        default_grpc_port=0,
        default_metrics_port=0,
        environ={
            "SALESPLANE_ENV": "development",
            "SALESPLANE_DATABASE_URL": postgres_database_url,
            "SALESPLANE_KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
            "SALESPLANE_TOPIC_PREFIX": prefix,
            "SALESPLANE_DATA_DIR": str(tmp_path),
        },
    )
    process = ServiceProcess(DEFINITION, settings)
    process.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{process.grpc_port}")
    yield channel, settings, kafka_broker, prefix
    channel.close()
    process.stop()


def auth(settings, subject="root", roles=("admin",)):
    return [("authorization", f"Bearer {issue_token(settings.auth_secret, subject, list(roles))}")]


def user(user_id: str, manager: str = "", roles=("rep",)) -> org_pb2.User:
    return org_pb2.User(
        user_id=user_id, display_name=user_id.upper(), roles=list(roles), manager_user_id=manager, active=True
    )


def upsert(stub, settings, message, **kwargs):
    return stub.UpsertUser(org_pb2.UpsertUserRequest(user=message, **kwargs), metadata=auth(settings))


def test_hierarchy_rules_and_events_feed_a_replica(running):
    channel, settings, broker, prefix = running
    stub = org_pb2_grpc.OrgServiceStub(channel)
    upsert(stub, settings, user("vp", roles=("manager",)))
    upsert(stub, settings, user("m1", "vp", ("manager",)))
    upsert(stub, settings, user("m2", "vp", ("manager",)))
    upsert(stub, settings, user("r1", "m1"))
    r2 = upsert(stub, settings, user("r2", "m2"))

    with pytest.raises(grpc.RpcError) as cycle:
        upsert(stub, settings, user("vp", "r1", ("manager",)))
    assert cycle.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "cycle" in cycle.value.details()
    with pytest.raises(grpc.RpcError) as unknown:
        upsert(stub, settings, user("r3", "nobody"))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as stale:
        upsert(stub, settings, user("r2", "m1"), expected_version=r2.version + 5)
    assert stale.value.code() == grpc.StatusCode.ABORTED
    with pytest.raises(grpc.RpcError) as bad:
        upsert(stub, settings, org_pb2.User(user_id="x y", roles=["rep"], display_name="X"))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as not_admin:
        stub.UpsertUser(
            org_pb2.UpsertUserRequest(user=user("r9", "m1")), metadata=auth(settings, "m1", ("manager",))
        )
    assert not_admin.value.code() == grpc.StatusCode.PERMISSION_DENIED

    # A reorganisation: r2 moves under m1. The same values again change nothing (no new version).
    moved = upsert(stub, settings, user("r2", "m1"), expected_version=r2.version)
    assert moved.version == r2.version + 1
    assert upsert(stub, settings, user("r2", "m1")).version == moved.version

    listed = stub.ListUsers(org_pb2.ListUsersRequest(), metadata=auth(settings, "m1", ("manager",)))
    assert sorted(u.user_id for u in listed.users) == ["r1", "r2"]
    with pytest.raises(grpc.RpcError) as outside:
        stub.ListUsers(
            org_pb2.ListUsersRequest(root_user_id="m2"), metadata=auth(settings, "m1", ("manager",))
        )
    assert outside.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # A rep sees their manager but not a peer.
    assert stub.GetUser(org_pb2.GetUserRequest(user_id="m1"), metadata=auth(settings, "r1", ("rep",))).user_id
    with pytest.raises(grpc.RpcError) as peer:
        stub.GetUser(org_pb2.GetUserRequest(user_id="r2"), metadata=auth(settings, "r1", ("rep",)))
    assert peer.value.code() == grpc.StatusCode.PERMISSION_DENIED

    # Forecast figures follow the hierarchy too.
    rollups = forecasting_pb2_grpc.ForecastingServiceStub(channel)
    request = forecasting_pb2.GetRollupRequest(user_id="r2", period_id="2026-Q4")
    rollups.GetRollup(request, metadata=auth(settings, "vp", ("manager",)))
    rollups.GetRollup(request, metadata=auth(settings, "m1", ("manager",)))
    with pytest.raises(grpc.RpcError) as foreign:
        rollups.GetRollup(request, metadata=auth(settings, "m2", ("manager",)))
    assert foreign.value.code() == grpc.StatusCode.PERMISSION_DENIED

    # Every change is on Kafka; a replica fed by those records (duplicated, newest last per user)
    # answers subtree questions like the source.
    consumer = KafkaConsumer(
        f"{prefix}salesplane.forecasting.v1",
        bootstrap_servers=broker.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=1000,
    )
    records = []
    deadline = time.monotonic() + 20
    while len(records) < 6 and time.monotonic() < deadline:
        records.extend(consumer)
    consumer.close()
    envelopes = [decode_envelope(r.value) for r in records]
    # Ordered per user (the Kafka key), not across users.
    assert sorted((e.aggregate_id, e.aggregate_version) for e in envelopes) == [
        ("m1", 1),
        ("m2", 1),
        ("r1", 1),
        ("r2", 1),
        ("r2", 2),
        ("vp", 1),
    ]
    r2_events = [e for e in envelopes if e.aggregate_id == "r2"]
    assert [e.aggregate_version for e in r2_events] == [1, 2]
    assert unpack_payload(r2_events[-1], org_pb2.UserChanged).user.manager_user_id == "m1"

    engine = create_engine("sqlite://")
    metadata = MetaData()
    table = define_reporting_lines_table(metadata)
    metadata.create_all(engine)
    handler = OrgReplicaHandler(table)
    newest = {}
    for record, envelope in zip(records, envelopes, strict=True):
        newest[envelope.aggregate_id] = ConsumedEvent(
            IncomingRecord(record.topic, record.partition, record.offset, record.key, record.value), envelope
        )
    with sessionmaker(engine)() as session:
        assert handler.apply(session, list(newest.values())) == []
        reach = Reach(ReportingLines(table))
        manager = Identity("m1", frozenset({"manager"}))
        assert reach.can_reach(session, manager, "r2")
        assert not reach.can_reach(session, Identity("m2", frozenset({"manager"})), "r2")
        assert sorted(session.scalars(reach.visible_users(manager))) == ["m1", "r1", "r2"]
