"""What callers may ask of an opportunity, and the format rules its values follow.

Field names in violations are those of the request messages, so a client can point at the input."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from salesplane_opportunities.domain.sales_stages import MAX_STAGE_NAME_LENGTH, SalesStage, SalesStageCatalog
from salesplane_platform.errors import FailedPrecondition, FieldViolation, Validator
from salesplane_platform.identifiers import check_user_id, is_uuid
from salesplane_platform.money import MAX_AMOUNT_MINOR, is_currency
from salesplane_platform.text_rules import is_single_line, is_text

MAX_NAME_LENGTH = 255
MAX_ACCOUNT_NAME_LENGTH = 255
MAX_NEXT_STEP_LENGTH = 500
MAX_CLOSE_REASON_LENGTH = 500
MAX_REQUEST_ID_LENGTH = 128
EARLIEST_CLOSE_DATE = date(1970, 1, 1)
LATEST_CLOSE_DATE = date(2199, 12, 31)


@dataclass(frozen=True)
class OpportunityDraft:
    """Values for a new opportunity. None for probability / best / worst case: follow the stage or
    the amount."""

    name: str
    owner_user_id: str
    amount_minor: int
    currency: str
    expected_close_date: date | None
    sales_stage: str
    probability: int | None = None
    account_name: str = ""
    best_case_minor: int | None = None
    worst_case_minor: int | None = None
    next_step: str = ""
    lead_source_id: str = ""
    campaign_id: str = ""
    lead_id: str = ""


@dataclass(frozen=True)
class CaseChange:
    """A new best or worst case: a hand-set amount (currency empty or the deal's), or follow the
    amount again."""

    amount_minor: int = 0
    currency: str = ""
    follows_amount: bool = False


@dataclass(frozen=True)
class OpportunityChanges:
    """A partial update: None leaves a field as it is. `probability_follows_stage` clears a
    hand-set probability."""

    name: str | None = None
    account_name: str | None = None
    owner_user_id: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    expected_close_date: date | None = None
    sales_stage: str | None = None
    probability: int | None = None
    probability_follows_stage: bool = False
    best_case: CaseChange | None = None
    worst_case: CaseChange | None = None
    next_step: str | None = None
    lead_source_id: str | None = None
    campaign_id: str | None = None


def check_draft(check: Validator, draft: OpportunityDraft, stages: SalesStageCatalog) -> None:
    check_name(check, draft.name)
    check_owner(check, "owner_user_id", draft.owner_user_id)
    check_amount(check, "amount.amount_minor", draft.amount_minor)
    check.require(is_currency(draft.currency), "amount.currency_code", "must be an ISO 4217 currency code")
    check_close_date(check, draft.expected_close_date)
    check_stage_name(check, draft.sales_stage)
    if draft.probability is not None:
        check_probability(check, draft.probability)
    check_text(check, "account_name", draft.account_name, MAX_ACCOUNT_NAME_LENGTH)
    if draft.best_case_minor is not None:
        check_amount(check, "best_case_minor", draft.best_case_minor)
    if draft.worst_case_minor is not None:
        check_amount(check, "worst_case_minor", draft.worst_case_minor)
    check_text(check, "next_step", draft.next_step, MAX_NEXT_STEP_LENGTH, multiline=True)
    for field, value in (
        ("lead_source_id", draft.lead_source_id),
        ("campaign_id", draft.campaign_id),
        ("lead_id", draft.lead_id),
    ):
        check_optional_uuid(check, field, value)


def check_changes(check: Validator, changes: OpportunityChanges, stages: SalesStageCatalog) -> None:
    if changes.name is not None:
        check_name(check, changes.name)
    if changes.account_name is not None:
        check_text(check, "account_name", changes.account_name, MAX_ACCOUNT_NAME_LENGTH)
    if changes.owner_user_id is not None:
        check_owner(check, "owner_user_id", changes.owner_user_id)
    if changes.amount_minor is not None:
        check_amount(check, "amount.amount_minor", changes.amount_minor)
    if changes.currency is not None:
        check.require(
            is_currency(changes.currency), "amount.currency_code", "must be an ISO 4217 currency code"
        )
    if changes.expected_close_date is not None:
        check_close_date(check, changes.expected_close_date)
    if changes.sales_stage is not None:
        check_stage_name(check, changes.sales_stage)
    if changes.probability is not None:
        check_probability(check, changes.probability)
        if changes.probability_follows_stage:
            check.fail("probability", "cannot both set a probability and make it follow the stage")
    for field, case in (("best_case", changes.best_case), ("worst_case", changes.worst_case)):
        if case is not None and not case.follows_amount:
            check_amount(check, f"{field}.amount_minor", case.amount_minor)
    if changes.next_step is not None:
        check_text(check, "next_step", changes.next_step, MAX_NEXT_STEP_LENGTH, multiline=True)
    if changes.lead_source_id is not None:
        check_optional_uuid(check, "lead_source_id", changes.lead_source_id)
    if changes.campaign_id is not None:
        check_optional_uuid(check, "campaign_id", changes.campaign_id)


def check_stage_name(check: Validator, name: str) -> None:
    """The format of a stage name; whether it is configured is ensure_stage's."""
    check.require(bool(name.strip()), "sales_stage", "must not be empty")
    check_text(check, "sales_stage", name, MAX_STAGE_NAME_LENGTH)


def ensure_stage(stage: SalesStage | None, description: str) -> SalesStage:
    """A well-formed stage name the configured catalog lacks (or one of the wrong kind) is refused
    by the data, not by the request's form: FAILED_PRECONDITION naming the field."""
    if stage is None:
        raise FailedPrecondition(
            f"sales_stage: {description}",
            reason="UNKNOWN_SALES_STAGE",
            violations=[FieldViolation("sales_stage", description)],
        )
    return stage


def check_name(check: Validator, name: str) -> None:
    value = name.strip()
    check.require(bool(value), "name", "must not be empty")
    check.require(len(value) <= MAX_NAME_LENGTH, "name", f"must be at most {MAX_NAME_LENGTH} characters")
    check.require(is_single_line(value), "name", "must not contain control characters")


def check_owner(check: Validator, field: str, user_id: str) -> None:
    check_user_id(check, field, user_id)


def check_amount(check: Validator, field: str, amount_minor: int) -> None:
    check.require(amount_minor >= 0, field, "must not be negative")
    check.require(amount_minor <= MAX_AMOUNT_MINOR, field, "is implausibly large")


def check_close_date(check: Validator, value: date | None) -> None:
    check.require(
        value is not None and EARLIEST_CLOSE_DATE <= value <= LATEST_CLOSE_DATE,
        "expected_close_date",
        f"must be a date between {EARLIEST_CLOSE_DATE} and {LATEST_CLOSE_DATE}",
    )


def check_probability(check: Validator, probability: int) -> None:
    check.require(0 <= probability <= 100, "probability", "must be a percentage between 0 and 100")


def check_text(check: Validator, field: str, value: str, max_length: int, *, multiline: bool = False) -> None:
    check.require(len(value.strip()) <= max_length, field, f"must be at most {max_length} characters")
    check.require(
        is_text(value) if multiline else is_single_line(value), field, "must not contain control characters"
    )


def check_optional_uuid(check: Validator, field: str, value: str) -> None:
    check.require(not value or is_uuid(value), field, "must be empty or a UUID")


def check_request_id(check: Validator, request_id: str) -> None:
    check.require(
        len(request_id) <= MAX_REQUEST_ID_LENGTH,
        "request_id",
        f"must be at most {MAX_REQUEST_ID_LENGTH} characters",
    )
    check.require(request_id.isprintable(), "request_id", "must consist of printable characters")
