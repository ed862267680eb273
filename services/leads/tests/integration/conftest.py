"""The leads service as it runs: real gRPC server in-process, PostgreSQL, and the outbox relay and
org replica consumer on a real Kafka broker (salesplane_testing fixtures)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2
from grpc_status import rpc_status
from kafka import KafkaConsumer, KafkaProducer

from salesplane.events.v1.envelope_pb2 import EventEnvelope
from salesplane.forecasting.v1 import org_pb2
from salesplane.leads.v1 import leads_pb2_grpc
from salesplane_leads.entrypoints.main import TOPIC
from salesplane_platform.events import build_envelope, decode_envelope
from salesplane_platform.identity import issue_token
from salesplane_platform.org_replica import ORG_TOPIC
from salesplane_platform.service_process import ServiceDefinition, ServiceProcess
from salesplane_platform.settings import ServiceSettings
from salesplane_testing.organisation import seed_members
from salesplane_testing.postgres_server import unique_database_name

ADMIN = ("ann", ("admin",))


class Client:
    """Calls an RPC as a given user: client.call("GetLead", request, "bob", "rep")."""

    def __init__(self, stub: Any, secret: str) -> None:
        self.stub = stub
        self._secret = secret

    def metadata(self, subject: str, roles: tuple[str, ...]) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {self.token(subject, *roles)}")]

    def token(self, subject: str, *roles: str) -> str:
        return issue_token(self._secret, subject, roles)

    def call(self, method: str, request: Message, subject: str = ADMIN[0], *roles: str) -> Any:
        return getattr(self.stub, method)(
            request, metadata=self.metadata(subject, roles or ADMIN[1]), timeout=30
        )


def settings_for(
    service: str, database_url: str, kafka: Any, prefix: str, data_dir: Path, **extra: str
) -> ServiceSettings:
    return ServiceSettings.from_env(
        service,
        default_grpc_port=0,
        default_metrics_port=0,
        environ={
            "SALESPLANE_ENV": "development",
            "SALESPLANE_DATABASE_URL": database_url,
            "SALESPLANE_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "SALESPLANE_TOPIC_PREFIX": prefix,
            "SALESPLANE_DATA_DIR": str(data_dir),
            "SALESPLANE_SHUTDOWN_GRACE_SECONDS": "5",
            **extra,
        },
    )


@contextmanager
def running(definition: ServiceDefinition, settings: ServiceSettings) -> Iterator[ServiceProcess]:
    process = ServiceProcess(definition, settings)
    process.start()
    seed_members(settings.database_url)
    try:
        yield process
    finally:
        process.stop()


@contextmanager
def channel_to(process: ServiceProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{process.grpc_port}") as channel:
        yield channel


@pytest.fixture
def create_database(postgres_server: Any, request: pytest.FixtureRequest) -> Iterator[Callable[[], str]]:
    """Makes fresh databases (one per service), dropped after the test."""
    names: list[str] = []

    def create() -> str:
        name = unique_database_name(request.node.name)
        names.append(name)
        return postgres_server.create_database(name)

    yield create
    for name in names:
        postgres_server.drop_database(name)


@pytest.fixture
def topic_prefix() -> str:
    """Topics of this test only: every service of the test shares the prefix."""
    return f"it-{uuid.uuid4().hex[:10]}."


def read_envelopes(
    kafka: Any, topic: str, until: Callable[[list[EventEnvelope]], bool], timeout: float = 30
) -> list[EventEnvelope]:
    """Every envelope on the topic from the start, once `until` holds for them (or the timeout)."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=500,
    )
    envelopes: list[EventEnvelope] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not until(envelopes):
            envelopes.extend(decode_envelope(record.value) for record in consumer)
    finally:
        consumer.close()
    return envelopes


def leads_topic(settings: ServiceSettings) -> str:
    return settings.topic(TOPIC)


def publish_reporting_line(kafka: Any, settings: ServiceSettings, user_id: str, manager_user_id: str) -> None:
    """What forecasting publishes when a user is given a manager."""
    user = org_pb2.User(
        user_id=user_id, manager_user_id=manager_user_id, active=True, roles=["rep"], version=1
    )
    envelope = build_envelope(
        payload=org_pb2.UserChanged(user=user),
        aggregate_type="user",
        aggregate_id=user_id,
        aggregate_version=1,
        producer="forecasting",
        actor="ann",
    )
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    try:
        producer.send(
            settings.topic(ORG_TOPIC), key=user_id.encode(), value=envelope.SerializeToString()
        ).get(30)
    finally:
        producer.close()


def field_violations(error: grpc.RpcError, code: int = code_pb2.INVALID_ARGUMENT) -> list[str]:
    """The fields a refusal of `code` names; FAILED_PRECONDITION carries them too when a well-formed
    value is refused by the stored data (a campaign that does not exist)."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None and status.code == code
    fields = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            fields.extend(v.field for v in bad_request.field_violations)
    return fields


def eventually(check: Callable[[], bool], timeout: float = 30, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()


def leads_client(channel: grpc.Channel, settings: ServiceSettings) -> Client:
    return Client(leads_pb2_grpc.LeadServiceStub(channel), settings.auth_secret)


@pytest.fixture(scope="session")
def it() -> SimpleNamespace:
    """The helpers above, for test modules (conftest modules cannot be imported from them)."""
    return SimpleNamespace(
        Client=Client,
        ADMIN=ADMIN,
        settings_for=settings_for,
        running=running,
        channel_to=channel_to,
        read_envelopes=read_envelopes,
        leads_topic=leads_topic,
        publish_reporting_line=publish_reporting_line,
        field_violations=field_violations,
        eventually=eventually,
        leads_client=leads_client,
    )
