"""Ids in a request that no record can have, refused before they reach a query.

Reporting looks reports, schedules and users up by the ids callers send. PostgreSQL refuses a NUL
character in text outright (the lookup failed, answered INTERNAL), and no id Salesplane issues
holds a control character or runs past MAX_ID_LENGTH. Such an id names no record, and is answered
as any id that names none: NOT_FOUND (the API contract keeps INVALID_ARGUMENT for values that break
the documented schema, which these do not)."""

from __future__ import annotations

from google.protobuf.message import Message

from salesplane_platform.errors import FieldViolation, NotFound, PermissionDenied
from salesplane_platform.identity import Identity
from salesplane_platform.text_rules import has_control_characters

MAX_ID_LENGTH = 255
# What an owner_user_id column holds (tables.py): a user id of the organisation is at most this.
MAX_OWNER_LENGTH = 64


def refuse_impossible_ids(request: Message, prefix: str = "") -> None:
    """NOT_FOUND for the first *_id field (at any depth) whose value no record can have."""
    violations = list(_impossible_ids(request, prefix))
    if violations:
        field = violations[0].field
        value = _value_at(request, field)
        shown = value if len(value) <= 64 else f"{value[:64]}…"
        raise NotFound(field.rsplit(".", 1)[-1].removesuffix("_id").replace("_", " "), shown)


def _value_at(message: Message, path: str) -> str:
    found: object = message
    for part in path.split("."):
        found = getattr(found, part)
    return str(found)


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
