"""Protobuf messages -> the gateway's JSON (conventions in json_values). Every field of the message is
present in the output, so clients see one stable shape whatever the service left unset."""

from __future__ import annotations

import base64
import math
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from salesplane_gateway.json_values import (
    DATE_TYPE,
    FLOATING,
    JSON_VALUE_MESSAGES,
    TIMESTAMP_TYPE,
    date_json,
    descriptor_of,
    enum_json_names,
    enum_type_of,
    free_form_json,
    is_map,
    map_entry_fields,
    message_type_of,
)


def message_json(message: Message) -> dict[str, Any]:
    return {field.name: field_json(message, field) for field in descriptor_of(message).fields}


def field_json(message: Message, field: FieldDescriptor) -> Any:
    value = getattr(message, field.name)
    if is_map(field):
        value_field = map_entry_fields(field)[1]
        return {_map_key(key): value_json(value_field, item) for key, item in value.items()}
    if field.is_repeated:
        return [value_json(field, item) for item in value]
    if field.has_presence and not message.HasField(field.name):
        return None
    return value_json(field, value)


def value_json(field: FieldDescriptor, value: Any) -> Any:
    """One (non-repeated) value of `field`."""
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        type_name = message_type_of(field).full_name
        if type_name == DATE_TYPE:
            return date_json(value)
        if type_name == TIMESTAMP_TYPE:
            return value.ToJsonString()
        if type_name in JSON_VALUE_MESSAGES:
            return free_form_json(value)
        return message_json(value)
    if field.type == FieldDescriptor.TYPE_ENUM:
        # An unknown number (a newer service than this gateway) reads like the zero value.
        return enum_json_names(enum_type_of(field)).get(value)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode("ascii")
    if field.type in FLOATING:
        return value if math.isfinite(value) else None
    return value


def _map_key(key: str | int | bool) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)
