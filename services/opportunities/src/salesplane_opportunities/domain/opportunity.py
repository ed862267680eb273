"""The Opportunity aggregate: a deal, its amount, stage and probability of success."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import Enum

from salesplane_opportunities.domain.sales_stages import SalesStage, SalesStageCatalog
from salesplane_platform.errors import Validator
from salesplane_platform.identifiers import is_user_id, new_id
from salesplane_platform.money import MAX_AMOUNT_MINOR, Money, is_currency

MAX_NAME_LENGTH = 255
EARLIEST_CLOSE_DATE = date(1970, 1, 1)
LATEST_CLOSE_DATE = date(2199, 12, 31)


class ProbabilitySource(Enum):
    STAGE = "stage"
    MANUAL = "manual"


class OpportunityStatus(Enum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


def status_of(stage: SalesStage) -> OpportunityStatus:
    if stage.is_won:
        return OpportunityStatus.WON
    if stage.is_lost:
        return OpportunityStatus.LOST
    return OpportunityStatus.OPEN


class ChangeKind(Enum):
    CREATED = "created"
    UPDATED = "updated"


@dataclass(frozen=True)
class OpportunityChanged:
    """Domain event: the opportunity's new state is what consumers receive."""

    opportunity: Opportunity
    kind: ChangeKind


@dataclass(frozen=True)
class OpportunityDraft:
    """Values for a new opportunity; probability None means 'follow the stage'."""

    name: str
    owner_user_id: str
    amount_minor: int
    currency: str
    expected_close_date: date | None
    sales_stage: str
    probability: int | None = None


@dataclass(frozen=True)
class OpportunityChanges:
    """A partial update: None leaves a field as it is. `probability_follows_stage` clears a
    hand-set probability."""

    name: str | None = None
    owner_user_id: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    expected_close_date: date | None = None
    sales_stage: str | None = None
    probability: int | None = None
    probability_follows_stage: bool = False


@dataclass
class Opportunity:
    id: str
    name: str
    owner_user_id: str
    amount: Money
    expected_close_date: date
    sales_stage: str
    probability: int
    probability_source: ProbabilitySource
    status: OpportunityStatus
    version: int
    created_at: datetime
    updated_at: datetime
    events: list[OpportunityChanged] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def open(
        cls, draft: OpportunityDraft, stages: SalesStageCatalog, *, now: datetime | None = None
    ) -> Opportunity:
        check = Validator()
        _check_values(
            check,
            stages,
            name=draft.name,
            owner_user_id=draft.owner_user_id,
            amount_minor=draft.amount_minor,
            currency=draft.currency,
            expected_close_date=draft.expected_close_date,
            sales_stage=draft.sales_stage,
            probability=draft.probability,
        )
        check.raise_if_invalid()
        assert draft.expected_close_date is not None
        stage = stages.get(draft.sales_stage)
        assert stage is not None
        timestamp = now or datetime.now(UTC)
        manual = draft.probability is not None
        opportunity = cls(
            id=new_id(),
            name=draft.name.strip(),
            owner_user_id=draft.owner_user_id,
            amount=Money(draft.currency, draft.amount_minor),
            expected_close_date=draft.expected_close_date,
            sales_stage=stage.name,
            probability=draft.probability if draft.probability is not None else stage.default_probability,
            probability_source=ProbabilitySource.MANUAL if manual else ProbabilitySource.STAGE,
            status=status_of(stage),
            version=1,
            created_at=timestamp,
            updated_at=timestamp,
        )
        opportunity.events.append(OpportunityChanged(opportunity.snapshot(), ChangeKind.CREATED))
        return opportunity

    def apply(
        self, changes: OpportunityChanges, stages: SalesStageCatalog, *, now: datetime | None = None
    ) -> bool:
        """Apply a partial update; return False (and raise no event) when nothing changed."""
        check = Validator()
        _check_values(
            check,
            stages,
            name=changes.name,
            owner_user_id=changes.owner_user_id,
            amount_minor=changes.amount_minor,
            currency=changes.currency,
            expected_close_date=changes.expected_close_date,
            sales_stage=changes.sales_stage,
            probability=changes.probability,
            partial=True,
        )
        if changes.probability is not None and changes.probability_follows_stage:
            check.fail("probability", "cannot both set a probability and make it follow the stage")
        check.raise_if_invalid()
        before = self.snapshot()
        if changes.name is not None:
            self.name = changes.name.strip()
        if changes.owner_user_id is not None:
            self.owner_user_id = changes.owner_user_id
        if changes.amount_minor is not None or changes.currency is not None:
            self.amount = Money(
                changes.currency if changes.currency is not None else self.amount.currency,
                changes.amount_minor if changes.amount_minor is not None else self.amount.amount_minor,
            )
        if changes.expected_close_date is not None:
            self.expected_close_date = changes.expected_close_date
        if changes.sales_stage is not None:
            self.sales_stage = changes.sales_stage
        if changes.probability is not None:
            self.probability = changes.probability
            self.probability_source = ProbabilitySource.MANUAL
        elif changes.probability_follows_stage:
            self.probability_source = ProbabilitySource.STAGE
        stage = stages.get(self.sales_stage)
        assert stage is not None
        self.status = status_of(stage)
        if self.probability_source is ProbabilitySource.STAGE:
            self.probability = stage.default_probability
        if self.snapshot() == before:
            return False
        self.version += 1
        self.updated_at = now or datetime.now(UTC)
        self.events.append(OpportunityChanged(self.snapshot(), ChangeKind.UPDATED))
        return True

    def snapshot(self) -> Opportunity:
        return replace(self, events=[])


def _check_values(
    check: Validator,
    stages: SalesStageCatalog,
    *,
    name: str | None,
    owner_user_id: str | None,
    amount_minor: int | None,
    currency: str | None,
    expected_close_date: date | None,
    sales_stage: str | None,
    probability: int | None,
    partial: bool = False,
) -> None:
    if name is not None or not partial:
        value = (name or "").strip()
        check.require(bool(value), "name", "must not be empty")
        check.require(len(value) <= MAX_NAME_LENGTH, "name", f"must be at most {MAX_NAME_LENGTH} characters")
    if owner_user_id is not None or not partial:
        check.require(
            is_user_id(owner_user_id or ""),
            "owner_user_id",
            "must be a user id (letters, digits, . _ @ -; 1-64)",
        )
    if amount_minor is not None or not partial:
        check.require(
            amount_minor is not None and amount_minor >= 0, "amount.amount_minor", "must not be negative"
        )
        check.require(
            amount_minor is None or amount_minor <= MAX_AMOUNT_MINOR,
            "amount.amount_minor",
            "is implausibly large",
        )
    if currency is not None or not partial:
        check.require(
            is_currency(currency or ""), "amount.currency_code", "must be an ISO 4217 currency code"
        )
    if expected_close_date is not None or not partial:
        check.require(
            expected_close_date is not None
            and EARLIEST_CLOSE_DATE <= expected_close_date <= LATEST_CLOSE_DATE,
            "expected_close_date",
            f"must be a date between {EARLIEST_CLOSE_DATE} and {LATEST_CLOSE_DATE}",
        )
    if sales_stage is not None or not partial:
        check.require(
            stages.get(sales_stage or "") is not None,
            "sales_stage",
            f"must be one of {stages.names()}",
        )
    if probability is not None:
        check.require(0 <= probability <= 100, "probability", "must be a percentage between 0 and 100")
