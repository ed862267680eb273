"""Translation of the shared contract types (Money, Date, enums) to and from the domain; the plain
Date and Money conversions are the platform's, re-exported here for the leads adapters."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, TypeVar

from salesplane_platform.errors import Validator
from salesplane_platform.proto_values import date_from_proto, date_to_proto, money_to_proto
from salesplane_platform.proto_values import money_input_from_proto as money_input

if TYPE_CHECKING:
    # Only in the stubs: the generic base of every generated enum, whose ValueType is a NewType of int.
    from google.protobuf.internal.enum_type_wrapper import _EnumTypeWrapper

E = TypeVar("E", bound=Enum)
# A contract enum's ValueType (e.g. leads_pb2.LeadStatus.ValueType), so the mappings keep it.
V = TypeVar("V", bound=int)


def enum_mapping(domain: type[E], proto_enum: _EnumTypeWrapper[V], prefix: str, **renamed: str) -> dict[E, V]:
    """{member: proto number} by name (LeadStatus.NEW -> LEAD_STATUS_NEW); raises at import time
    if the contract lacks a member, so the two cannot drift apart unnoticed."""
    return {member: proto_enum.Value(prefix + renamed.get(member.name, member.name)) for member in domain}


def inverted(mapping: Mapping[E, V]) -> dict[V, E]:
    return {number: member for member, number in mapping.items()}


def enum_from_proto(check: Validator, field: str, mapping: Mapping[V, E], number: V) -> E | None:
    """The member for a contract number; an unknown number (a newer client) is a violation."""
    member = mapping.get(number)
    if member is None:
        check.fail(field, f"unknown value {number}")
    return member


__all__ = [
    "date_from_proto",
    "date_to_proto",
    "enum_from_proto",
    "enum_mapping",
    "inverted",
    "money_input",
    "money_to_proto",
]
