"""The JSON form of single protobuf values: the conventions both directions of the transcoding share.

  - field names as in the protos (snake_case), never lowerCamelCase;
  - 64-bit integers as JSON integers, never strings (protobuf's own JSON mapping quotes them);
  - enums as the value's name in lower case without the enum's prefix
    (LEAD_STATUS_IN_PROCESS -> "in_process"); the zero value (UNSPECIFIED) reads as null;
  - salesplane.common.v1.Date as "YYYY-MM-DD" (all zero: null);
  - google.protobuf.Timestamp as RFC 3339 in UTC ("2026-09-21T14:13:20Z");
  - unset message fields and unset `optional` fields as null;
  - map fields as JSON objects (keys as text);
  - google.protobuf.Struct, Value and ListValue as the JSON object, value or array they hold; a
    number without a fraction reads as a JSON integer ({"limit": 10}, not 10.0).
Money needs no rule of its own: it is the plain object {"currency_code", "amount_minor"}.
"""

from __future__ import annotations

import functools
import math
import re
from datetime import date
from typing import Any, cast

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.struct_pb2 import ListValue, Struct, Value
from google.protobuf.timestamp_pb2 import Timestamp

from salesplane.common.v1 import common_pb2
from salesplane_platform.proto_values import date_to_proto

DATE_TYPE = common_pb2.Date.DESCRIPTOR.full_name
TIMESTAMP_TYPE = Timestamp.DESCRIPTOR.full_name
# Message types written as one JSON string rather than an object.
STRING_MESSAGES = frozenset({DATE_TYPE, TIMESTAMP_TYPE})
STRUCT_TYPE = Struct.DESCRIPTOR.full_name
VALUE_TYPE = Value.DESCRIPTOR.full_name
LIST_VALUE_TYPE = ListValue.DESCRIPTOR.full_name
# Message types whose JSON is free-form: an object, any value, an array.
JSON_VALUE_MESSAGES = frozenset({STRUCT_TYPE, VALUE_TYPE, LIST_VALUE_TYPE})
# Integers a Value (a double) carries exactly.
SAFE_INTEGER = 2**53

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


def is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def map_entry_fields(field: FieldDescriptor) -> tuple[FieldDescriptor, FieldDescriptor]:
    """The key and value fields of a map field's entries."""
    entry = message_type_of(field)
    return entry.fields_by_name["key"], entry.fields_by_name["value"]


def message_type_name(field: FieldDescriptor) -> str | None:
    """The full name of a message field's type; None for other fields."""
    return field.message_type.full_name if field.message_type is not None else None


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


def free_value_json(value: Value) -> Any:
    """A google.protobuf.Value as the JSON value it holds (an unset or non-finite one as null)."""
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        if not math.isfinite(number):
            return None
        return int(number) if number.is_integer() and abs(number) <= SAFE_INTEGER else number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return struct_json(value.struct_value)
    if kind == "list_value":
        return list_value_json(value.list_value)
    return None


def struct_json(struct: Struct) -> dict[str, Any]:
    return {key: free_value_json(item) for key, item in struct.fields.items()}


def list_value_json(values: ListValue) -> list[Any]:
    return [free_value_json(item) for item in values.values]


def free_form_json(message: Message) -> Any:
    """A Struct, Value or ListValue as JSON."""
    if isinstance(message, Struct):
        return struct_json(message)
    if isinstance(message, ListValue):
        return list_value_json(message)
    if isinstance(message, Value):
        return free_value_json(message)
    raise TypeError(f"{descriptor_of(message).full_name} is not a free-form JSON message")
