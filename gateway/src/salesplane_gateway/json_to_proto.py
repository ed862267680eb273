"""JSON (and URL text) -> protobuf messages, strictly: every value that cannot be carried by its field
becomes a FieldViolation naming it, never a 500. Besides the type, each value must meet
its field's rule (field_rules: patterns, ranges, enum values, required fields), so that every broken
rule of a request is reported at once; rules that need stored data (known stages, exchange rates)
stay with the services.

Rules (conventions in json_values): unknown members are errors, not ignored (a typo must not pass
silently); null leaves a field unset; integers must be JSON numbers without a fraction (1.0 is
one, as JSON Schema has it) within the field's range; an enum is one of its JSON names; a map is
an object (null values are errors); a Struct, Value or ListValue takes free-form JSON, but only
integers a double carries exactly and at most MAX_FREE_FORM_DEPTH levels of nesting (a deeper
message would fail to parse upstream)."""

from __future__ import annotations

import base64
import binascii
import functools
import math
import re
from collections.abc import Callable, Collection, Sequence
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.struct_pb2 import NULL_VALUE, Value

from salesplane_gateway.field_rule_table import rule_of
from salesplane_gateway.field_rules import check, check_items
from salesplane_gateway.json_values import (
    DATE_TYPE,
    FLOATING,
    INTEGER_RANGES,
    JSON_VALUE_MESSAGES,
    LIST_VALUE_TYPE,
    SAFE_INTEGER,
    STRING_MESSAGES,
    STRUCT_TYPE,
    VALUE_TYPE,
    descriptor_of,
    enum_numbers,
    enum_type_of,
    is_map,
    json_type,
    map_entry_fields,
    message_type_name,
    message_type_of,
    parse_date,
    parse_timestamp,
)
from salesplane_gateway.problems import validation_problem
from salesplane_platform.errors import FieldViolation

_INTEGER_TEXT = re.compile(r"^[+-]?\d{1,20}$")
_JSON_INTEGER_TEXT = re.compile(r"^-?(?:0|[1-9]\d{0,19})$")
# Nesting of objects and arrays in a Struct, Value or ListValue. Each level is three protobuf
# messages deep, and protobuf refuses to parse messages nested more than 100 deep.
MAX_FREE_FORM_DEPTH = 20


class _Invalid:
    """A value that was rejected (and reported)."""


_INVALID = _Invalid()


def member_path(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


@functools.cache
def resolve_field(descriptor: Descriptor, path: str) -> tuple[tuple[FieldDescriptor, ...], FieldDescriptor]:
    """The fields along a dotted path ("opportunity.id"): the message fields to walk, then the last one.
    KeyError when a segment does not exist or walks through a non-message. Cached: the route table
    names the same few paths on every request."""
    *parents, last = path.split(".")
    walked: list[FieldDescriptor] = []
    current = descriptor
    for name in parents:
        field = current.fields_by_name[name]
        if field.type != FieldDescriptor.TYPE_MESSAGE or field.is_repeated:
            raise KeyError(path)
        walked.append(field)
        current = message_type_of(field)
    return tuple(walked), current.fields_by_name[last]


def parent_message(message: Message, path: str) -> tuple[Message, FieldDescriptor]:
    """The message holding the last field of a dotted path, created on the way, and that field."""
    walked, field = resolve_field(descriptor_of(message), path)
    for step in walked:
        message = getattr(message, step.name)
    return message, field


def read_path(message: Message, path: str) -> Any:
    holder, field = parent_message_if_set(message, path)
    return None if holder is None else getattr(holder, field.name)


def parent_message_if_set(message: Message, path: str) -> tuple[Message | None, FieldDescriptor]:
    """Like parent_message, but without creating anything: None when a message on the way is unset."""
    walked, field = resolve_field(descriptor_of(message), path)
    current: Message | None = message
    for step in walked:
        if current is None or not current.HasField(step.name):
            return None, field
        current = getattr(current, step.name)
    return current, field


class JsonDecoder:
    """Fills messages from parsed JSON or URL text; violations collect in `errors` so the caller
    learns all of them at once."""

    def __init__(self) -> None:
        self.errors: list[FieldViolation] = []

    def fail(self, path: str, description: str) -> None:
        self.errors.append(FieldViolation(path, description))

    def raise_if_invalid(self, detail: str = "The request has invalid fields.") -> None:
        if self.errors:
            raise validation_problem(self.errors, detail)

    # -- JSON ------------------------------------------------------------------------------------

    def merge_object(
        self, data: Any, message: Message, path: str = "", *, exclude: Collection[str] = ()
    ) -> None:
        """The members of a JSON object into `message`; `exclude` names fields the object may not set."""
        if not isinstance(data, dict):
            self.fail(path or "body", f"must be an object, not {json_type(data)}")
            return
        fields = descriptor_of(message).fields_by_name
        for key, value in data.items():
            field = fields.get(key)
            if field is None or key in exclude:
                known = sorted(name for name in fields if name not in exclude)
                self.fail(member_path(path, key), f"is not a known field; expected some of {known}")
                continue
            self.set_field(message, field, value, member_path(path, key))

    def set_field(self, message: Message, field: FieldDescriptor, value: Any, path: str) -> None:
        """One member's JSON value into `message`; null leaves the field unset."""
        if value is None:
            message.ClearField(field.name)
            return
        if is_map(field):
            self._set_map(message, field, value, path)
        elif field.is_repeated:
            self._set_repeated(message, field, value, path)
        elif _is_object(field):
            child = getattr(message, field.name)
            child.SetInParent()  # `{}` still marks the message as present
            self.merge_object(value, child, path)
        else:
            converted = self.scalar(field, value, path)
            if converted is not _INVALID:
                _assign(message, field, converted)

    def _set_repeated(self, message: Message, field: FieldDescriptor, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.fail(path, f"must be an array, not {json_type(value)}")
            return
        if why := check_items(rule_of(field).items, len(value)):
            self.fail(path, why)
        container = getattr(message, field.name)
        del container[:]
        is_object = _is_object(field)
        for index, item in enumerate(value):
            item_path = f"{path}[{index}]"
            if item is None and message_type_name(field) != VALUE_TYPE:
                self.fail(item_path, "must not be null")
            elif is_object:
                self.merge_object(item, container.add(), item_path)
            elif (converted := self.scalar(field, item, item_path)) is not _INVALID:
                _append(container, field, converted)

    def _set_map(self, message: Message, field: FieldDescriptor, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.fail(path, f"must be an object, not {json_type(value)}")
            return
        container = getattr(message, field.name)
        container.clear()
        key_field, value_field = map_entry_fields(field)
        for text, item in value.items():
            item_path = f"{path}.{text}"
            key = self.scalar(key_field, _json_like(key_field, text), item_path)
            if key is _INVALID:
                continue
            if item is None:
                self.fail(item_path, "must not be null")
            elif _is_object(value_field):
                self.merge_object(item, container[key], item_path)
            elif (converted := self.scalar(value_field, item, item_path)) is not _INVALID:
                _put(container, key, value_field, converted)

    def scalar(self, field: FieldDescriptor, value: Any, path: str) -> Any:
        """A JSON value as the Python value of a non-object field (Date and Timestamp included; a
        Struct, Value or ListValue as its message), or _INVALID after reporting why: it must have
        the field's type and meet the field's rule."""
        converted = self._typed(field, value, path)
        if converted is not _INVALID and (why := check(rule_of(field).value, value)):
            self.fail(path, why)
            return _INVALID
        return converted

    def _typed(self, field: FieldDescriptor, value: Any, path: str) -> Any:
        kind = field.type
        if (type_name := message_type_name(field)) in JSON_VALUE_MESSAGES:
            return self._free_form(type_name, value, path)
        if kind in INTEGER_RANGES:
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # 1.0 is an integer to JSON Schema, as to the document
            if isinstance(value, bool) or not isinstance(value, int):
                return self._wrong(path, "an integer", value)
            low, high = INTEGER_RANGES[kind]
            if not low <= value <= high:
                self.fail(path, f"must be between {low} and {high}")
                return _INVALID
            return value
        if kind == FieldDescriptor.TYPE_BOOL:
            return value if isinstance(value, bool) else self._wrong(path, "a boolean", value)
        if kind in FLOATING:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return self._wrong(path, "a number", value)
            return float(value)
        if not isinstance(value, str):
            return self._wrong(path, "a string", value)
        if not _is_unicode(value):
            self.fail(path, "must be valid Unicode text (no lone surrogates)")
            return _INVALID
        if kind == FieldDescriptor.TYPE_STRING:
            return value
        if kind == FieldDescriptor.TYPE_ENUM:
            numbers = enum_numbers(enum_type_of(field))
            if value not in numbers:
                self.fail(path, f"must be one of {sorted(numbers, key=numbers.__getitem__)}")
                return _INVALID
            return numbers[value]
        if kind == FieldDescriptor.TYPE_BYTES:
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                self.fail(path, "must be base64")
                return _INVALID
        try:
            if message_type_of(field).full_name == DATE_TYPE:
                return parse_date(value)
            return parse_timestamp(value)
        except ValueError as error:
            self.fail(path, str(error))
            return _INVALID

    def _free_form(self, type_name: str | None, value: Any, path: str) -> Any:
        if type_name == STRUCT_TYPE and not isinstance(value, dict):
            return self._wrong(path, "an object", value)
        if type_name == LIST_VALUE_TYPE and not isinstance(value, list):
            return self._wrong(path, "an array", value)
        converted = self._value(value, path, 0)
        if isinstance(converted, _Invalid):
            return _INVALID
        if type_name == STRUCT_TYPE:
            return converted.struct_value
        if type_name == LIST_VALUE_TYPE:
            return converted.list_value
        return converted

    def _value(self, value: Any, path: str, depth: int) -> Value | _Invalid:
        """Any JSON value as a google.protobuf.Value."""
        result = Value()
        if value is None:
            result.null_value = NULL_VALUE
        elif isinstance(value, bool):
            result.bool_value = value
        elif isinstance(value, int):
            if abs(value) > SAFE_INTEGER:
                self.fail(path, f"must be between {-SAFE_INTEGER} and {SAFE_INTEGER} to be kept exactly")
                return _INVALID
            result.number_value = value
        elif isinstance(value, float):
            result.number_value = value
        elif isinstance(value, str):
            if not _is_unicode(value):
                self.fail(path, "must be valid Unicode text (no lone surrogates)")
                return _INVALID
            result.string_value = value
        elif depth >= MAX_FREE_FORM_DEPTH:
            self.fail(path, f"must not nest objects and arrays more than {MAX_FREE_FORM_DEPTH} deep")
            return _INVALID
        elif isinstance(value, list):
            items = [self._value(item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value)]
            valid = [item for item in items if isinstance(item, Value)]
            if len(valid) < len(items):
                return _INVALID
            result.list_value.SetInParent()
            result.list_value.values.extend(valid)
        else:
            result.struct_value.SetInParent()
            invalid = False
            for key, item in value.items():
                member = member_path(path, key)
                if not _is_unicode(key):
                    self.fail(member, "must be named in valid Unicode text (no lone surrogates)")
                    invalid = True
                elif isinstance(converted := self._value(item, member, depth + 1), Value):
                    result.struct_value.fields[key].CopyFrom(converted)
                else:
                    invalid = True
            if invalid:
                return _INVALID
        return result

    def _wrong(self, path: str, expected: str, value: Any) -> _Invalid:
        self.fail(path, f"must be {expected}, not {json_type(value)}")
        return _INVALID

    def require_fields(
        self, message: Message, name_of: Callable[[str], str], skip: Callable[[str], bool], path: str = ""
    ) -> None:
        """Reports each required field (field_rules) left unset in `message` and the messages set in
        it, under `name_of` its dotted path; `skip` names the paths not to look into (a merge patch
        changes some members only)."""
        for field in descriptor_of(message).fields:
            field_path = member_path(path, field.name)
            rule = rule_of(field)
            if skip(field_path):
                continue
            if rule.required and not _is_set(message, field):
                named = name_of(field_path)
                if all(error.field != named for error in self.errors):  # not already reported as invalid
                    self.fail(named, "is required")
            elif field.is_repeated and _is_object(field) and not is_map(field):
                for index, item in enumerate(getattr(message, field.name)):
                    self.require_fields(item, name_of, skip, f"{field_path}[{index}]")
            elif not field.is_repeated and _is_object(field) and message.HasField(field.name):
                self.require_fields(getattr(message, field.name), name_of, skip, field_path)

    # -- URL text (path segments, query parameters) ----------------------------------------------

    def set_text(self, message: Message, path: str, texts: Sequence[str], name: str) -> None:
        """URL text into the field at dotted `path`; errors are reported under `name` (what the
        caller wrote). A repeated field takes every occurrence, another field exactly one."""
        holder, field = parent_message(message, path)
        if not field.is_repeated and len(texts) > 1:
            self.fail(name, "must be given once")
            return
        values = [self.scalar(field, _json_like(field, text), name) for text in texts]
        if any(value is _INVALID for value in values):
            return
        if field.is_repeated:
            for value in values:
                _append(getattr(holder, field.name), field, value)
        else:
            _assign(holder, field, values[0])

    def set_map_text(self, message: Message, path: str, key: str, texts: Sequence[str], name: str) -> None:
        """URL text into the entry `key` of the map field at dotted `path`. A message value must have
        a single field, which the texts fill as set_text does; a scalar value takes exactly one."""
        holder, field = parent_message(message, path)
        key_field, value_field = map_entry_fields(field)
        converted_key = self.scalar(key_field, _json_like(key_field, key), name)
        if converted_key is _INVALID:
            return
        container = getattr(holder, field.name)
        if _is_object(value_field):
            (inner,) = message_type_of(value_field).fields
            self.set_text(container[converted_key], inner.name, texts, name)
            return
        if len(texts) > 1:
            self.fail(name, "must be given once")
            return
        value = self.scalar(value_field, _json_like(value_field, texts[0]), name)
        if value is not _INVALID:
            _put(container, converted_key, value_field, value)


def _is_set(message: Message, field: FieldDescriptor) -> bool:
    """Whether a field holds a value: protobuf cannot tell an empty string, a zero or the zero enum
    value from an absent one, so those count as unset."""
    if field.is_repeated:
        return len(getattr(message, field.name)) > 0
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return message.HasField(field.name)
    return bool(getattr(message, field.name) != field.default_value)


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_like(field: FieldDescriptor, text: str) -> Any:
    """URL text as the JSON value it stands for, so one validator serves both: "42" -> 42 for an
    integer field, "true" -> True for a boolean one. Text that does not parse stays a string and is
    rejected with the usual "must be an integer, not string"."""
    if field.type in INTEGER_RANGES and _INTEGER_TEXT.match(text):
        return int(text)
    if field.type == FieldDescriptor.TYPE_BOOL and text in ("true", "false"):
        return text == "true"
    if message_type_name(field) == VALUE_TYPE:
        # A JSON scalar: an integer (as JSON writes one, and that a Value carries exactly), true or
        # false; anything else is the text itself ("007", "1.5", a 20-digit account number).
        if _JSON_INTEGER_TEXT.match(text) and abs(int(text)) <= SAFE_INTEGER:
            return int(text)
        return {"true": True, "false": False}.get(text, text)
    if field.type in FLOATING:
        try:
            number = float(text)
        except ValueError:
            return text
        return number if math.isfinite(number) else text
    return text


def _is_object(field: FieldDescriptor) -> bool:
    """Whether the field's JSON value is an object of the message's fields (a message other than
    Date, Timestamp and the free-form Struct, Value and ListValue)."""
    return field.type == FieldDescriptor.TYPE_MESSAGE and message_type_of(field).full_name not in (
        STRING_MESSAGES | JSON_VALUE_MESSAGES
    )


def _append(container: Any, field: FieldDescriptor, value: Any) -> None:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        container.add().CopyFrom(value)
    else:
        container.append(value)


def _put(container: Any, key: Any, field: FieldDescriptor, value: Any) -> None:
    """One entry of a map whose values are `field`'s."""
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        container[key].CopyFrom(value)
    else:
        container[key] = value


def _assign(message: Message, field: FieldDescriptor, value: Any) -> None:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        getattr(message, field.name).CopyFrom(value)
    else:
        setattr(message, field.name, value)
