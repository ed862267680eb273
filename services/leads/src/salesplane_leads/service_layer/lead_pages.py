"""Keyset pagination of lead lists: an opaque page token holding the position after the last lead
shown and a hash of the filters, so a token is never applied to another query by mistake."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from salesplane_leads.service_layer.unit_of_work import LeadCursor, LeadFilter
from salesplane_platform.errors import FieldViolation, InvalidArgument
from salesplane_platform.identifiers import is_uuid

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
_TOKEN_VERSION = 1


@dataclass(frozen=True)
class PageRequest:
    size: int
    after: LeadCursor | None
    filter_hash: str


def page_request(lead_filter: LeadFilter, *, page_size: int, page_token: str) -> PageRequest:
    if not 0 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidArgument(
            FieldViolation("page_size", f"must be between 1 and {MAX_PAGE_SIZE} (0 means 50)")
        )
    digest = filter_hash(lead_filter)
    after = decode_token(page_token, digest) if page_token else None
    return PageRequest(page_size or DEFAULT_PAGE_SIZE, after, digest)


def filter_hash(lead_filter: LeadFilter) -> str:
    canonical = json.dumps(
        {
            "statuses": sorted(status.value for status in lead_filter.statuses),
            "assigned_user_ids": sorted(lead_filter.assigned_user_ids),
            "lead_source_id": lead_filter.lead_source_id,
            "campaign_id": lead_filter.campaign_id,
            "text": lead_filter.text,
            "min_score": lead_filter.min_score,
        },
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def encode_token(cursor: LeadCursor, digest: str) -> str:
    document = {"v": _TOKEN_VERSION, "f": digest, "t": cursor.created_at.isoformat(), "i": cursor.lead_id}
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, digest: str) -> LeadCursor:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        document = json.loads(raw)
        if document["v"] != _TOKEN_VERSION:
            raise ValueError("unknown token version")
        token_digest = document["f"]
        created_at = datetime.fromisoformat(document["t"])
        lead_id = document["i"]
        if not isinstance(lead_id, str) or not is_uuid(lead_id) or created_at.tzinfo is None:
            raise ValueError("malformed position")
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise InvalidArgument(FieldViolation("page_token", "is not a page token from ListLeads")) from error
    if token_digest != digest:
        raise InvalidArgument(
            FieldViolation("page_token", "belongs to a list with other filters; send the same filters")
        )
    return LeadCursor(created_at, lead_id)
