"""Building and reading EventEnvelopes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from salesplane.events.v1.envelope_pb2 import EventEnvelope

M = TypeVar("M", bound=Message)


class MalformedEvent(Exception):
    """A record on a topic that is not a decodable EventEnvelope: it goes to dead letters."""


def build_envelope(
    *,
    payload: Message,
    aggregate_type: str,
    aggregate_id: str,
    aggregate_version: int,
    producer: str,
    actor: str,
    occurred_at: datetime | None = None,
) -> EventEnvelope:
    envelope = EventEnvelope(
        event_id=str(uuid.uuid4()),
        event_type=payload.DESCRIPTOR.full_name,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        aggregate_version=aggregate_version,
        producer=producer,
        actor=actor,
    )
    envelope.occurred_at.FromDatetime(occurred_at or datetime.now(UTC))
    envelope.payload.Pack(payload)
    return envelope


def decode_envelope(raw: bytes) -> EventEnvelope:
    envelope = EventEnvelope()
    try:
        envelope.ParseFromString(raw)
    except DecodeError as error:
        raise MalformedEvent(f"not an EventEnvelope: {error}") from error
    if not envelope.aggregate_id or not envelope.aggregate_type or envelope.aggregate_version <= 0:
        raise MalformedEvent("envelope lacks aggregate type, id or a positive version")
    return envelope


def unpack_payload(envelope: EventEnvelope, message_type: type[M]) -> M:
    message = message_type()
    try:
        unpacked = envelope.payload.Unpack(message)
    except DecodeError as error:
        # The right type with bytes that are not that message: a poison record. Left to escape,
        # the error failed the whole batch, and the batch again on every retry: the consumer
        # stopped for good. As MalformedEvent it goes to dead letters and the rest applies.
        raise MalformedEvent(
            f"payload is not a valid {message_type.DESCRIPTOR.full_name}: {error}"
        ) from error
    if not unpacked:
        raise MalformedEvent(
            f"payload is {envelope.payload.type_url}, expected {message_type.DESCRIPTOR.full_name}"
        )
    return message
