"""JSON merge patch (RFC 7386) -> a resource message plus the update_mask paths it changes.

The members present are the change; the others keep their value. A member that is a field the
service accepts as a whole path is set (or, when null, cleared); a member whose object form the
service takes member by member (`amount` -> `amount.amount_minor`, `amount.currency_code`) is
merged recursively, so `{"amount": {"amount_minor": 5}}` keeps the currency."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from salesplane_gateway.json_to_proto import JsonDecoder, member_path
from salesplane_gateway.json_values import STRING_MESSAGES, descriptor_of, json_type, message_type_of


@dataclass(frozen=True)
class Companion:
    """A resource field the gateway sets whenever a patched member is set or cleared: the contract's
    way to tell "follow the default again" from "set to this value" (e.g. `probability: null` means
    probability_source "stage"). Values are JSON values of the companion field."""

    field: str
    when_set: Any
    when_null: Any


@dataclass(frozen=True)
class MergePatchBody:
    """The body is a merge patch of the request's `field` (a resource message); the update mask goes
    into `mask`. `paths` are the mask paths the service accepts, as its contract lists them."""

    field: str
    paths: tuple[str, ...]
    mask: str = "update_mask"
    # dataclasses.field: to the type checker the bare name here is the `field: str` attribute above.
    companions: Mapping[str, Companion] = dataclasses.field(default_factory=dict)

    def member_names(self, prefix: str = "") -> list[str]:
        """The patch members allowed at one level (top level: prefix "")."""
        names: list[str] = []
        for path in self.paths:
            if not path.startswith(prefix):
                continue
            name = path[len(prefix) :].split(".")[0]
            if name not in names:
                names.append(name)
        return names

    def is_whole_path(self, path: str) -> bool:
        return path in self.paths

    def has_member_paths(self, path: str) -> bool:
        return any(p.startswith(path + ".") for p in self.paths)


def apply_merge_patch(
    patch: Mapping[str, Any], resource: Message, spec: MergePatchBody, decoder: JsonDecoder
) -> list[str]:
    """Writes the patch into `resource`; returns the update_mask paths, in the order given."""
    paths: list[str] = []
    _apply(patch, resource, "", spec, decoder, paths)
    if not paths and not decoder.errors:
        decoder.fail("body", f"must change at least one of {spec.member_names()}")
    return paths


def _apply(
    patch: Mapping[str, Any],
    resource: Message,
    prefix: str,
    spec: MergePatchBody,
    decoder: JsonDecoder,
    paths: list[str],
) -> None:
    allowed = spec.member_names(prefix + "." if prefix else "")
    for key, value in patch.items():
        path = member_path(prefix, key)
        if key not in allowed:
            decoder.fail(path, f"is not a field that can be changed; expected some of {allowed}")
            continue
        field = descriptor_of(resource).fields_by_name[key]
        if _merges_member_by_member(field, value, path, spec):
            if not value:
                decoder.fail(path, f"must name at least one of {spec.member_names(path + '.')}")
                continue
            child = getattr(resource, key)
            child.SetInParent()
            _apply(value, child, path, spec, decoder, paths)
        elif spec.is_whole_path(path):
            decoder.set_field(resource, field, value, path)
            paths.append(path)
            if (companion := spec.companions.get(path)) is not None:
                holder = descriptor_of(resource).fields_by_name[companion.field]
                companion_value = companion.when_null if value is None else companion.when_set
                decoder.set_field(resource, holder, companion_value, member_path(prefix, companion.field))
        else:
            decoder.fail(
                path,
                f"must be an object naming some of {spec.member_names(path + '.')}, not {json_type(value)}",
            )


def _merges_member_by_member(field: FieldDescriptor, value: Any, path: str, spec: MergePatchBody) -> bool:
    return (
        isinstance(value, dict)
        and spec.has_member_paths(path)
        and field.type == FieldDescriptor.TYPE_MESSAGE
        and message_type_of(field).full_name not in STRING_MESSAGES
    )
