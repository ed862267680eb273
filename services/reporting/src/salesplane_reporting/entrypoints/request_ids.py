"""Ids in a request that no record can have, refused before they reach a query.

Reporting looks reports, schedules and users up by the ids callers send. PostgreSQL refuses a NUL
character in text outright (the lookup failed, answered INTERNAL), and no id Salesplane issues
holds a control character or runs past MAX_ID_LENGTH: such an id is the caller's error."""

from __future__ import annotations

from google.protobuf.message import Message

from salesplane_platform.errors import FieldViolation, InvalidArgument, PermissionDenied
from salesplane_platform.identity import Identity
from salesplane_platform.text_rules import has_control_characters

MAX_ID_LENGTH = 255
# What an owner_user_id column holds (tables.py): a user id of the organisation is at most this.
MAX_OWNER_LENGTH = 64


def refuse_impossible_ids(request: Message, prefix: str = "") -> None:
    """INVALID_ARGUMENT naming every *_id field (at any depth) that no record can have."""
    violations = list(_impossible_ids(request, prefix))
    if violations:
        raise InvalidArgument(violations)


def _impossible_ids(message: Message, prefix: str) -> list[FieldViolation]:
    found: list[FieldViolation] = []
    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        if isinstance(value, Message):
            found.extend(_impossible_ids(value, f"{path}."))
        elif isinstance(value, str) and field.name.endswith("_id") and not _possible_id(value):
            found.append(
                FieldViolation(path, f"no record has this id: control characters or over {MAX_ID_LENGTH}")
            )
    return found


def _possible_id(value: str) -> bool:
    return len(value) <= MAX_ID_LENGTH and not has_control_characters(value)


def refuse_unstorable_owner(caller: Identity) -> None:
    """A saved report or schedule is owned by its caller. A caller id longer than the owner column
    (a development token may say anything) failed the insert, answered INTERNAL."""
    if len(caller.subject) > MAX_OWNER_LENGTH:
        raise PermissionDenied(
            f"a caller id of over {MAX_OWNER_LENGTH} characters cannot own reports or schedules"
        )
