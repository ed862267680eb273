"""The Opportunity aggregate: a deal, its amounts (and their value in the base currency), its sales
stage and probability of success, and how it was closed.

Every method validates everything before it changes anything, so a rejected command leaves the
aggregate as it was. A change bumps the version and raises one OpportunityChanged event; a command
that changes nothing raises none.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import Enum

from salesplane_opportunities.domain.exchange_rates import (
    AppliedRate,
    CurrencyConverter,
    Valuation,
    value_in_base,
)
from salesplane_opportunities.domain.opportunity_inputs import (
    MAX_CLOSE_REASON_LENGTH,
    CaseChange,
    OpportunityChanges,
    OpportunityDraft,
    check_changes,
    check_draft,
    check_owner,
    check_stage_name,
    ensure_stage,
)
from salesplane_opportunities.domain.sales_stages import CloseOutcome, SalesStage, SalesStageCatalog
from salesplane_platform.errors import FailedPrecondition, FieldViolation, InvalidArgument, Validator
from salesplane_platform.identifiers import new_id
from salesplane_platform.money import Money
from salesplane_platform.text_rules import is_text


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
    DELETED = "deleted"
    CLOSED = "closed"
    REOPENED = "reopened"
    REASSIGNED = "reassigned"
    # A configuration change (a stage's default probability, an exchange rate) revalued the deal.
    REVALUED = "revalued"


@dataclass(frozen=True)
class OpportunityChanged:
    """Domain event: consumers receive the opportunity's full new state."""

    opportunity: Opportunity
    kind: ChangeKind
    # Names of the contract's Opportunity fields whose value changed (empty when created or deleted).
    changed_fields: tuple[str, ...] = ()
    previous_sales_stage: str | None = None


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
    account_name: str = ""
    best_case_minor: int = 0
    best_case_manual: bool = False
    worst_case_minor: int = 0
    worst_case_manual: bool = False
    next_step: str = ""
    lead_source_id: str = ""
    campaign_id: str = ""
    lead_id: str = ""
    close_reason: str = ""
    close_time: datetime | None = None
    # None only for deals stored before valuation existed, until their next change values them.
    valuation: Valuation | None = None
    events: list[OpportunityChanged] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def open(
        cls,
        draft: OpportunityDraft,
        stages: SalesStageCatalog,
        converter: CurrencyConverter,
        *,
        now: datetime | None = None,
    ) -> Opportunity:
        check = Validator()
        check_draft(check, draft, stages)
        check.raise_if_invalid()
        assert draft.expected_close_date is not None
        named = stages.get(draft.sales_stage)
        stage = ensure_stage(
            named if named is not None and not named.is_closed else None,
            f"must be an open stage, one of {stages.open_names()}; deals are closed with CloseOpportunity",
        )
        amount = Money(draft.currency, draft.amount_minor)
        best = draft.best_case_minor if draft.best_case_minor is not None else amount.amount_minor
        worst = draft.worst_case_minor if draft.worst_case_minor is not None else amount.amount_minor
        valuation = _valuation(
            amount, best, worst, converter.rate_for(amount.currency, draft.expected_close_date), converter
        )
        timestamp = now or datetime.now(UTC)
        opportunity = cls(
            id=new_id(),
            name=draft.name.strip(),
            owner_user_id=draft.owner_user_id,
            amount=amount,
            expected_close_date=draft.expected_close_date,
            sales_stage=stage.name,
            probability=draft.probability if draft.probability is not None else stage.default_probability,
            probability_source=ProbabilitySource.STAGE
            if draft.probability is None
            else ProbabilitySource.MANUAL,
            status=status_of(stage),
            version=1,
            created_at=timestamp,
            updated_at=timestamp,
            account_name=draft.account_name.strip(),
            best_case_minor=best,
            best_case_manual=draft.best_case_minor is not None,
            worst_case_minor=worst,
            worst_case_manual=draft.worst_case_minor is not None,
            next_step=draft.next_step.strip(),
            lead_source_id=draft.lead_source_id,
            campaign_id=draft.campaign_id,
            lead_id=draft.lead_id,
            valuation=valuation,
        )
        opportunity.events.append(OpportunityChanged(opportunity.snapshot(), ChangeKind.CREATED))
        return opportunity

    def apply(
        self,
        changes: OpportunityChanges,
        stages: SalesStageCatalog,
        converter: CurrencyConverter,
        *,
        now: datetime | None = None,
    ) -> bool:
        """A partial update; moving into or out of a won / lost stage is for close() and reopen()."""
        check = Validator()
        check_changes(check, changes, stages)
        check.raise_if_invalid()
        amount = Money(
            changes.currency if changes.currency is not None else self.amount.currency,
            changes.amount_minor if changes.amount_minor is not None else self.amount.amount_minor,
        )
        best, best_manual = self._case_after(
            check, "best_case", changes.best_case, amount, self.best_case_minor, self.best_case_manual
        )
        worst, worst_manual = self._case_after(
            check, "worst_case", changes.worst_case, amount, self.worst_case_minor, self.worst_case_manual
        )
        check.raise_if_invalid()
        if changes.sales_stage is not None:
            ensure_stage(stages.get(changes.sales_stage), f"must be one of {stages.names()}")
        stage = _stage(stages, changes.sales_stage if changes.sales_stage is not None else self.sales_stage)
        if stage.name != self.sales_stage:
            if stage.is_closed:
                raise FailedPrecondition(
                    f"{stage.name!r} is a won or lost stage; close the opportunity with CloseOpportunity",
                    reason="USE_CLOSE_OPPORTUNITY",
                )
            if self.status is not OpportunityStatus.OPEN:
                raise FailedPrecondition(
                    f"opportunity {self.id} is closed ({self.status.value}); move it back to an open "
                    "stage with ReopenOpportunity",
                    reason="USE_REOPEN_OPPORTUNITY",
                )
        source = self.probability_source
        probability = self.probability
        if changes.probability_follows_stage:
            source = ProbabilitySource.STAGE
        elif changes.probability is not None:
            source, probability = ProbabilitySource.MANUAL, changes.probability
        if source is ProbabilitySource.STAGE:
            probability = stage.default_probability
        close_date = (
            changes.expected_close_date
            if changes.expected_close_date is not None
            else self.expected_close_date
        )
        rate = self._rate_for(amount.currency, close_date, converter)
        valuation = _valuation(amount, best, worst, rate, converter)

        before = self._observed()
        previous_stage = self.sales_stage
        if changes.name is not None:
            self.name = changes.name.strip()
        if changes.account_name is not None:
            self.account_name = changes.account_name.strip()
        if changes.owner_user_id is not None:
            self.owner_user_id = changes.owner_user_id
        if changes.next_step is not None:
            self.next_step = changes.next_step.strip()
        if changes.lead_source_id is not None:
            self.lead_source_id = changes.lead_source_id
        if changes.campaign_id is not None:
            self.campaign_id = changes.campaign_id
        self.amount, self.expected_close_date, self.valuation = amount, close_date, valuation
        self.best_case_minor, self.best_case_manual = best, best_manual
        self.worst_case_minor, self.worst_case_manual = worst, worst_manual
        self.sales_stage, self.probability, self.probability_source = stage.name, probability, source
        return self._record(before, previous_stage, ChangeKind.UPDATED, now)

    def close(
        self,
        outcome: CloseOutcome,
        reason: str,
        stage_name: str,
        stages: SalesStageCatalog,
        *,
        now: datetime | None = None,
    ) -> bool:
        """Close as won or lost, in `stage_name` or the first stage flagged with the outcome.
        Closing again exactly as it was closed changes nothing; otherwise a closed deal must be
        reopened first."""
        reason = reason.strip()
        check = Validator()
        if outcome is CloseOutcome.LOST:
            check.require(bool(reason), "reason", "is required when the opportunity is lost")
        check.require(
            len(reason) <= MAX_CLOSE_REASON_LENGTH,
            "reason",
            f"must be at most {MAX_CLOSE_REASON_LENGTH} characters",
        )
        check.require(is_text(reason), "reason", "must not contain control characters")
        check.raise_if_invalid()
        named = stages.get(stage_name) if stage_name else stages.first_closing_as(outcome)
        stage = ensure_stage(
            named if named is not None and named.closes_as(outcome) else None,
            f"must be empty or a {outcome.value} stage, one of {stages.names_closing_as(outcome)}",
        )
        if self.status is not OpportunityStatus.OPEN:
            if (self.sales_stage, self.close_reason) == (stage.name, reason):
                return False
            raise FailedPrecondition(
                f"opportunity {self.id} is already closed as {self.status.value} in {self.sales_stage!r}; "
                "reopen it first",
                reason="ALREADY_CLOSED",
            )
        timestamp = now or datetime.now(UTC)
        before, previous_stage = self._observed(), self.sales_stage
        self._enter(stage)
        self.close_reason, self.close_time = reason, timestamp
        return self._record(before, previous_stage, ChangeKind.CLOSED, timestamp)

    def reopen(self, stage_name: str, stages: SalesStageCatalog, *, now: datetime | None = None) -> bool:
        """Move a closed deal back into an open stage; it forgets why and when it was closed."""
        check = Validator()
        check_stage_name(check, stage_name)
        check.raise_if_invalid()
        named = stages.get(stage_name)
        stage = ensure_stage(
            named if named is not None and not named.is_closed else None,
            f"must be an open stage, one of {stages.open_names()}",
        )
        if self.status is OpportunityStatus.OPEN:
            raise FailedPrecondition(
                f"opportunity {self.id} is open; only closed opportunities are reopened",
                reason="NOT_CLOSED",
            )
        before, previous_stage = self._observed(), self.sales_stage
        self._enter(stage)
        self.close_reason, self.close_time = "", None
        return self._record(before, previous_stage, ChangeKind.REOPENED, now)

    def reassign(self, new_owner_user_id: str, *, now: datetime | None = None) -> bool:
        check = Validator()
        check_owner(check, "new_owner_user_id", new_owner_user_id)
        check.raise_if_invalid()
        before = self._observed()
        self.owner_user_id = new_owner_user_id
        return self._record(before, self.sales_stage, ChangeKind.REASSIGNED, now)

    def delete(self, *, now: datetime | None = None) -> None:
        """Raise the final event, carrying the last state under the next version."""
        self.version += 1
        self.updated_at = now or datetime.now(UTC)
        self.events.append(OpportunityChanged(self.snapshot(), ChangeKind.DELETED))

    def follow_stage_default(self, stages: SalesStageCatalog, *, now: datetime | None = None) -> bool:
        """After a catalog change: an open deal whose probability follows its stage takes the new
        default. Closed deals keep the probability they were closed with."""
        if self.status is not OpportunityStatus.OPEN or self.probability_source is ProbabilitySource.MANUAL:
            return False
        before = self._observed()
        self.probability = _stage(stages, self.sales_stage).default_probability
        return self._record(before, self.sales_stage, ChangeKind.REVALUED, now)

    def revalue(
        self, rate: AppliedRate, converter: CurrencyConverter, *, now: datetime | None = None
    ) -> bool:
        """After an exchange-rate change: value the deal with `rate`, now in effect on its close date."""
        valuation = value_in_base(
            currency=self.amount.currency,
            amounts=(self.amount.amount_minor, self.best_case_minor, self.worst_case_minor),
            rate=rate,
            base_currency=converter.base_currency,
        )
        if valuation is None:
            raise FailedPrecondition(
                f"at rate {rate.rate} opportunity {self.id} would be worth more than the largest "
                "amount in the base currency",
                reason="AMOUNT_OUT_OF_RANGE",
            )
        before = self._observed()
        self.valuation = valuation
        return self._record(before, self.sales_stage, ChangeKind.REVALUED, now)

    def snapshot(self) -> Opportunity:
        return replace(self, events=[])

    def _enter(self, stage: SalesStage) -> None:
        self.sales_stage, self.status = stage.name, status_of(stage)
        if self.probability_source is ProbabilitySource.STAGE:
            self.probability = stage.default_probability

    def _case_after(
        self,
        check: Validator,
        field: str,
        change: CaseChange | None,
        amount: Money,
        current_minor: int,
        current_manual: bool,
    ) -> tuple[int, bool]:
        """The best or worst case after an update: (amount_minor, set by hand)."""
        if change is None:
            if current_manual and amount.currency != self.amount.currency:
                check.fail(
                    field,
                    f"was set by hand in {self.amount.currency}; set it again in {amount.currency} "
                    "(or make it follow the amount) when changing the currency",
                )
            return (current_minor, True) if current_manual else (amount.amount_minor, False)
        if change.follows_amount:
            return amount.amount_minor, False
        if change.currency not in ("", amount.currency):
            check.fail(f"{field}.currency_code", f"must be empty or the amount's currency {amount.currency}")
        return change.amount_minor, True

    def _rate_for(self, currency: str, on: date, converter: CurrencyConverter) -> AppliedRate:
        # Every exchange-rate change revalues the deals it governs in the same transaction, so the
        # stored rate is current as long as the currency and the close date stay the same.
        held = self.valuation
        if (
            held is not None
            and held.base_currency == converter.base_currency
            and currency == self.amount.currency
            and on == self.expected_close_date
        ):
            return held.rate
        return converter.rate_for(currency, on)

    def _observed(self) -> dict[str, object]:
        """The contract's Opportunity fields (in field-number order) as far as a change can touch
        them; version and update time change with every event and are left out."""
        valuation = self.valuation
        return {
            "name": self.name,
            "owner_user_id": self.owner_user_id,
            "amount": self.amount,
            "expected_close_date": self.expected_close_date,
            "sales_stage": self.sales_stage,
            "probability": self.probability,
            "probability_source": self.probability_source,
            "status": self.status,
            "account_name": self.account_name,
            "amount_base": valuation and (valuation.base_currency, valuation.amount_base_minor),
            "exchange_rate": valuation and valuation.rate.rate,
            "exchange_rate_effective_date": valuation and valuation.rate.effective_from,
            "best_case": (self.amount.currency, self.best_case_minor),
            "worst_case": (self.amount.currency, self.worst_case_minor),
            "best_case_manual": self.best_case_manual,
            "worst_case_manual": self.worst_case_manual,
            "next_step": self.next_step,
            "lead_source_id": self.lead_source_id,
            "campaign_id": self.campaign_id,
            "lead_id": self.lead_id,
            "close_reason": self.close_reason,
            "close_time": self.close_time,
            "best_case_base": valuation and (valuation.base_currency, valuation.best_case_base_minor),
            "worst_case_base": valuation and (valuation.base_currency, valuation.worst_case_base_minor),
        }

    def _record(
        self, before: dict[str, object], previous_stage: str, kind: ChangeKind, now: datetime | None
    ) -> bool:
        after = self._observed()
        changed = tuple(name for name, value in after.items() if before[name] != value)
        if not changed:
            return False
        self.version += 1
        self.updated_at = now or datetime.now(UTC)
        moved = previous_stage if previous_stage != self.sales_stage else None
        self.events.append(OpportunityChanged(self.snapshot(), kind, changed, moved))
        return True


def _stage(stages: SalesStageCatalog, name: str) -> SalesStage:
    stage = stages.get(name)
    if stage is None:
        # Stages in use cannot be removed, so only a broken database gets here.
        raise FailedPrecondition(f"sales stage {name!r} is not configured", reason="UNKNOWN_STAGE")
    return stage


def _valuation(
    amount: Money, best: int, worst: int, rate: AppliedRate, converter: CurrencyConverter
) -> Valuation:
    valuation = value_in_base(
        currency=amount.currency,
        amounts=(amount.amount_minor, best, worst),
        rate=rate,
        base_currency=converter.base_currency,
    )
    if valuation is None:
        raise InvalidArgument(
            FieldViolation(
                "amount.amount_minor",
                f"converted at {rate.rate} to {converter.base_currency}, the amount (or its best or "
                "worst case) exceeds the largest amount",
            )
        )
    return valuation
