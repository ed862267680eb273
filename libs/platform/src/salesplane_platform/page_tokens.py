"""Keyset pagination shared by every list RPC: page sizes, and opaque page tokens that carry the
position after the last row shown plus a fingerprint of the query. A token replayed against other
filters or another order would silently skip or repeat rows, so it is refused instead."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from salesplane_platform.errors import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_TOKEN_LENGTH = 2048
_FORMAT = 1


def page_size_of(requested: int) -> int:
    """0 means the default; anything outside 1..MAX_PAGE_SIZE is refused."""
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    if not 1 <= requested <= MAX_PAGE_SIZE:
        raise InvalidArgument(
            FieldViolation(
                "page_size", f"must be between 1 and {MAX_PAGE_SIZE} (0 means {DEFAULT_PAGE_SIZE})"
            )
        )
    return requested


def fingerprint(query: Mapping[str, Any]) -> str:
    """Stable digest of everything that selects or orders rows (JSON-serialisable values)."""
    canonical = json.dumps(query, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def encode_page_token(position: Mapping[str, Any], query_fingerprint: str) -> str:
    document = {"v": _FORMAT, "f": query_fingerprint, "p": dict(position)}
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, query_fingerprint: str) -> dict[str, Any]:
    """The position a token carries; INVALID_ARGUMENT for anything not made by encode_page_token
    or made for another query. Callers still validate the position's values."""
    invalid = InvalidArgument(FieldViolation("page_token", "is not a page token of this list"))
    if len(token) > MAX_TOKEN_LENGTH:
        raise invalid
    try:
        document = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        raise invalid from None
    if (
        not isinstance(document, dict)
        or document.get("v") != _FORMAT
        or not isinstance(document.get("p"), dict)
    ):
        raise invalid
    if document.get("f") != query_fingerprint:
        raise InvalidArgument(
            FieldViolation("page_token", "belongs to a request with other filters or order; start over")
        )
    position: dict[str, Any] = document["p"]
    return position


def invalid_page_token() -> InvalidArgument:
    """For callers whose position values do not check out."""
    return InvalidArgument(FieldViolation("page_token", "is not a page token of this list"))
