"""The opportunities service on PostgreSQL, publishing through its outbox to a real Kafka broker and
keeping its reporting-line replica from UserChanged events read from Kafka."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from kafka import KafkaConsumer, KafkaProducer
from sqlalchemy import func, select

from salesplane.audit.v1 import audit_pb2
from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.events.v1.envelope_pb2 import EventEnvelope
from salesplane.forecasting.v1 import org_pb2
from salesplane.opportunities.v1 import events_pb2
from salesplane.opportunities.v1 import opportunities_pb2 as pb
from salesplane.opportunities.v1 import opportunities_pb2_grpc as pb_grpc
from salesplane_opportunities.adapters import tables
from salesplane_opportunities.entrypoints.main import DEFINITION
from salesplane_platform import topics
from salesplane_platform.events import build_envelope, decode_envelope, unpack_payload
from salesplane_platform.identity import issue_token
from salesplane_platform.org_replica import ORG_TOPIC
from salesplane_platform.service_process import ServiceProcess
from salesplane_platform.settings import ServiceSettings
from salesplane_testing.organisation import seed_members

pytestmark = pytest.mark.integration

OPPORTUNITIES_TOPIC = topics.OPPORTUNITIES


@dataclass
class Running:
    stub: pb_grpc.OpportunityServiceStub
    settings: ServiceSettings
    broker: object
    process: ServiceProcess

    def auth(self, subject: str = "root", roles: tuple[str, ...] = ("admin",)) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {issue_token(self.settings.auth_secret, subject, roles)}")]

    def create(
        self, caller: tuple[str, tuple[str, ...]] = ("root", ("admin",)), **overrides
    ) -> pb.Opportunity:
        return self.stub.CreateOpportunity(create_request(**overrides), metadata=self.auth(*caller))

    def get(self, opportunity_id: str, subject: str = "root", roles=("admin",)) -> pb.Opportunity:
        return self.stub.GetOpportunity(
            pb.GetOpportunityRequest(opportunity_id=opportunity_id), metadata=self.auth(subject, roles)
        )

    def set_rate(self, currency: str, rate: str, effective: Date) -> pb.ExchangeRate:
        return self.stub.SetExchangeRate(
            pb.SetExchangeRateRequest(currency_code=currency, rate=rate, effective_from=effective),
            metadata=self.auth(),
        )

    def events(
        self, stop: Callable[[list[EventEnvelope]], bool], timeout: float = 30.0
    ) -> list[EventEnvelope]:
        """Envelopes on the opportunities topic, from the start, until `stop` says enough."""
        consumer = KafkaConsumer(
            self.settings.topic(OPPORTUNITIES_TOPIC),
            bootstrap_servers=self.broker.bootstrap_servers,
            auto_offset_reset="earliest",
            consumer_timeout_ms=300,
        )
        envelopes: list[EventEnvelope] = []
        deadline = time.monotonic() + timeout
        while not stop(envelopes) and time.monotonic() < deadline:
            envelopes.extend(decode_envelope(record.value) for record in consumer)
        consumer.close()
        return envelopes

    def outbox_drained(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with self.process.context.engine.connect() as connection:
            while time.monotonic() < deadline:
                if not connection.execute(
                    select(func.count()).select_from(tables.platform.outbox)
                ).scalar_one():
                    return
                connection.rollback()
                time.sleep(0.05)
        raise AssertionError("the relay did not publish the outbox in time")


@pytest.fixture
def running(postgres_database_url, kafka_broker, tmp_path):
    settings = ServiceSettings.from_env(
        "opportunities",
        default_grpc_port=0,
        default_metrics_port=0,
        environ={
            "SALESPLANE_ENV": "development",
            "SALESPLANE_DATABASE_URL": postgres_database_url,
            "SALESPLANE_KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
            "SALESPLANE_TOPIC_PREFIX": f"it-{uuid.uuid4().hex[:8]}.",
            "SALESPLANE_DATA_DIR": str(tmp_path),
        },
    )
    process = ServiceProcess(DEFINITION, settings)
    process.start()
    seed_members(settings.database_url)
    channel = grpc.insecure_channel(f"127.0.0.1:{process.grpc_port}")
    yield Running(pb_grpc.OpportunityServiceStub(channel), settings, kafka_broker, process)
    channel.close()
    process.stop()


def create_request(**overrides) -> pb.CreateOpportunityRequest:
    request = pb.CreateOpportunityRequest(
        name="Acme",
        owner_user_id="alice",
        amount=Money(currency_code="USD", amount_minor=5_000_00),
        expected_close_date=Date(year=2026, month=11, day=30),
        sales_stage="Prospecting",
    )
    for key, value in overrides.items():
        if isinstance(value, str | int):
            setattr(request, key, value)
        else:
            getattr(request, key).CopyFrom(value)
    return request


def changes_of(envelopes: list[EventEnvelope], opportunity_id: str) -> list[events_pb2.OpportunityChanged]:
    return [
        unpack_payload(e, events_pb2.OpportunityChanged)
        for e in envelopes
        if e.aggregate_type == "opportunity" and e.aggregate_id == opportunity_id
    ]


def code_of(call: Callable[[], object]) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value.code()


def test_every_kind_of_change_reaches_kafka_in_version_order_with_what_changed(running):
    stub, admin = running.stub, running.auth()
    running.set_rate("EUR", "1.05", Date(year=2026, month=1, day=1))
    created = running.create(
        amount=Money(currency_code="EUR", amount_minor=1_000_00),
        account_name="Acme Corp",
        best_case_minor=150_000,
    )
    assert (created.amount_base.currency_code, created.amount_base.amount_minor) == ("USD", 1_050_00)
    assert (created.exchange_rate, created.exchange_rate_effective_date.month) == ("1.05", 1)
    assert (
        created.best_case.amount_minor,
        created.best_case_manual,
        created.best_case_base.amount_minor,
    ) == (
        150_000,
        True,
        157_500,
    )
    stub.UpdateOpportunity(
        pb.UpdateOpportunityRequest(
            opportunity=pb.Opportunity(
                id=created.id, sales_stage="Qualification", next_step="Demo on Monday"
            ),
            update_mask=FieldMask(paths=["sales_stage", "next_step"]),
            expected_version=1,
        ),
        metadata=admin,
    )
    closed = stub.CloseOpportunity(
        pb.CloseOpportunityRequest(
            opportunity_id=created.id, outcome=pb.CLOSE_OUTCOME_LOST, reason="Budget cut"
        ),
        metadata=admin,
    )
    assert (closed.status, closed.close_reason, closed.HasField("close_time")) == (
        pb.OPPORTUNITY_STATUS_LOST,
        "Budget cut",
        True,
    )
    reopened = stub.ReopenOpportunity(
        pb.ReopenOpportunityRequest(
            opportunity_id=created.id, sales_stage="Negotiation/Review", expected_version=3
        ),
        metadata=admin,
    )
    assert (reopened.close_reason, reopened.HasField("close_time"), reopened.probability) == ("", False, 80)
    stub.ReassignOpportunity(
        pb.ReassignOpportunityRequest(opportunity_id=created.id, new_owner_user_id="bob"), metadata=admin
    )
    running.set_rate("EUR", "1.10", Date(year=2026, month=6, day=1))
    stages = stub.ListSalesStages(pb.ListSalesStagesRequest(), metadata=admin)
    for stage in stages.sales_stages:
        if stage.name == "Negotiation/Review":
            stage.default_probability = 85
    stub.ReplaceSalesStages(
        pb.ReplaceSalesStagesRequest(sales_stages=stages.sales_stages, expected_revision=stages.revision),
        metadata=admin,
    )
    history = stub.GetStageHistory(pb.GetStageHistoryRequest(opportunity_id=created.id), metadata=admin)
    assert [e.sales_stage for e in history.entries] == [
        "Prospecting",
        "Qualification",
        "Closed Lost",
        "Negotiation/Review",
    ]
    assert [e.HasField("leave_time") for e in history.entries] == [True, True, True, False]
    assert all(e.duration_seconds >= 0 and e.actor == "root" for e in history.entries)
    stub.DeleteOpportunity(
        pb.DeleteOpportunityRequest(opportunity_id=created.id, expected_version=7), metadata=admin
    )
    assert code_of(lambda: running.get(created.id)) == grpc.StatusCode.NOT_FOUND

    envelopes = running.events(lambda found: len(changes_of(found, created.id)) >= 8)
    mine = [e for e in envelopes if e.aggregate_id == created.id]
    assert [e.aggregate_version for e in mine] == list(range(1, 9))
    changes = changes_of(envelopes, created.id)
    assert [c.kind for c in changes] == [
        events_pb2.CHANGE_KIND_CREATED,
        events_pb2.CHANGE_KIND_UPDATED,
        events_pb2.CHANGE_KIND_CLOSED,
        events_pb2.CHANGE_KIND_REOPENED,
        events_pb2.CHANGE_KIND_REASSIGNED,
        events_pb2.CHANGE_KIND_REVALUED,
        events_pb2.CHANGE_KIND_REVALUED,
        events_pb2.CHANGE_KIND_DELETED,
    ]
    assert [c.opportunity.version for c in changes] == list(range(1, 9))
    assert list(changes[1].changed_fields) == ["sales_stage", "probability", "next_step"]
    assert [c.previous_sales_stage for c in changes[1:4]] == ["Prospecting", "Qualification", "Closed Lost"]
    assert "exchange_rate" in changes[5].changed_fields and changes[5].opportunity.exchange_rate == "1.10"
    assert changes[5].opportunity.amount_base.amount_minor == 1_100_00
    assert list(changes[6].changed_fields) == ["probability"] and changes[6].opportunity.probability == 85
    assert (changes[7].opportunity.owner_user_id, changes[7].opportunity.name) == ("bob", "Acme")
    assert mine[0].actor == "root" and mine[0].producer == "opportunities"
    catalog = [e for e in envelopes if e.aggregate_type == "sales_stages"]
    assert [(e.aggregate_id, e.aggregate_version) for e in catalog] == [("catalog", 2)]
    # Different keys, so possibly different partitions: no order between them.
    rates = {e.aggregate_id for e in envelopes if e.aggregate_type == "exchange_rate"}
    assert rates == {"EUR/2026-01-01", "EUR/2026-06-01"}


def test_concurrent_updates_of_one_deal_are_never_lost(running):
    stub, admin = running.stub, running.auth()
    created = running.create()
    rounds = 12
    fields = {
        "name": lambda n: pb.Opportunity(name=f"name {n}"),
        "next_step": lambda n: pb.Opportunity(next_step=f"step {n}"),
        "account_name": lambda n: pb.Opportunity(account_name=f"account {n}"),
        "amount.amount_minor": lambda n: pb.Opportunity(amount=Money(amount_minor=n + 1)),
    }
    failures: list[BaseException] = []

    def writer(path: str, make: Callable[[int], pb.Opportunity]) -> None:
        channel = grpc.insecure_channel(f"127.0.0.1:{running.process.grpc_port}")
        client = pb_grpc.OpportunityServiceStub(channel)
        try:
            for n in range(rounds):
                change = make(n)
                change.id = created.id
                client.UpdateOpportunity(
                    pb.UpdateOpportunityRequest(opportunity=change, update_mask=FieldMask(paths=[path])),
                    metadata=admin,
                )
        except BaseException as error:
            failures.append(error)
        finally:
            channel.close()

    threads = [threading.Thread(target=writer, args=item) for item in fields.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    final = running.get(created.id)
    last = rounds - 1
    assert final.version == 1 + len(fields) * rounds
    assert (final.name, final.next_step, final.account_name, final.amount.amount_minor) == (
        f"name {last}",
        f"step {last}",
        f"account {last}",
        last + 1,
    )
    envelopes = running.events(lambda found: len(changes_of(found, created.id)) >= final.version)
    assert sorted(e.aggregate_version for e in envelopes if e.aggregate_id == created.id) == list(
        range(1, final.version + 1)
    )

    # With the same expected version, exactly one of the racing writers wins.
    outcomes: list[grpc.StatusCode] = []

    def racer(n: int) -> None:
        try:
            stub.UpdateOpportunity(
                pb.UpdateOpportunityRequest(
                    opportunity=pb.Opportunity(id=created.id, name=f"racer {n}"),
                    update_mask=FieldMask(paths=["name"]),
                    expected_version=final.version,
                ),
                metadata=admin,
            )
            outcomes.append(grpc.StatusCode.OK)
        except grpc.RpcError as error:
            outcomes.append(error.code())

    racers = [threading.Thread(target=racer, args=(n,)) for n in range(6)]
    for thread in racers:
        thread.start()
    for thread in racers:
        thread.join()
    assert sorted(outcomes, key=str) == sorted([grpc.StatusCode.OK] + [grpc.StatusCode.ABORTED] * 5, key=str)
    assert running.get(created.id).version == final.version + 1


def publish_users(running: Running, users: list[tuple[str, str, int]]) -> None:
    """UserChanged events as forecasting publishes them: (user id, manager id, version)."""
    producer = KafkaProducer(bootstrap_servers=running.broker.bootstrap_servers, acks="all")
    for user_id, manager, version in users:
        envelope = build_envelope(
            payload=org_pb2.UserChanged(
                user=org_pb2.User(user_id=user_id, manager_user_id=manager, active=True, version=version)
            ),
            aggregate_type="user",
            aggregate_id=user_id,
            aggregate_version=version,
            producer="forecasting",
            actor="root",
        )
        producer.send(
            running.settings.topic(ORG_TOPIC), key=user_id.encode(), value=envelope.SerializeToString()
        )
    producer.flush()
    producer.close()


def eventually(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_a_manager_reaches_their_subtree_as_the_replica_learns_it_from_kafka(running):
    stub = running.stub
    mia = running.auth("mia", ("manager",))
    alices = running.create(owner_user_id="alice")
    bobs = running.create(owner_user_id="bob")

    def visible_to_mia() -> set[str]:
        listed = stub.ListOpportunities(pb.ListOpportunitiesRequest(), metadata=mia)
        return {o.owner_user_id for o in listed.opportunities}

    assert visible_to_mia() == set()
    assert code_of(lambda: running.get(alices.id, "mia", ("manager",))) == grpc.StatusCode.PERMISSION_DENIED
    publish_users(running, [("mia", "", 1), ("lee", "mia", 1), ("alice", "lee", 1), ("bob", "", 1)])
    assert eventually(lambda: visible_to_mia() == {"alice"})
    assert running.get(alices.id, "mia", ("manager",)).id == alices.id
    assert code_of(lambda: running.get(bobs.id, "mia", ("manager",))) == grpc.StatusCode.PERMISSION_DENIED
    moved = stub.ReassignOpportunity(
        pb.ReassignOpportunityRequest(opportunity_id=alices.id, new_owner_user_id="lee"), metadata=mia
    )
    assert moved.owner_user_id == "lee"
    denied = code_of(
        lambda: stub.ReassignOpportunity(
            pb.ReassignOpportunityRequest(opportunity_id=alices.id, new_owner_user_id="bob"), metadata=mia
        )
    )
    assert denied == grpc.StatusCode.PERMISSION_DENIED
    # Lee moves under bob: mia loses the deal; a stale (older) event changes nothing.
    publish_users(running, [("lee", "bob", 2), ("lee", "mia", 1)])
    assert eventually(lambda: visible_to_mia() == set())
    rep = running.auth("alice", ("rep",))
    assert code_of(lambda: running.get(alices.id, "alice", ("rep",))) == grpc.StatusCode.PERMISSION_DENIED
    own = stub.CreateOpportunity(create_request(owner_user_id="alice"), metadata=rep)
    assert [
        o.id for o in stub.ListOpportunities(pb.ListOpportunitiesRequest(), metadata=rep).opportunities
    ] == [own.id]


def test_a_new_exchange_rate_revalues_exactly_the_deals_it_now_governs(running):
    stub = running.stub
    missing = code_of(lambda: running.create(amount=Money(currency_code="JPY", amount_minor=1_000_000)))
    assert missing == grpc.StatusCode.FAILED_PRECONDITION
    running.set_rate("JPY", "0.0067", Date(year=2026, month=1, day=1))
    running.set_rate("JPY", "0.0070", Date(year=2026, month=9, day=1))
    deals = {
        month: running.create(
            amount=Money(currency_code="JPY", amount_minor=1_000_000),
            expected_close_date=Date(year=2026, month=month, day=15),
        )
        for month in (3, 5, 8, 10)
    }
    dollars = running.create(
        amount=Money(currency_code="USD", amount_minor=1_000),
        expected_close_date=Date(year=2026, month=5, day=15),
    )
    assert deals[5].amount_base.amount_minor == 6_700_00
    rate = running.set_rate("JPY", "0.0068", Date(year=2026, month=4, day=1))
    assert (rate.base_currency_code, rate.rate, rate.HasField("create_time")) == ("USD", "0.0068", True)
    after = {month: running.get(deal.id) for month, deal in deals.items()}
    assert {m: o.amount_base.amount_minor for m, o in after.items()} == {
        3: 6_700_00,
        5: 6_800_00,
        8: 6_800_00,
        10: 7_000_00,
    }
    assert {m: o.version for m, o in after.items()} == {3: 1, 5: 2, 8: 2, 10: 1}
    assert running.get(dollars.id).version == 1
    envelopes = running.events(
        lambda found: (
            sum(1 for e in found if e.aggregate_type == "opportunity" and e.aggregate_version == 2) >= 2
        )
    )
    revalued = {
        e.aggregate_id
        for e in envelopes
        if e.aggregate_type == "opportunity"
        and unpack_payload(e, events_pb2.OpportunityChanged).kind == events_pb2.CHANGE_KIND_REVALUED
    }
    assert revalued == {deals[5].id, deals[8].id}
    listed = stub.ListExchangeRates(
        pb.ListExchangeRatesRequest(currency_code="JPY"), metadata=running.auth("alice", ("rep",))
    )
    assert listed.base_currency_code == "USD"
    assert [(r.rate, r.effective_from.month) for r in listed.rates] == [
        ("0.0067", 1),
        ("0.0068", 4),
        ("0.0070", 9),
    ]


def test_paging_returns_every_deal_exactly_once_even_while_deals_are_added(running):
    stub, admin = running.stub, running.auth()
    created = {
        running.create(
            name=f"Deal {i % 9:02d}",
            owner_user_id=f"rep{i % 3}",
            amount=Money(currency_code="USD", amount_minor=(i * 7919) % 50_000),
            expected_close_date=Date(year=2026, month=1 + i % 12, day=1 + i % 28),
        ).id
        for i in range(60)
    }
    orders = [
        (pb.OPPORTUNITY_ORDER_FIELD_UNSPECIFIED, False),
        (pb.OPPORTUNITY_ORDER_FIELD_AMOUNT_BASE, True),
        (pb.OPPORTUNITY_ORDER_FIELD_NAME, False),
        (pb.OPPORTUNITY_ORDER_FIELD_UPDATE_TIME, True),
        (pb.OPPORTUNITY_ORDER_FIELD_PROBABILITY, False),
    ]
    for order, descending in orders:
        request = pb.ListOpportunitiesRequest(page_size=7, order_by=order, descending=descending)
        seen: list[str] = []
        while True:
            page = stub.ListOpportunities(request, metadata=admin)
            seen.extend(o.id for o in page.opportunities)
            running.create(name="Added meanwhile")
            if not page.next_page_token:
                break
            request.page_token = page.next_page_token
        assert len(seen) == len(set(seen)), f"duplicates in order {order}"
        assert created <= set(seen), f"misses in order {order}"

    filtered = pb.ListOpportunitiesRequest(page_size=5, owner_user_ids=["rep1"], text="deal 0")
    first = stub.ListOpportunities(filtered, metadata=admin)
    assert {o.owner_user_id for o in first.opportunities} == {"rep1"}
    other = pb.ListOpportunitiesRequest(
        page_size=5, owner_user_ids=["rep2"], page_token=first.next_page_token
    )
    assert code_of(lambda: stub.ListOpportunities(other, metadata=admin)) == grpc.StatusCode.INVALID_ARGUMENT
    too_big = pb.ListOpportunitiesRequest(page_size=501)
    assert (
        code_of(lambda: stub.ListOpportunities(too_big, metadata=admin)) == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert len(stub.ListOpportunities(pb.ListOpportunitiesRequest(), metadata=admin).opportunities) == 50


def test_concurrent_creates_with_one_request_id_make_one_deal_and_one_event(running):
    lead_id = str(uuid.uuid4())
    request = create_request(
        request_id=f"lead-conversion:{lead_id}",
        lead_id=lead_id,
        lead_source_id=str(uuid.uuid4()),
        campaign_id=str(uuid.uuid4()),
    )
    service = running.auth("service:leads", ("service",))
    ids: list[str] = []

    def convert() -> None:
        ids.append(running.stub.CreateOpportunity(request, metadata=service).id)

    threads = [threading.Thread(target=convert) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ids) == 8 and len(set(ids)) == 1
    converted = running.get(ids[0])
    assert (converted.lead_id, converted.lead_source_id) == (lead_id, request.lead_source_id)
    listed = running.stub.ListOpportunities(
        pb.ListOpportunitiesRequest(lead_id=lead_id), metadata=running.auth()
    )
    assert [o.id for o in listed.opportunities] == ids[:1]
    running.outbox_drained()
    envelopes = running.events(lambda found: False, timeout=3)
    assert [e.aggregate_version for e in envelopes if e.aggregate_id == ids[0]] == [1]


def violations(error: grpc.RpcError) -> list[str]:
    """The fields a refusal names: an INVALID_ARGUMENT's and a FAILED_PRECONDITION's (a value the
    stored data refuses) both carry a BadRequest among their details."""
    status = rpc_status.from_call(error)
    fields: list[str] = []
    for detail in status.details:
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            fields.extend(v.field for v in bad_request.field_violations)
    assert fields, "the refusal names no field"
    return fields


def test_bad_input_is_a_client_error_with_field_violations_never_internal(running):
    stub, admin = running.stub, running.auth()
    existing = running.create()
    closed = running.create()
    stub.CloseOpportunity(
        pb.CloseOpportunityRequest(opportunity_id=closed.id, outcome=pb.CLOSE_OUTCOME_WON), metadata=admin
    )
    missing = str(uuid.uuid4())
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    refused = grpc.StatusCode.FAILED_PRECONDITION  # well-formed, but the configured stages refuse it
    cases: list[tuple[str, Callable[[], object], grpc.StatusCode, list[str] | None]] = [
        (
            "empty create",
            lambda: stub.CreateOpportunity(pb.CreateOpportunityRequest(), metadata=admin),
            invalid,
            ["name", "owner_user_id", "amount.currency_code", "expected_close_date", "sales_stage"],
        ),
        (
            "negative amount",
            lambda: running.create(amount=Money(currency_code="USD", amount_minor=-1)),
            invalid,
            ["amount.amount_minor"],
        ),
        (
            "unknown currency",
            lambda: running.create(amount=Money(currency_code="ZZZ", amount_minor=1)),
            invalid,
            ["amount.currency_code"],
        ),
        (
            "impossible date",
            lambda: running.create(expected_close_date=Date(year=2026, month=2, day=30)),
            invalid,
            ["expected_close_date"],
        ),
        ("NUL in name", lambda: running.create(name="Ac\x00me"), invalid, ["name"]),
        (
            "closed stage on create",
            lambda: running.create(sales_stage="Closed Won"),
            refused,
            ["sales_stage"],
        ),
        (
            "bad links",
            lambda: running.create(lead_id="42", campaign_id=str(uuid.uuid4()).upper()),
            invalid,
            ["campaign_id", "lead_id"],
        ),
        ("long request id", lambda: running.create(request_id="r" * 129), invalid, ["request_id"]),
        ("malformed id", lambda: running.get("42"), invalid, ["opportunity_id"]),
        ("unknown id", lambda: running.get(missing), grpc.StatusCode.NOT_FOUND, None),
        (
            "unknown currency in update",
            lambda: stub.UpdateOpportunity(
                pb.UpdateOpportunityRequest(
                    opportunity=pb.Opportunity(id=existing.id, amount=Money(currency_code="X")),
                    update_mask=FieldMask(paths=["amount.currency_code"]),
                ),
                metadata=admin,
            ),
            invalid,
            ["amount.currency_code"],
        ),
        (
            "read-only path",
            lambda: stub.UpdateOpportunity(
                pb.UpdateOpportunityRequest(
                    opportunity=pb.Opportunity(id=existing.id), update_mask=FieldMask(paths=["version"])
                ),
                metadata=admin,
            ),
            invalid,
            ["update_mask"],
        ),
        (
            "update into a won stage",
            lambda: stub.UpdateOpportunity(
                pb.UpdateOpportunityRequest(
                    opportunity=pb.Opportunity(id=existing.id, sales_stage="Closed Won"),
                    update_mask=FieldMask(paths=["sales_stage"]),
                ),
                metadata=admin,
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
            None,
        ),
        (
            "update out of a won stage",
            lambda: stub.UpdateOpportunity(
                pb.UpdateOpportunityRequest(
                    opportunity=pb.Opportunity(id=closed.id, sales_stage="Prospecting"),
                    update_mask=FieldMask(paths=["sales_stage"]),
                ),
                metadata=admin,
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
            None,
        ),
        (
            "unknown update id",
            lambda: stub.UpdateOpportunity(
                pb.UpdateOpportunityRequest(
                    opportunity=pb.Opportunity(id=missing, name="x"), update_mask=FieldMask(paths=["name"])
                ),
                metadata=admin,
            ),
            grpc.StatusCode.NOT_FOUND,
            None,
        ),
        (
            "stale version",
            lambda: stub.UpdateOpportunity(
                pb.UpdateOpportunityRequest(
                    opportunity=pb.Opportunity(id=existing.id, name="x"),
                    update_mask=FieldMask(paths=["name"]),
                    expected_version=9,
                ),
                metadata=admin,
            ),
            grpc.StatusCode.ABORTED,
            None,
        ),
        (
            "lost without reason",
            lambda: stub.CloseOpportunity(
                pb.CloseOpportunityRequest(opportunity_id=existing.id, outcome=pb.CLOSE_OUTCOME_LOST),
                metadata=admin,
            ),
            invalid,
            ["reason"],
        ),
        (
            "no outcome",
            lambda: stub.CloseOpportunity(
                pb.CloseOpportunityRequest(opportunity_id=existing.id, outcome=7), metadata=admin
            ),
            invalid,
            ["outcome"],
        ),
        (
            "close with stale version",
            lambda: stub.CloseOpportunity(
                pb.CloseOpportunityRequest(
                    opportunity_id=existing.id, outcome=pb.CLOSE_OUTCOME_WON, expected_version=5
                ),
                metadata=admin,
            ),
            grpc.StatusCode.ABORTED,
            None,
        ),
        (
            "reopen an open deal",
            lambda: stub.ReopenOpportunity(
                pb.ReopenOpportunityRequest(opportunity_id=existing.id, sales_stage="Prospecting"),
                metadata=admin,
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
            None,
        ),
        (
            "reopen into a closed stage",
            lambda: stub.ReopenOpportunity(
                pb.ReopenOpportunityRequest(opportunity_id=closed.id, sales_stage="Closed Lost"),
                metadata=admin,
            ),
            refused,
            ["sales_stage"],
        ),
        (
            "reassign to nobody",
            lambda: stub.ReassignOpportunity(
                pb.ReassignOpportunityRequest(opportunity_id=existing.id, new_owner_user_id="a b"),
                metadata=admin,
            ),
            invalid,
            ["new_owner_user_id"],
        ),
        (
            "delete with stale version",
            lambda: stub.DeleteOpportunity(
                pb.DeleteOpportunityRequest(opportunity_id=existing.id, expected_version=3), metadata=admin
            ),
            grpc.StatusCode.ABORTED,
            None,
        ),
        (
            "history of nothing",
            lambda: stub.GetStageHistory(pb.GetStageHistoryRequest(opportunity_id=missing), metadata=admin),
            grpc.StatusCode.NOT_FOUND,
            None,
        ),
        (
            "list with junk",
            lambda: stub.ListOpportunities(
                pb.ListOpportunitiesRequest(
                    page_size=-1,
                    statuses=[0, 9],
                    order_by=42,
                    close_date_from=Date(year=2026, month=13, day=1),
                    text="\x00",
                    page_token="%%%",
                ),
                metadata=admin,
            ),
            invalid,
            ["statuses[0]", "statuses[1]", "order_by", "close_date_from"],
        ),
        (
            "list with a garbled token",
            lambda: stub.ListOpportunities(pb.ListOpportunitiesRequest(page_token="garbled"), metadata=admin),
            invalid,
            ["page_token"],
        ),
        (
            "stages without won and lost",
            lambda: stub.ReplaceSalesStages(
                pb.ReplaceSalesStagesRequest(
                    sales_stages=[pb.SalesStage(name="Only", default_probability=10)]
                ),
                metadata=admin,
            ),
            invalid,
            ["sales_stages", "sales_stages"],
        ),
        (
            "stale stage revision",
            lambda: stub.ReplaceSalesStages(
                pb.ReplaceSalesStagesRequest(
                    sales_stages=stub.ListSalesStages(
                        pb.ListSalesStagesRequest(), metadata=admin
                    ).sales_stages,
                    expected_revision=99,
                ),
                metadata=admin,
            ),
            grpc.StatusCode.ABORTED,
            None,
        ),
        (
            "removing a stage in use",
            lambda: stub.ReplaceSalesStages(
                pb.ReplaceSalesStagesRequest(
                    sales_stages=[
                        s
                        for s in stub.ListSalesStages(
                            pb.ListSalesStagesRequest(), metadata=admin
                        ).sales_stages
                        if s.name != "Prospecting"
                    ]
                ),
                metadata=admin,
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
            None,
        ),
        (
            "a rate that is not a decimal",
            lambda: stub.SetExchangeRate(
                pb.SetExchangeRateRequest(currency_code="EUR", rate="1,5"), metadata=admin
            ),
            invalid,
            ["rate", "effective_from"],
        ),
        (
            "rates for a rep",
            lambda: stub.SetExchangeRate(
                pb.SetExchangeRateRequest(
                    currency_code="EUR", rate="1.5", effective_from=Date(year=2026, month=1, day=1)
                ),
                metadata=running.auth("alice", ("rep",)),
            ),
            grpc.StatusCode.PERMISSION_DENIED,
            None,
        ),
        (
            "stages for a manager",
            lambda: stub.ReplaceSalesStages(
                pb.ReplaceSalesStagesRequest(
                    sales_stages=stub.ListSalesStages(
                        pb.ListSalesStagesRequest(), metadata=admin
                    ).sales_stages
                ),
                metadata=running.auth("mia", ("manager",)),
            ),
            grpc.StatusCode.PERMISSION_DENIED,
            None,
        ),
        (
            "list rates of junk",
            lambda: stub.ListExchangeRates(pb.ListExchangeRatesRequest(currency_code="euro"), metadata=admin),
            invalid,
            ["currency_code"],
        ),
    ]
    for name, call, code, fields in cases:
        with pytest.raises(grpc.RpcError) as raised:
            call()
        assert raised.value.code() == code, f"{name}: {raised.value.code()} {raised.value.details()}"
        if fields is not None:
            assert violations(raised.value) == fields, name
    assert running.get(existing.id).version == 1
    history = running.stub.GetStageHistory(
        pb.GetStageHistoryRequest(opportunity_id=existing.id), metadata=admin
    )
    assert len(history.entries) == 1


def test_a_rep_works_on_their_own_deals_only_and_reads_the_configuration(running):
    stub = running.stub
    rep = running.auth("alice", ("rep",))
    own = stub.CreateOpportunity(create_request(owner_user_id="alice"), metadata=rep)
    bobs = running.create(owner_user_id="bob")
    assert code_of(lambda: running.get(bobs.id, "alice", ("rep",))) == grpc.StatusCode.PERMISSION_DENIED
    assert (
        code_of(lambda: stub.CreateOpportunity(create_request(owner_user_id="bob"), metadata=rep))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    assert (
        code_of(
            lambda: stub.ReassignOpportunity(
                pb.ReassignOpportunityRequest(opportunity_id=own.id, new_owner_user_id="bob"), metadata=rep
            )
        )
        == grpc.StatusCode.PERMISSION_DENIED
    )
    assert running.get(own.id, "alice", ("rep",)).version == 1
    stages = stub.ListSalesStages(pb.ListSalesStagesRequest(), metadata=rep)
    assert (stages.revision, stages.sales_stages[0].name, stages.sales_stages[-1].is_lost) == (
        1,
        "Prospecting",
        True,
    )
    assert stub.ListExchangeRates(pb.ListExchangeRatesRequest(), metadata=rep).base_currency_code == "USD"


def test_deal_writes_racing_rate_changes_never_keep_a_stale_rate(running):
    """Creates and amount updates run while the EUR rate is changed again and again: afterwards every
    deal is valued at the rate that governs it, whichever committed last."""
    from concurrent.futures import ThreadPoolExecutor

    running.set_rate("EUR", "1.0000", Date(year=2026, month=1, day=1))
    deals = [
        running.create(amount=Money(currency_code="EUR", amount_minor=1_000_00 + i)).id for i in range(6)
    ]

    def write(n: int) -> None:
        if n % 3 == 0:
            running.create(amount=Money(currency_code="EUR", amount_minor=2_000_00 + n))
            return
        running.stub.UpdateOpportunity(
            pb.UpdateOpportunityRequest(
                opportunity=pb.Opportunity(
                    id=deals[n % len(deals)], amount=Money(currency_code="EUR", amount_minor=3_000_00 + n)
                ),
                update_mask=FieldMask(paths=["amount.amount_minor"]),
            ),
            metadata=running.auth(),
        )

    def change_rates() -> None:
        for step in range(8):
            running.set_rate("EUR", f"1.{step + 1:04d}", Date(year=2026, month=1, day=1))

    with ThreadPoolExecutor(8) as pool:
        rates = pool.submit(change_rates)
        list(pool.map(write, range(120)))
        rates.result()
    listed = running.stub.ListOpportunities(
        pb.ListOpportunitiesRequest(page_size=500), metadata=running.auth()
    )
    assert len(listed.opportunities) == 6 + 40
    for deal in listed.opportunities:
        assert deal.exchange_rate == "1.0008", deal
        assert deal.amount_base.amount_minor == (deal.amount.amount_minor * 10008 + 5000) // 10000


def test_records_carry_their_type_schema_content_type_and_trace_context_and_each_change_is_audited_on_kafka(
    running,
):
    # The call comes from a traced caller (the gateway): its trace goes on in the record's headers.
    caller_trace = uuid.uuid4().hex
    created = running.stub.CreateOpportunity(
        create_request(name="Headers deal"),
        metadata=[*running.auth(), ("traceparent", f"00-{caller_trace}-{uuid.uuid4().hex[:16]}-01")],
    )
    running.outbox_drained()

    # kcat, as an operator would look: the headers of the deal's record, without decoding it.
    shown = subprocess.run(
        [
            "kcat",
            "-C",
            "-b",
            running.broker.bootstrap_servers,
            "-t",
            running.settings.topic(OPPORTUNITIES_TOPIC),
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            "%k %h\\n",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    (line,) = [line for line in shown.splitlines() if line.startswith(created.id)]
    headers = dict(pair.split("=", 1) for pair in line.split(" ", 1)[1].split(","))
    assert headers["ce_type"] == "salesplane.opportunities.v1.OpportunityChanged"
    assert headers["ce_dataschema"] == "proto:salesplane.opportunities.v1.OpportunityChanged"
    assert headers["content-type"] == "application/protobuf; proto=salesplane.events.v1.EventEnvelope"
    assert headers["ce_source"] == "salesplane/opportunities"
    assert headers["ce_specversion"] == "1.0"
    version, trace_id, span_id, flags = headers["traceparent"].split("-")
    assert (version, trace_id, len(span_id), len(flags)) == ("00", caller_trace, 16, 2)

    # The change's audit entry is on the audit topic, joined to the event by its id.
    consumer = KafkaConsumer(
        running.settings.topic(topics.AUDIT),
        bootstrap_servers=running.broker.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=2000,
    )
    entries = [
        unpack_payload(decode_envelope(record.value), audit_pb2.AuditEntryRecorded).entry
        for record in consumer
    ]
    consumer.close()
    (entry,) = [e for e in entries if e.subject_id == created.id]
    assert (entry.action, entry.actor, entry.service) == ("OpportunityChanged", "root", "opportunities")
    assert entry.entry_id == headers["ce_id"]
