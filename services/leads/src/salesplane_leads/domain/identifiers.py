"""Identifier formats of this service."""

from __future__ import annotations

import re
import uuid

# The user-id format every Salesplane service accepts (same as opportunities).
USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def is_user_id(value: str) -> bool:
    return bool(USER_ID.match(value))


def is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except (ValueError, AttributeError):
        return False


def new_id() -> str:
    return str(uuid.uuid4())
