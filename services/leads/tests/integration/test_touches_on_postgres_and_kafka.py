"""Lead touches on PostgreSQL: the same touch recorded by concurrent calls is stored and published
once (the unique key decides the race, the loser answers from the winner's touch), and every new
touch reaches Kafka through the outbox as LeadTouched."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import code_pb2
from sqlalchemy import func, select

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.leads.v1 import events_pb2, leads_pb2
from salesplane_leads.adapters import tables
from salesplane_leads.adapters.sql_unit_of_work import SqlLeadsUnitOfWork
from salesplane_leads.domain.duplicates import DuplicatePolicy
from salesplane_leads.domain.lead_fields import LeadFields
from salesplane_leads.domain.touches import Touch, TouchInput, TouchKind, check_touch
from salesplane_leads.entrypoints.main import DEFINITION, TOPIC
from salesplane_leads.service_layer import leads, touches
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.errors import Validator
from salesplane_platform.events import unpack_payload
from salesplane_platform.identity import Identity
from salesplane_platform.unit_of_work import OutboxContext
from salesplane_testing.postgres_server import unique_database_name

pytestmark = pytest.mark.integration

ADMIN = Identity(subject="ann", roles=frozenset({"admin"}))
EARLIER = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def service(
    postgres_server: Any, kafka_broker: Any, tmp_path_factory: pytest.TempPathFactory, it: SimpleNamespace
) -> Iterator[SimpleNamespace]:
    name = unique_database_name("leads_touches")
    url = postgres_server.create_database(name)
    settings = it.settings_for(
        "leads", url, kafka_broker, f"it-{uuid.uuid4().hex[:10]}.", tmp_path_factory.mktemp("leads")
    )
    try:
        with it.running(DEFINITION, settings) as process, it.channel_to(process) as channel:
            client = it.leads_client(channel, settings)
            source = client.call(
                "CreateLeadSource",
                leads_pb2.CreateLeadSourceRequest(name="Web", channel=leads_pb2.CHANNEL_WEB),
            )
            campaign = client.call(
                "CreateCampaign",
                leads_pb2.CreateCampaignRequest(
                    name="Spring webinar",
                    lead_source_id=source.id,
                    budget=Money(currency_code="EUR", amount_minor=100_00),
                    start_date=Date(year=2025, month=3, day=1),
                    end_date=Date(year=2025, month=3, day=31),
                ),
            )
            yield SimpleNamespace(
                client=client, settings=settings, kafka=kafka_broker, campaign=campaign, url=url
            )
    finally:
        postgres_server.drop_database(name)


def timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def new_lead(service: SimpleNamespace, **extra: Any) -> leads_pb2.Lead:
    request = leads_pb2.CreateLeadRequest(
        lead=leads_pb2.LeadFields(last_name="Lovelace", company=f"Co {uuid.uuid4().hex[:12]}"), **extra
    )
    return service.client.call("CreateLead", request).lead


def touch_input(service: SimpleNamespace, **values: Any) -> leads_pb2.TouchInput:
    return leads_pb2.TouchInput(
        **{
            "campaign_id": service.campaign.id,
            "kind": leads_pb2.TOUCH_KIND_FORM,
            "touch_time": timestamp(EARLIER),
            **values,
        }
    )


def test_concurrent_calls_recording_one_touch_store_and_publish_it_once(
    service: SimpleNamespace, it: SimpleNamespace
) -> None:
    lead = new_lead(service)
    request = leads_pb2.RecordLeadTouchRequest(lead_id=lead.id, touch=touch_input(service, touch_key="crm-7"))
    start = threading.Barrier(8)

    def record_at_once(_: int) -> leads_pb2.RecordLeadTouchResponse:
        start.wait()
        return service.client.call("RecordLeadTouch", request)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(record_at_once, range(8)))

    assert sum(answer.created for answer in answers) == 1
    assert len({answer.touch.id for answer in answers}) == 1
    listed = service.client.call("ListLeadTouches", leads_pb2.ListLeadTouchesRequest(lead_id=lead.id))
    assert list(listed.touches) == [answers[0].touch]
    envelopes = it.read_envelopes(
        service.kafka,
        it.leads_topic(service.settings),
        lambda found: any(e.aggregate_id == answers[0].touch.id for e in found),
    )
    touched = [e for e in envelopes if e.aggregate_id == answers[0].touch.id]
    assert len(touched) == 1


def test_a_loser_of_the_unique_key_race_answers_from_the_winners_touch(service: SimpleNamespace) -> None:
    """Deterministic: the winner's insert is held uncommitted while the loser inserts the same key;
    PostgreSQL makes the loser wait, then fail on the unique key, and the retry finds the touch."""
    engine = make_engine(service.url)
    outbox = OutboxContext(tables.platform, "leads", TOPIC, threading.Event())
    session_factory = make_session_factory(engine)

    def make_uow() -> SqlLeadsUnitOfWork:
        return SqlLeadsUnitOfWork(session_factory, outbox)

    try:
        lead = leads.create_lead(
            fields=LeadFields(last_name="Hopper", company=f"Co {uuid.uuid4().hex[:12]}"),
            assigned_user_id="",
            policy=DuplicatePolicy.INSIST,
            request_id="",
            caller=ADMIN,
            uow=make_uow(),
        ).lead
        assert lead is not None
        given = TouchInput(service.campaign.id, TouchKind.EVENT, EARLIER)
        checked = check_touch(Validator(), given, now=datetime.now(UTC))
        assert checked is not None
        inserted, release = threading.Event(), threading.Event()

        def winner() -> Touch:
            uow = make_uow()
            with uow.acting_for("ann"):
                touch = Touch.record(lead_id=lead.id, touch=checked, now=datetime.now(UTC))
                uow.touches.add(touch)
                inserted.set()
                release.wait(30)
                uow.commit()
            return touch

        with ThreadPoolExecutor(max_workers=2) as pool:
            first = pool.submit(winner)
            assert inserted.wait(30)
            loser = pool.submit(
                touches.record_touch, lead_id=lead.id, touch=given, caller=ADMIN, uow=make_uow()
            )
            # The loser found no touch (the winner's is uncommitted) and now waits on the unique index.
            with pytest.raises(TimeoutError):
                loser.result(timeout=1)
            release.set()
            won, lost = first.result(30), loser.result(30)

        assert not lost.created and lost.touch.id == won.id
        with engine.connect() as connection:
            stored = connection.execute(
                select(func.count())
                .select_from(tables.lead_touches)
                .where(tables.lead_touches.c.lead_id == lead.id)
            ).scalar_one()
            outboxed = connection.execute(
                select(func.count())
                .select_from(tables.platform.outbox)
                .where(
                    tables.platform.outbox.c.aggregate_type == "lead_touch",
                    tables.platform.outbox.c.aggregate_id == won.id,
                )
            ).scalar_one()
        assert (stored, outboxed) == (1, 1)
    finally:
        engine.dispose()


def test_touches_given_on_create_reach_kafka_with_their_full_state(
    service: SimpleNamespace, it: SimpleNamespace
) -> None:
    later = EARLIER + timedelta(hours=2)
    lead = new_lead(
        service,
        touches=[
            touch_input(service, note="webinar sign-up"),
            touch_input(service, kind=leads_pb2.TOUCH_KIND_CALL, touch_time=timestamp(later)),
        ],
    )
    listed = service.client.call("ListLeadTouches", leads_pb2.ListLeadTouchesRequest(lead_id=lead.id))
    assert [t.kind for t in listed.touches] == [leads_pb2.TOUCH_KIND_FORM, leads_pb2.TOUCH_KIND_CALL]
    assert (listed.first_touch, listed.last_touch) == (listed.touches[0], listed.touches[1])
    ids = {t.id for t in listed.touches}

    envelopes = it.read_envelopes(
        service.kafka,
        it.leads_topic(service.settings),
        lambda found: ids <= {e.aggregate_id for e in found},
    )
    # Keyed by aggregate, the lead's and the touches' events may land on different partitions, so
    # only their own order is kept; the outbox order is the unit tests' to check.
    mine = [e for e in envelopes if e.aggregate_id in ids]
    assert [e.aggregate_type for e in mine] == ["lead_touch", "lead_touch"]
    published = [unpack_payload(e, events_pb2.LeadTouched).touch for e in mine]
    assert sorted(published, key=lambda t: t.touch_time.ToDatetime()) == list(listed.touches)
    assert {(e.aggregate_version, e.actor, e.producer) for e in mine} == {(1, "ann", "leads")}


def test_bad_touches_are_invalid_arguments_with_their_fields(
    service: SimpleNamespace, it: SimpleNamespace
) -> None:
    lead = new_lead(service)
    future = timestamp(datetime.now(UTC) + timedelta(hours=1))
    invalid, refused = code_pb2.INVALID_ARGUMENT, code_pb2.FAILED_PRECONDITION
    cases = [
        # A well-formed id of no campaign: the stored data refuses it, the form is sound.
        (touch_input(service, campaign_id=str(uuid.uuid4())), refused, ["touch.campaign_id"]),
        (touch_input(service, touch_time=future), invalid, ["touch.touch_time"]),
        (touch_input(service, kind=leads_pb2.TOUCH_KIND_UNSPECIFIED), invalid, ["touch.kind"]),
        (
            touch_input(service, touch_key="k" * 129, note="\x00"),
            invalid,
            ["touch.touch_key", "touch.note"],
        ),
    ]
    for given, code, fields in cases:
        with pytest.raises(grpc.RpcError) as error:
            service.client.call(
                "RecordLeadTouch", leads_pb2.RecordLeadTouchRequest(lead_id=lead.id, touch=given)
            )
        assert it.field_violations(error.value, code) == fields
    with pytest.raises(grpc.RpcError) as missing:
        service.client.call(
            "RecordLeadTouch",
            leads_pb2.RecordLeadTouchRequest(lead_id=str(uuid.uuid4()), touch=touch_input(service)),
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
