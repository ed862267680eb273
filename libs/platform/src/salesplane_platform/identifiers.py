"""Identifier formats every Salesplane service shares."""

from __future__ import annotations

import re
import uuid

from salesplane_platform.errors import Validator

# User ids come from the identity provider; this is the form every service accepts.
USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


USER_ID_RULE = "must be a user id (letters, digits, . _ @ -; 1-64)"


def is_user_id(value: str) -> bool:
    return bool(USER_ID.match(value))


def check_user_id(check: Validator, field: str, value: str) -> bool:
    """Record a violation on field unless value is a user id; whether it is one."""
    return check.require(is_user_id(value), field, USER_ID_RULE)


def is_uuid(value: str) -> bool:
    """True only for the canonical lower-case form, the one ids are stored and compared in."""
    try:
        return str(uuid.UUID(value)) == value
    except (ValueError, AttributeError, TypeError):
        return False


def new_id() -> str:
    return str(uuid.uuid4())


# Fixed, so a derived id is the same in every process and release.
_DERIVED_NAMESPACE = uuid.UUID("5b1e7c0a-7d3f-4f5e-9a6b-2f0c8e4d1a93")


def derived_aggregate_id(kind: str, *parts: str) -> str:
    """A stable UUID naming an aggregate identified by several values (a user's quota in a period):
    fits every aggregate-id column and Kafka key, while the event's payload carries the values."""
    return str(uuid.uuid5(_DERIVED_NAMESPACE, "/".join((kind, *parts))))
