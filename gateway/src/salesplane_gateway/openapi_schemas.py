"""JSON Schemas (OpenAPI 3.1) of protobuf messages as the gateway writes and reads them (conventions
in json_values), generated from the descriptors and registered under components/schemas.

Output schemas (`Opportunity`) list every field as required, because every field is always present,
null when unset. Input schemas (`MoneyInput`, request messages such as `CreateOpportunityRequest`)
state each field's rule (field_rules: required members, which are then not nullable, patterns,
ranges, the enum values taken); other members are optional and nullable (null leaves the field
unset). Unknown members are forbidden, as the gateway does."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from salesplane_gateway.field_rule_table import rule_of
from salesplane_gateway.json_values import (
    DATE_TYPE,
    INTEGER_RANGES,
    LIST_VALUE_TYPE,
    SIXTY_FOUR_BIT,
    STRUCT_TYPE,
    TIMESTAMP_TYPE,
    VALUE_TYPE,
    enum_json_names,
    enum_prefix,
    enum_type_of,
    is_map,
    map_entry_fields,
    message_type_of,
)

_FD = FieldDescriptor
_SIMPLE: dict[int, dict[str, Any]] = {
    _FD.TYPE_STRING: {"type": "string"},
    _FD.TYPE_BOOL: {"type": "boolean"},
    _FD.TYPE_DOUBLE: {"type": "number", "format": "double"},
    _FD.TYPE_FLOAT: {"type": "number", "format": "float"},
    _FD.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}
DATE_SCHEMA = {
    "type": "string",
    "format": "date",
    "description": "A calendar date, YYYY-MM-DD.",
    "examples": ["2026-12-31"],
}
TIMESTAMP_SCHEMA = {"type": "string", "format": "date-time", "description": "RFC 3339, UTC in responses."}
# google.protobuf.Struct, Value and ListValue: free-form JSON.
FREE_FORM_SCHEMAS: dict[str, dict[str, Any]] = {
    STRUCT_TYPE: {"type": "object", "description": "A JSON object."},
    VALUE_TYPE: {"description": "Any JSON value."},
    LIST_VALUE_TYPE: {"type": "array", "description": "A JSON array."},
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if isinstance(schema.get("type"), str):
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def integer_schema(field: FieldDescriptor) -> dict[str, Any]:
    low, high = INTEGER_RANGES[field.type]
    schema: dict[str, Any] = {
        "type": "integer",
        "format": "int64" if field.type in SIXTY_FOUR_BIT else "int32",
    }
    if low == 0:
        schema["minimum"] = 0
    if high > 2**63:
        schema["maximum"] = high
    return schema


class SchemaRegistry:
    """components/schemas, filled on demand. `comments` maps full protobuf names to their comments."""

    def __init__(self, schemas: Mapping[str, Any], comments: Mapping[str, str]) -> None:
        self.schemas: dict[str, Any] = dict(schemas)
        self._comments = comments
        self._owners: dict[str, str] = {}

    def comment(self, full_name: str) -> str | None:
        return self._comments.get(full_name) or None

    def _register(self, name: str, owner: str, build: Callable[[], dict[str, Any]]) -> dict[str, str]:
        """Registers once; two protobuf types wanting one name is a bug in the table, not a race."""
        if self._owners.setdefault(name, owner) != owner:
            raise ValueError(f"schema name {name!r} wanted by {self._owners[name]} and {owner}")
        if name not in self.schemas:
            self.schemas[name] = {}  # placeholder: recursive messages refer to themselves
            self.schemas[name] = build()
        return ref(name)

    def _describe(self, schema: dict[str, Any], full_name: str) -> dict[str, Any]:
        if (text := self.comment(full_name)) is not None:
            schema["description"] = text if "description" not in schema else f"{text} {schema['description']}"
        return schema

    # -- enums and values ------------------------------------------------------------------------

    def enum(self, enum: EnumDescriptor) -> dict[str, str]:
        def build() -> dict[str, Any]:
            names = enum_json_names(enum)
            documented = [
                f"`{json_name}`: {text}"
                for number, json_name in names.items()
                if (text := self.comment(f"{enum.full_name}.{enum.values_by_number[number].name}"))
            ]
            zero = enum.values_by_number.get(0)
            if zero is not None and (text := self.comment(f"{enum.full_name}.{zero.name}")):
                documented.append(f"null (unset): {text}")
            description = " ".join(filter(None, [self.comment(enum.full_name), *documented]))
            return {
                "type": "string",
                "enum": list(names.values()),
                "description": f"{description} (protobuf {enum.full_name}, values {enum_prefix(enum)}*; "
                "unset reads as null.)".lstrip(),
            }

        return self._register(enum.name, enum.full_name, build)

    def value(self, field: FieldDescriptor, *, output: bool) -> dict[str, Any]:
        """The schema of one value of `field` (an item, for a repeated field)."""
        if field.type in INTEGER_RANGES:
            return integer_schema(field)
        if field.type in _SIMPLE:
            return dict(_SIMPLE[field.type])
        if field.type == _FD.TYPE_ENUM:
            return self.enum(enum_type_of(field))
        message = message_type_of(field) if field.type == _FD.TYPE_MESSAGE else None
        if message is None or message.GetOptions().map_entry:
            raise ValueError(f"{field.full_name}: this field type has no JSON form in the gateway")
        type_name = message.full_name
        if type_name == DATE_TYPE:
            return self._register("Date", DATE_TYPE, lambda: dict(DATE_SCHEMA))
        if type_name == TIMESTAMP_TYPE:
            return self._register("Timestamp", TIMESTAMP_TYPE, lambda: dict(TIMESTAMP_SCHEMA))
        if type_name in FREE_FORM_SCHEMAS:
            return dict(FREE_FORM_SCHEMAS[type_name])
        return self.output(message) if output else self.input(message)

    def ruled_value(self, field: FieldDescriptor) -> dict[str, Any]:
        """The schema of one value the caller sends for `field`, with the field's rule."""
        schema = self.value(field, output=False)
        rule = rule_of(field)
        if not rule.value:
            return schema
        if "$ref" in schema and "enum" in rule.value:  # some of an enum's values: listed here
            return {"type": "string", **rule.value}
        if "$ref" in schema:
            return {"allOf": [schema], **rule.value}
        description = " ".join(filter(None, [schema.get("description"), rule.value.get("description")]))
        return {**schema, **rule.value, **({"description": description} if description else {})}

    def _container(self, field: FieldDescriptor, *, output: bool) -> dict[str, Any]:
        """The schema of a whole field: a map as an object, a repeated field as an array."""
        if is_map(field):
            value_field = map_entry_fields(field)[1]
            return {"type": "object", "additionalProperties": self.value(value_field, output=output)}
        item = self.value(field, output=output) if output else self.ruled_value(field)
        if not field.is_repeated:
            return item
        return {"type": "array", "items": item, **({} if output else rule_of(field).items)}

    # -- messages --------------------------------------------------------------------------------

    def output(self, message: Descriptor) -> dict[str, str]:
        def build() -> dict[str, Any]:
            properties = {f.name: self._output_field(f) for f in message.fields}
            return self._describe(
                {"type": "object", "required": list(properties), "properties": properties}, message.full_name
            )

        return self._register(message.name, message.full_name, build)

    def _output_field(self, field: FieldDescriptor) -> dict[str, Any]:
        schema = self._container(field, output=True)
        if not field.is_repeated and (field.has_presence or field.type == _FD.TYPE_ENUM):
            schema = nullable(schema)
        return self._describe(schema, field.full_name)

    def input(
        self, message: Descriptor, *, exclude: Collection[str] = (), name: str | None = None
    ) -> dict[str, str]:
        """The schema of a message the caller sends. Request messages keep their name; other
        messages get "Input" appended, as their output schema has the plain name."""
        is_request = message.name.endswith("Request")
        schema_name = name or (message.name if is_request else f"{message.name}Input")

        def build() -> dict[str, Any]:
            fields = [f for f in message.fields if f.name not in exclude]
            schema: dict[str, Any] = {
                "type": "object",
                "additionalProperties": False,
                "properties": {f.name: self.input_field(f) for f in fields},
            }
            if required := [f.name for f in fields if rule_of(f).required]:
                schema["required"] = required
            return self._describe(schema, message.full_name)

        owner = f"{message.full_name} without {sorted(exclude)}" if exclude else message.full_name
        return self._register(schema_name, owner, build)

    def input_field(self, field: FieldDescriptor, *, in_patch: bool = False) -> dict[str, Any]:
        """A member the caller sends; null (unset) is allowed unless the field is required, which
        in a merge patch (`in_patch`) it is not: the member is then left out."""
        schema = self._container(field, output=False)
        if in_patch or not rule_of(field).required:
            schema = nullable(schema)
        return self._describe(schema, field.full_name)
