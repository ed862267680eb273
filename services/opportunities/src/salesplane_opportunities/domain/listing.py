"""Listing opportunities: filters, order and keyset pagination with opaque page tokens.

A page token carries the sort key and id of the last row returned, so the next page starts right
after it however many rows were added or removed meanwhile; and a fingerprint of the filters, so a
token cannot be replayed against a different query (which would silently skip or repeat rows).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum

from salesplane_opportunities.domain.opportunity import Opportunity, OpportunityStatus
from salesplane_opportunities.domain.sales_stages import MAX_STAGE_NAME_LENGTH
from salesplane_opportunities.domain.text_rules import is_single_line
from salesplane_platform.errors import FieldViolation, InvalidArgument, Validator
from salesplane_platform.identifiers import is_user_id, is_uuid
from salesplane_platform.money import MAX_AMOUNT_MINOR

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_FILTER_VALUES = 100
MAX_TEXT_LENGTH = 200
MAX_PAGE_TOKEN_LENGTH = 1024
_TOKEN_FORMAT = 1

SortValue = int | str | date | datetime


class OrderField(Enum):
    EXPECTED_CLOSE_DATE = "expected_close_date"
    AMOUNT_BASE = "amount_base"
    NAME = "name"
    UPDATE_TIME = "update_time"
    PROBABILITY = "probability"


# Deals not yet valued in the base currency (stored before valuation existed) sort as if worth 0.
UNVALUED_SORT_AMOUNT = 0


@dataclass(frozen=True)
class OpportunityFilter:
    owner_user_ids: tuple[str, ...] = ()
    sales_stages: tuple[str, ...] = ()
    statuses: tuple[OpportunityStatus, ...] = ()
    close_date_from: date | None = None
    close_date_to: date | None = None
    amount_base_min: int | None = None
    amount_base_max: int | None = None
    text: str = ""
    lead_id: str = ""
    campaign_id: str = ""
    order_by: OrderField = OrderField.EXPECTED_CLOSE_DATE
    descending: bool = False

    def validate(self) -> None:
        check = Validator()
        for field, values in (("owner_user_ids", self.owner_user_ids), ("sales_stages", self.sales_stages)):
            check.require(
                len(values) <= MAX_FILTER_VALUES, field, f"must name at most {MAX_FILTER_VALUES} values"
            )
        for index, user_id in enumerate(self.owner_user_ids):
            check.require(is_user_id(user_id), f"owner_user_ids[{index}]", "must be a user id")
        for index, stage in enumerate(self.sales_stages):
            check.require(
                0 < len(stage) <= MAX_STAGE_NAME_LENGTH and is_single_line(stage),
                f"sales_stages[{index}]",
                f"must be a stage name of 1 to {MAX_STAGE_NAME_LENGTH} characters",
            )
        if self.close_date_from and self.close_date_to:
            check.require(
                self.close_date_from <= self.close_date_to,
                "close_date_to",
                "must not be before close_date_from",
            )
        for field, bound in (
            ("amount_base_min", self.amount_base_min),
            ("amount_base_max", self.amount_base_max),
        ):
            check.require(
                bound is None or 0 <= bound <= MAX_AMOUNT_MINOR,
                field,
                f"must be between 0 and {MAX_AMOUNT_MINOR}",
            )
        if self.amount_base_min is not None and self.amount_base_max is not None:
            check.require(
                self.amount_base_min <= self.amount_base_max,
                "amount_base_max",
                "must not be below amount_base_min",
            )
        check.require(
            len(self.text) <= MAX_TEXT_LENGTH, "text", f"must be at most {MAX_TEXT_LENGTH} characters"
        )
        check.require(is_single_line(self.text), "text", "must not contain control characters")
        check.require(not self.lead_id or is_uuid(self.lead_id), "lead_id", "must be empty or a UUID")
        check.require(
            not self.campaign_id or is_uuid(self.campaign_id), "campaign_id", "must be empty or a UUID"
        )
        check.raise_if_invalid()

    def fingerprint(self) -> str:
        """Stable digest of everything that selects or orders rows (not the page size)."""
        canonical = json.dumps(
            {
                "owners": sorted(set(self.owner_user_ids)),
                "stages": sorted(set(self.sales_stages)),
                "statuses": sorted({s.value for s in self.statuses}),
                "from": self.close_date_from and self.close_date_from.isoformat(),
                "to": self.close_date_to and self.close_date_to.isoformat(),
                "min": self.amount_base_min,
                "max": self.amount_base_max,
                "text": self.text,
                "lead": self.lead_id,
                "campaign": self.campaign_id,
                "order": self.order_by.value,
                "descending": self.descending,
            },
            sort_keys=True,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class PagePosition:
    """The last row of the previous page: its sort value and id (the tie-breaker)."""

    sort_value: SortValue
    opportunity_id: str


@dataclass(frozen=True)
class OpportunityQuery:
    filter: OpportunityFilter
    page_size: int
    after: PagePosition | None


def page_size_of(requested: int) -> int:
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    if not 1 <= requested <= MAX_PAGE_SIZE:
        raise InvalidArgument(
            FieldViolation(
                "page_size", f"must be between 1 and {MAX_PAGE_SIZE} (0 means {DEFAULT_PAGE_SIZE})"
            )
        )
    return requested


def build_query(filter_: OpportunityFilter, page_size: int, page_token: str) -> OpportunityQuery:
    """Validate a list request; raises InvalidArgument for bad filters, sizes or tokens."""
    filter_.validate()
    size = page_size_of(page_size)
    after = decode_page_token(page_token, filter_) if page_token else None
    return OpportunityQuery(filter_, size, after)


def sort_value_of(opportunity: Opportunity, order: OrderField) -> SortValue:
    if order is OrderField.EXPECTED_CLOSE_DATE:
        return opportunity.expected_close_date
    if order is OrderField.AMOUNT_BASE:
        valuation = opportunity.valuation
        return UNVALUED_SORT_AMOUNT if valuation is None else valuation.amount_base_minor
    if order is OrderField.NAME:
        return opportunity.name
    if order is OrderField.UPDATE_TIME:
        return opportunity.updated_at
    return opportunity.probability


def encode_page_token(filter_: OpportunityFilter, last: Opportunity) -> str:
    value = sort_value_of(last, filter_.order_by)
    encoded: object = value.isoformat() if isinstance(value, date | datetime) else value
    document = {"v": _TOKEN_FORMAT, "f": filter_.fingerprint(), "k": encoded, "id": last.id}
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, filter_: OpportunityFilter) -> PagePosition:
    invalid = InvalidArgument(FieldViolation("page_token", "is not a page token of this service"))
    if len(token) > MAX_PAGE_TOKEN_LENGTH:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        document = json.loads(raw)
    except (binascii.Error, ValueError):
        raise invalid from None
    if not isinstance(document, dict) or document.get("v") != _TOKEN_FORMAT:
        raise invalid
    if document.get("f") != filter_.fingerprint():
        raise InvalidArgument(
            FieldViolation("page_token", "belongs to a request with other filters or order; start over")
        )
    last_id = document.get("id")
    if not isinstance(last_id, str) or not is_uuid(last_id):
        raise invalid
    value = _sort_value_from(document.get("k"), filter_.order_by)
    if value is None:
        raise invalid
    return PagePosition(value, last_id)


def _sort_value_from(encoded: object, order: OrderField) -> SortValue | None:
    try:
        if order is OrderField.EXPECTED_CLOSE_DATE and isinstance(encoded, str):
            return date.fromisoformat(encoded)
        if order is OrderField.UPDATE_TIME and isinstance(encoded, str):
            parsed = datetime.fromisoformat(encoded)
            return parsed if parsed.tzinfo is not None else None
    except ValueError:
        return None
    if order is OrderField.NAME and isinstance(encoded, str) and len(encoded) <= 1024:
        return encoded
    if (
        order in (OrderField.AMOUNT_BASE, OrderField.PROBABILITY)
        and isinstance(encoded, int)
        and not isinstance(encoded, bool)
        and 0 <= encoded <= MAX_AMOUNT_MINOR
    ):
        return encoded
    return None
