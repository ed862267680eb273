"""Keyset pagination of lead lists, on the platform's page tokens: the position after the last lead
shown is its creation time and id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from salesplane_leads.service_layer.unit_of_work import LeadCursor, LeadFilter
from salesplane_platform.identifiers import is_uuid
from salesplane_platform.page_tokens import (
    decode_page_token,
    encode_page_token,
    fingerprint,
    invalid_page_token,
    page_size_of,
)


@dataclass(frozen=True)
class PageRequest:
    size: int
    after: LeadCursor | None
    filter_hash: str


def page_request(lead_filter: LeadFilter, *, page_size: int, page_token: str) -> PageRequest:
    size = page_size_of(page_size)
    digest = filter_hash(lead_filter)
    after = decode_token(page_token, digest) if page_token else None
    return PageRequest(size, after, digest)


def filter_hash(lead_filter: LeadFilter) -> str:
    return fingerprint(
        {
            "statuses": sorted(status.value for status in lead_filter.statuses),
            "assigned_user_ids": sorted(lead_filter.assigned_user_ids),
            "lead_source_id": lead_filter.lead_source_id,
            "campaign_id": lead_filter.campaign_id,
            "text": lead_filter.text,
            "min_score": lead_filter.min_score,
        }
    )


def encode_token(cursor: LeadCursor, digest: str) -> str:
    return encode_page_token({"t": cursor.created_at.isoformat(), "i": cursor.lead_id}, digest)


def decode_token(token: str, digest: str) -> LeadCursor:
    position = decode_page_token(token, digest)
    lead_id, created = position.get("i"), position.get("t")
    if not isinstance(lead_id, str) or not is_uuid(lead_id) or not isinstance(created, str):
        raise invalid_page_token()
    try:
        created_at = datetime.fromisoformat(created)
    except ValueError:
        raise invalid_page_token() from None
    if created_at.tzinfo is None:
        raise invalid_page_token()
    return LeadCursor(created_at, lead_id)
