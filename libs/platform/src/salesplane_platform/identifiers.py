"""Identifier formats every Salesplane service shares."""

from __future__ import annotations

import re
import uuid

# User ids come from the identity provider; this is the form every service accepts.
USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def is_user_id(value: str) -> bool:
    return bool(USER_ID.match(value))


def is_uuid(value: str) -> bool:
    """True only for the canonical lower-case form, the one ids are stored and compared in."""
    try:
        return str(uuid.UUID(value)) == value
    except (ValueError, AttributeError, TypeError):
        return False


def new_id() -> str:
    return str(uuid.uuid4())
