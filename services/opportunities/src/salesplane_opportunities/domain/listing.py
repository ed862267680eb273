"""Listing opportunities: filters, order and keyset pagination on the platform's page tokens.

A page token carries the sort key and id of the last row returned, so the next page starts right
after it however many rows were added or removed meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum

from salesplane_opportunities.domain.opportunity import Opportunity, OpportunityStatus
from salesplane_opportunities.domain.sales_stages import MAX_STAGE_NAME_LENGTH
from salesplane_platform.errors import Validator
from salesplane_platform.identifiers import is_user_id, is_uuid
from salesplane_platform.money import MAX_AMOUNT_MINOR
from salesplane_platform.page_tokens import (
    decode_page_token,
    encode_page_token,
    fingerprint,
    invalid_page_token,
    page_size_of,
)
from salesplane_platform.text_rules import is_single_line

MAX_FILTER_VALUES = 100
MAX_TEXT_LENGTH = 200

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
        return fingerprint(
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
            }
        )


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


def build_query(filter_: OpportunityFilter, page_size: int, page_token: str) -> OpportunityQuery:
    """Validate a list request; raises InvalidArgument for bad filters, sizes or tokens."""
    filter_.validate()
    size = page_size_of(page_size)
    after = position_of(page_token, filter_) if page_token else None
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


def page_token_after(filter_: OpportunityFilter, last: Opportunity) -> str:
    value = sort_value_of(last, filter_.order_by)
    encoded: object = value.isoformat() if isinstance(value, date | datetime) else value
    return encode_page_token({"k": encoded, "id": last.id}, filter_.fingerprint())


def position_of(token: str, filter_: OpportunityFilter) -> PagePosition:
    position = decode_page_token(token, filter_.fingerprint())
    last_id = position.get("id")
    if not isinstance(last_id, str) or not is_uuid(last_id):
        raise invalid_page_token()
    value = _sort_value_from(position.get("k"), filter_.order_by)
    if value is None:
        raise invalid_page_token()
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
