"""The JSON form of single protobuf values: the conventions both directions of the transcoding share.

  - field names as in the protos (snake_case), never lowerCamelCase;
  - 64-bit integers as JSON integers, never strings (protobuf's own JSON mapping quotes them);
  - enums as the value's name in lower case without the enum's prefix
    (LEAD_STATUS_IN_PROCESS -> "in_process"); the zero value (UNSPECIFIED) reads as null;
  - salesplane.common.v1.Date as "YYYY-MM-DD" (all zero: null);
  - google.protobuf.Timestamp as RFC 3339 in UTC ("2026-09-21T14:13:20Z");
  - unset message fields and unset `optional` fields as null.
Money needs no rule of its own: it is the plain object {"currency_code", "amount_minor"}.
"""

from __future__ import annotations

import functools
import re
from datetime import date
from typing import cast

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from salesplane.common.v1 import common_pb2
from salesplane_platform.proto_values import date_to_proto

DATE_TYPE = common_pb2.Date.DESCRIPTOR.full_name
TIMESTAMP_TYPE = Timestamp.DESCRIPTOR.full_name
# Message types written as one JSON string rather than an object.
STRING_MESSAGES = frozenset({DATE_TYPE, TIMESTAMP_TYPE})

_FD = FieldDescriptor
INT32_RANGE = (-(2**31), 2**31 - 1)
INT64_RANGE = (-(2**63), 2**63 - 1)
INTEGER_RANGES: dict[int, tuple[int, int]] = {
    _FD.TYPE_INT32: INT32_RANGE,
    _FD.TYPE_SINT32: INT32_RANGE,
    _FD.TYPE_SFIXED32: INT32_RANGE,
    _FD.TYPE_INT64: INT64_RANGE,
    _FD.TYPE_SINT64: INT64_RANGE,
    _FD.TYPE_SFIXED64: INT64_RANGE,
    _FD.TYPE_UINT32: (0, 2**32 - 1),
    _FD.TYPE_FIXED32: (0, 2**32 - 1),
    _FD.TYPE_UINT64: (0, 2**64 - 1),
    _FD.TYPE_FIXED64: (0, 2**64 - 1),
}
SIXTY_FOUR_BIT = frozenset(
    {_FD.TYPE_INT64, _FD.TYPE_SINT64, _FD.TYPE_SFIXED64, _FD.TYPE_UINT64, _FD.TYPE_FIXED64}
)
FLOATING = frozenset({_FD.TYPE_FLOAT, _FD.TYPE_DOUBLE})

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UPPER_SNAKE_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def descriptor_of(message: Message) -> Descriptor:
    """The message's descriptor. The stubs type Message.DESCRIPTOR as this Descriptor or upb's own class,
    as if unrelated; but the upb backend's descriptors pass isinstance(..., Descriptor) (through
    DescriptorMetaclass) and the pure-Python backend's are Descriptors, so the cast only says what is so."""
    return cast(Descriptor, message.DESCRIPTOR)


def message_type_of(field: FieldDescriptor) -> Descriptor:
    """The message type of a message (or group) field; the stubs leave it optional for other fields."""
    if field.message_type is None:
        raise ValueError(f"{field.full_name} is not a message field")
    return field.message_type


def enum_type_of(field: FieldDescriptor) -> EnumDescriptor:
    """The enum type of an enum field; the stubs leave it optional for other fields."""
    if field.enum_type is None:
        raise ValueError(f"{field.full_name} is not an enum field")
    return field.enum_type


def json_type(value: object) -> str:
    """The JSON type name of a parsed JSON value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def enum_prefix(enum: EnumDescriptor) -> str:
    """The prefix every value of the enum carries: that of its zero value `<PREFIX>UNSPECIFIED`, or
    else the type name in upper snake case (ProbabilitySource -> PROBABILITY_SOURCE_)."""
    zero = enum.values_by_number.get(0)
    if zero is not None and zero.name.endswith("_UNSPECIFIED"):
        return zero.name.removesuffix("UNSPECIFIED")
    return _UPPER_SNAKE_BOUNDARY.sub("_", enum.name).upper() + "_"


@functools.cache
def enum_json_names(enum: EnumDescriptor) -> dict[int, str]:
    """number -> JSON name of every value but the zero one (which reads as null)."""
    prefix = enum_prefix(enum)
    return {v.number: v.name.removeprefix(prefix).lower() for v in enum.values if v.number != 0}


@functools.cache
def enum_numbers(enum: EnumDescriptor) -> dict[str, int]:
    """JSON name -> number; the inverse of enum_json_names."""
    return {name: number for number, name in enum_json_names(enum).items()}


def date_json(value: common_pb2.Date) -> str | None:
    if value.year == 0 and value.month == 0 and value.day == 0:
        return None
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def parse_date(text: str) -> common_pb2.Date:
    """ "2026-12-31" -> Date; ValueError with a description for the caller otherwise."""
    if not _DATE.match(text):
        raise ValueError("must be a date formatted YYYY-MM-DD")
    try:
        parsed = date.fromisoformat(text)
    except ValueError:
        raise ValueError("is not a valid calendar date") from None
    return date_to_proto(parsed)


def parse_timestamp(text: str) -> Timestamp:
    """RFC 3339 with a zone ("2026-09-21T14:13:20Z", "...+02:00") -> Timestamp; ValueError otherwise."""
    value = Timestamp()
    try:
        value.FromJsonString(text)
    except ValueError:
        raise ValueError(
            "must be an RFC 3339 timestamp with Z or an offset, e.g. 2026-09-21T14:13:20Z"
        ) from None
    return value
