"""Translation of the shared contract types (Money, Date, enums) to and from the domain; the plain
Date and Money conversions are the platform's, re-exported here for the leads adapters."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TypeVar

from salesplane.common.v1.common_pb2 import Money as MoneyMessage
from salesplane_leads.domain.money_and_dates import MoneyInput
from salesplane_platform.errors import Validator
from salesplane_platform.proto_values import date_from_proto, date_to_proto, money_to_proto

E = TypeVar("E", bound=Enum)


def enum_mapping(domain: type[E], proto_enum: object, prefix: str, **renamed: str) -> dict[E, int]:
    """{member: proto number} by name (LeadStatus.NEW -> LEAD_STATUS_NEW); raises at import time
    if the contract lacks a member, so the two cannot drift apart unnoticed."""
    value_of = proto_enum.Value  # type: ignore[attr-defined]
    return {member: value_of(prefix + renamed.get(member.name, member.name)) for member in domain}


def inverted(mapping: Mapping[E, int]) -> dict[int, E]:
    return {number: member for member, number in mapping.items()}


def enum_from_proto(check: Validator, field: str, mapping: Mapping[int, E], number: int) -> E | None:
    """The member for a contract number; an unknown number (a newer client) is a violation."""
    member = mapping.get(number)
    if member is None:
        check.fail(field, f"unknown value {number}")
    return member


def money_input(value: MoneyMessage) -> MoneyInput:
    return MoneyInput(value.currency_code, value.amount_minor)


__all__ = [
    "date_from_proto",
    "date_to_proto",
    "enum_from_proto",
    "enum_mapping",
    "inverted",
    "money_input",
    "money_to_proto",
]
