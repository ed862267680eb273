"""Reading envelopes: every record that is not a valid event is a MalformedEvent (it goes to dead
letters), never another exception (which would fail its whole batch, on every retry)."""

from __future__ import annotations

import pytest
from google.protobuf.empty_pb2 import Empty
from google.protobuf.timestamp_pb2 import Timestamp

from salesplane_platform.events import MalformedEvent, build_envelope, decode_envelope, unpack_payload


def envelope_of(payload: Timestamp) -> bytes:
    return build_envelope(
        payload=payload,
        aggregate_type="thing",
        aggregate_id="t-1",
        aggregate_version=1,
        producer="p",
        actor="a",
    ).SerializeToString()


def test_a_valid_payload_unpacks() -> None:
    assert unpack_payload(decode_envelope(envelope_of(Timestamp(seconds=7))), Timestamp).seconds == 7


@pytest.mark.parametrize(
    "raw",
    [b"\x0a\xff\xfe garbage", b"", b"\x08\x01"],
    ids=["not protobuf", "empty", "no aggregate"],
)
def test_bytes_that_are_no_envelope_are_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedEvent):
        decode_envelope(raw)


def test_a_payload_of_the_right_type_with_junk_bytes_is_malformed_not_a_decode_error() -> None:
    envelope = decode_envelope(envelope_of(Timestamp(seconds=7)))
    envelope.payload.value = b"\xff\xff\xff\xff not a timestamp"
    with pytest.raises(MalformedEvent, match=r"not a valid google\.protobuf\.Timestamp"):
        unpack_payload(envelope, Timestamp)


def test_a_payload_of_another_type_is_malformed() -> None:
    with pytest.raises(MalformedEvent, match=r"expected google\.protobuf\.Empty"):
        unpack_payload(decode_envelope(envelope_of(Timestamp(seconds=7))), Empty)
