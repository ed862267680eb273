"""Where leads come from: lead sources (a channel such as the web site or a trade show) and the
campaigns run through them, with their budget and the costs actually incurred. Reporting derives
cost per lead, conversion rate and return on investment per channel and campaign from their events."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import Enum
from typing import Literal, get_args

from salesplane_leads.domain.money_and_dates import check_date, check_money
from salesplane_platform.errors import (
    Conflict,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    Validator,
)
from salesplane_platform.identifiers import new_id
from salesplane_platform.money import Money, MoneyInput
from salesplane_platform.text_rules import check_text

MAX_NAME_LENGTH = 100
MAX_COST_NOTE_LENGTH = 500
MAX_REQUEST_ID_LENGTH = 128


class Channel(Enum):
    WEB = "web"
    EMAIL = "email"
    EVENT = "event"
    REFERRAL = "referral"
    PAID_SEARCH = "paid_search"
    SOCIAL = "social"
    PARTNER = "partner"
    COLD_CALL = "cold_call"
    OTHER = "other"


def name_key(name: str) -> str:
    """Names are unique case-insensitively."""
    return " ".join(name.casefold().split())


def _check_name(check: Validator, name: str) -> None:
    check_text(check, "name", name, MAX_NAME_LENGTH, required=True)


@dataclass(frozen=True)
class LeadSourceChanged:
    lead_source: LeadSource


@dataclass
class LeadSource:
    id: str
    name: str
    channel: Channel
    version: int
    created_at: datetime
    events: list[LeadSourceChanged] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def create(cls, *, name: str, channel: Channel | None, now: datetime | None = None) -> LeadSource:
        name = name.strip()
        check = Validator()
        _check_name(check, name)
        check.require(channel is not None, "channel", "must be set")
        check.raise_if_invalid()
        assert channel is not None
        source = cls(new_id(), name, channel, 1, now or datetime.now(UTC))
        source.events.append(LeadSourceChanged(replace(source, events=[])))
        return source


@dataclass(frozen=True)
class CostEntry:
    id: str
    incurred_on: date
    amount: Money
    note: str
    recorded_at: datetime
    request_id: str


@dataclass(frozen=True)
class CampaignChanged:
    campaign: Campaign


# Literal names, so the adapters can hand them to the contract's HasField, which accepts only those.
PlanField = Literal["name", "budget", "expected_cost", "expected_revenue", "start_date", "end_date"]
PLAN_FIELDS: tuple[PlanField, ...] = get_args(PlanField)


@dataclass(frozen=True)
class CampaignPlan:
    """The plannable values of a campaign as a caller sent them. Only the names in `given` count;
    a given money left None is cleared (or missing, when required), a given date left None is an
    impossible one."""

    given: frozenset[str] = frozenset()
    name: str = ""
    budget: MoneyInput | None = None
    expected_cost: MoneyInput | None = None
    expected_revenue: MoneyInput | None = None
    start_date: date | None = None
    end_date: date | None = None


@dataclass(frozen=True)
class _PlannedValues:
    name: str
    budget: Money
    expected_cost: Money | None
    expected_revenue: Money | None
    start_date: date
    end_date: date


@dataclass
class Campaign:
    id: str
    name: str
    lead_source_id: str
    channel: Channel
    # Every amount of a campaign is in the budget's currency, so they add up and compare.
    budget: Money
    expected_cost: Money | None
    expected_revenue: Money | None
    start_date: date
    end_date: date
    cost_entries: tuple[CostEntry, ...]
    version: int
    created_at: datetime
    updated_at: datetime
    events: list[CampaignChanged] = field(default_factory=list, compare=False, repr=False)

    @property
    def currency(self) -> str:
        return self.budget.currency

    @property
    def actual_cost(self) -> Money:
        return Money(self.currency, sum(entry.amount.amount_minor for entry in self.cost_entries))

    @classmethod
    def create(
        cls, *, plan: CampaignPlan, source: LeadSource, channel: Channel | None, now: datetime | None = None
    ) -> Campaign:
        """A new campaign through `source`; without a channel it takes the source's."""
        values = _planned(plan, current=None)
        timestamp = now or datetime.now(UTC)
        campaign = cls(
            id=new_id(),
            name=values.name,
            lead_source_id=source.id,
            channel=channel or source.channel,
            budget=values.budget,
            expected_cost=values.expected_cost,
            expected_revenue=values.expected_revenue,
            start_date=values.start_date,
            end_date=values.end_date,
            cost_entries=(),
            version=1,
            created_at=timestamp,
            updated_at=timestamp,
        )
        campaign.events.append(CampaignChanged(replace(campaign, events=[])))
        return campaign

    def revise(self, plan: CampaignPlan, *, now: datetime | None = None) -> bool:
        """Change the given plannable values; every amount stays in one currency."""
        values = _planned(plan, current=self)
        if self.cost_entries and values.budget.currency != self.currency:
            raise FailedPrecondition(
                f"campaign {self.id} has costs recorded in {self.currency}, so its budget stays in"
                f" {self.currency}",
                reason="CAMPAIGN_CURRENCY_FIXED",
            )
        current = _PlannedValues(
            self.name, self.budget, self.expected_cost, self.expected_revenue, self.start_date, self.end_date
        )
        if values == current:
            return False
        self.name, self.budget = values.name, values.budget
        self.expected_cost, self.expected_revenue = values.expected_cost, values.expected_revenue
        self.start_date, self.end_date = values.start_date, values.end_date
        self._changed(now or datetime.now(UTC))
        return True

    def ensure_version(self, expected_version: int | None) -> None:
        if expected_version is not None and expected_version != self.version:
            raise Conflict(f"campaign {self.id} is at version {self.version}, not {expected_version}")

    def record_cost(
        self,
        *,
        incurred_on: date | None,
        amount: MoneyInput | None,
        note: str,
        request_id: str,
        now: datetime | None = None,
    ) -> bool:
        """Add a cost entry unless one with this request id exists (then nothing changes)."""
        note, request_id = note.strip(), request_id.strip()
        check_cost_entry(incurred_on=incurred_on, amount=amount, note=note, request_id=request_id)
        if any(entry.request_id == request_id for entry in self.cost_entries):
            return False
        assert incurred_on is not None and amount is not None
        if amount.currency != self.currency:
            raise InvalidArgument(
                FieldViolation("amount.currency_code", f"must be the campaign's currency, {self.currency}")
            )
        timestamp = now or datetime.now(UTC)
        entry = CostEntry(
            new_id(), incurred_on, Money(amount.currency, amount.amount_minor), note, timestamp, request_id
        )
        self.cost_entries = (*self.cost_entries, entry)
        self._changed(timestamp)
        return True

    def _changed(self, now: datetime) -> None:
        self.version += 1
        self.updated_at = now
        self.events.append(CampaignChanged(replace(self, events=[])))


def check_cost_entry(
    *, incurred_on: date | None, amount: MoneyInput | None, note: str, request_id: str
) -> None:
    """Everything about a cost entry that can be checked without its campaign."""
    check = Validator()
    check_date(check, "incurred_on", incurred_on)
    if amount is None:
        check.fail("amount", "must be set")
    else:
        check_money(check, "amount", amount, positive=True)
    check_text(check, "note", note.strip(), MAX_COST_NOTE_LENGTH)
    check_text(check, "request_id", request_id.strip(), MAX_REQUEST_ID_LENGTH, required=True)
    check.raise_if_invalid()


def check_new_plan(plan: CampaignPlan) -> None:
    """Everything about a new campaign that can be checked without its lead source."""
    _planned(plan, current=None)


def _planned(plan: CampaignPlan, *, current: Campaign | None) -> _PlannedValues:
    """The campaign's values after the plan, all checked (every violation reported at once)."""
    check = Validator()
    given = plan.given

    # Creating, every required value counts as given, so a missing one is reported.
    if current is None:
        given = given | {"name", "budget", "start_date", "end_date"}

    name = plan.name.strip() if "name" in given else current.name if current else ""
    if "name" in given:
        check_text(check, "name", name, MAX_NAME_LENGTH, required=True)

    budget = current.budget if current else None
    if "budget" in given:
        budget = None
        if plan.budget is None:
            check.fail("budget", "must be set")
        else:
            budget = check_money(check, "budget", plan.budget)

    expected: dict[str, Money | None] = {}
    for label in ("expected_cost", "expected_revenue"):
        expected[label] = getattr(current, label) if current else None
        if label in given:
            money_input: MoneyInput | None = getattr(plan, label)
            expected[label] = check_money(check, label, money_input) if money_input else None
            if money_input and expected[label] is None:
                continue
        amount = expected[label]
        if budget is not None and amount is not None and amount.currency != budget.currency:
            check.fail(f"{label}.currency_code", f"must be the budget's currency, {budget.currency}")

    dates: dict[str, date | None] = {}
    for label in ("start_date", "end_date"):
        dates[label] = getattr(current, label) if current else None
        if label in given:
            value: date | None = getattr(plan, label)
            if value is None and label not in plan.given:
                check.fail(label, "must be set")
            elif check_date(check, label, value):
                dates[label] = value
            else:
                dates[label] = None
    start, end = dates["start_date"], dates["end_date"]
    if start is not None and end is not None and end < start:
        check.fail("end_date", f"must not be before the start date {start}")

    check.raise_if_invalid()
    assert budget is not None and start is not None and end is not None
    return _PlannedValues(name, budget, expected["expected_cost"], expected["expected_revenue"], start, end)
