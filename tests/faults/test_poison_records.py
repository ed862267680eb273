"""Poison records on every topic, under the mixed load: bytes that are no envelope, an envelope
without its aggregate, an envelope whose payload is junk, one of an event type no one knows, and an
empty value. Each consumer of the topic sets each one aside in its dead letters and goes on: no
loop stops, every derived state equals its oracle, and the poison changed nothing.

The audit topic has no consumer in the system (it is published for the organisation's own audit
store); its poison is written all the same, and must stop nothing."""

from __future__ import annotations

import time
import uuid

import grpc
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from salesplane.audit.v1 import audit_pb2
from salesplane.events.v1.envelope_pb2 import EventEnvelope
from salesplane.leads.v1 import events_pb2 as lead_events_pb2
from salesplane.operations.v1 import dead_letters_pb2 as pb
from salesplane.operations.v1 import dead_letters_pb2_grpc as pb_grpc
from salesplane.opportunities.v1 import events_pb2
from salesplane_platform import topics
from salesplane_platform.org_replica import USER_CHANGED
from tests.e2e.conftest import bearer
from tests.faults.full_stack import CONSUMED, FullStack
from tests.faults.test_whole_system_faults import check_and_report, fault_window

pytestmark = pytest.mark.e2e

# Each topic with the event type its consumers apply (the audit topic's has no consumer).
TOPICS = {
    topics.OPPORTUNITIES: events_pb2.OpportunityChanged.DESCRIPTOR.full_name,
    topics.LEADS: lead_events_pb2.LeadChanged.DESCRIPTOR.full_name,
    topics.FORECASTING: USER_CHANGED,
    topics.AUDIT: audit_pb2.AuditEntryRecorded.DESCRIPTOR.full_name,
}
# What a consumer does with each kind: sets it aside, or (an event type it does not apply: a newer
# producer's, or another consumer's) passes over it, as a tolerant reader must.
IGNORED = {"an event type no one knows"}


def real_envelope(stack: FullStack, topic: str, event_type: str) -> EventEnvelope | None:
    """One envelope of that type the system itself wrote on the topic, so a junk payload of the
    same type reaches the handlers that apply it."""
    consumer = KafkaConsumer(bootstrap_servers=stack.broker.bootstrap_servers, consumer_timeout_ms=5000)
    try:
        partitions = [TopicPartition(f"{stack.prefix}{topic}", p) for p in range(6)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        for record in consumer:
            envelope = EventEnvelope()
            envelope.ParseFromString(record.value)
            if envelope.event_type == event_type:
                return envelope
        return None
    finally:
        consumer.close()


def poisons(template: EventEnvelope | None) -> list[tuple[str, bytes | None]]:
    found: list[tuple[str, bytes | None]] = [
        ("not an envelope", b"\x0a\xff\xfe garbage"),
        ("envelope without its aggregate", EventEnvelope(event_id=str(uuid.uuid4())).SerializeToString()),
        ("empty value", b""),
    ]
    if template is not None:
        junk = EventEnvelope()
        junk.CopyFrom(template)
        junk.event_id, junk.aggregate_id, junk.aggregate_version = str(uuid.uuid4()), str(uuid.uuid4()), 1
        junk.payload.value = b"\xff\xff\xff\xff not a payload"
        found.append(("junk payload of the topic's own type", junk.SerializeToString()))
        unknown = EventEnvelope()
        unknown.CopyFrom(junk)
        # An aggregate of its own: passed over, its version is still remembered as seen, and a
        # second record at the same aggregate version is rightly skipped as a duplicate.
        unknown.event_id, unknown.aggregate_id = str(uuid.uuid4()), str(uuid.uuid4())
        unknown.event_type = "salesplane.future.v9.SomethingNew"
        unknown.payload.type_url = "type.googleapis.com/salesplane.future.v9.SomethingNew"
        unknown.payload.value = b""
        found.append(("an event type no one knows", unknown.SerializeToString()))
    return found


def dead_letters(stack: FullStack, service: str) -> list[pb.DeadLetter]:
    with grpc.insecure_channel(stack.services[service].target) as channel:
        reply = pb_grpc.DeadLetterServiceStub(channel).ListDeadLetters(
            pb.ListDeadLettersRequest(page_size=500), metadata=bearer(), timeout=10
        )
    return list(reply.dead_letters)


def test_poison_records_on_every_topic_are_set_aside_and_nothing_stops(full_stack: FullStack) -> None:
    written: dict[str, list[str]] = {}
    with fault_window(full_stack) as (load, ended):
        producer = KafkaProducer(bootstrap_servers=full_stack.broker.bootstrap_servers, acks="all")
        for topic, event_type in TOPICS.items():
            kinds = poisons(real_envelope(full_stack, topic, event_type))
            for _kind, value in kinds:
                producer.send(f"{full_stack.prefix}{topic}", key=uuid.uuid4().bytes, value=value).get(
                    timeout=30
                )
            written[topic] = [kind for kind, _ in kinds]
        producer.close()
        ended.append(time.monotonic())
    check_and_report(full_stack, "poison records on every topic (5 kinds each)", load, ended[0])

    for service, read in CONSUMED.items():
        letters = dead_letters(full_stack, service)
        for topic in read:
            assert len(written[topic]) == 5, f"no {TOPICS[topic]} on {topic} to copy"
            expected = len([k for k in written[topic] if k not in IGNORED])
            errors = [d.error for d in letters if d.topic == f"{full_stack.prefix}{topic}"]
            assert len(errors) == expected, (service, topic, errors)
