"""Lead scoring: configurable rules, each worth some points when it matches; the score is the sum of
the matched rules' points, capped to 0..100, and every rule appears in the breakdown.

When scores are computed: whenever a lead's own data changes (created, imported, edited, qualified,
merged), with the rules in force at that moment. Replacing the rules does not re-score existing
leads (that would rewrite, and publish, every lead at once); a lead picks up the new rules at its
next change. TIMELINE_WITHIN_DAYS counts from the day of qualification, not from today, so a score
does not drift while nothing happens to the lead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum

from salesplane_leads.domain.money_and_dates import check_money
from salesplane_leads.domain.qualification import Authority, Need, Qualification
from salesplane_platform.errors import Conflict, Validator
from salesplane_platform.identifiers import is_uuid
from salesplane_platform.money import Money, MoneyInput
from salesplane_platform.text_rules import check_text

MIN_SCORE = 0
MAX_SCORE = 100
MAX_RULES = 100
MAX_RULE_POINTS = 100
MAX_DESCRIPTION_LENGTH = 200
MAX_WITHIN_DAYS = 3650
RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class ScoringCriterion(Enum):
    BUDGET_AT_LEAST = "budget_at_least"
    AUTHORITY_AT_LEAST = "authority_at_least"
    NEED_AT_LEAST = "need_at_least"
    TIMELINE_WITHIN_DAYS = "timeline_within_days"
    HAS_EMAIL = "has_email"
    HAS_PHONE = "has_phone"
    FROM_SOURCE = "from_source"


@dataclass(frozen=True)
class ScoringRule:
    id: str
    description: str
    criterion: ScoringCriterion
    points: int
    min_budget: Money | None = None
    authority: Authority = Authority.UNKNOWN
    need: Need = Need.UNKNOWN
    within_days: int = 0
    lead_source_id: str = ""


@dataclass(frozen=True)
class ScoreComponent:
    rule_id: str
    description: str
    points: int
    matched: bool


@dataclass(frozen=True)
class Score:
    value: int = 0
    breakdown: tuple[ScoreComponent, ...] = ()


@dataclass(frozen=True)
class ScoredFacts:
    """What the rules look at."""

    has_email: bool
    has_phone: bool
    lead_source_id: str
    qualification: Qualification | None
    qualified_on: date | None


def score(rules: Sequence[ScoringRule], facts: ScoredFacts) -> Score:
    breakdown = tuple(
        ScoreComponent(rule.id, rule.description, rule.points, _matches(rule, facts)) for rule in rules
    )
    total = sum(component.points for component in breakdown if component.matched)
    return Score(min(MAX_SCORE, max(MIN_SCORE, total)), breakdown)


def _matches(rule: ScoringRule, facts: ScoredFacts) -> bool:
    qualification = facts.qualification
    match rule.criterion:
        case ScoringCriterion.HAS_EMAIL:
            return facts.has_email
        case ScoringCriterion.HAS_PHONE:
            return facts.has_phone
        case ScoringCriterion.FROM_SOURCE:
            return bool(facts.lead_source_id) and facts.lead_source_id == rule.lead_source_id
        case ScoringCriterion.BUDGET_AT_LEAST:
            budget, minimum = (qualification.budget if qualification else None), rule.min_budget
            return (
                budget is not None
                and minimum is not None
                and budget.currency == minimum.currency
                and budget.amount_minor >= minimum.amount_minor
            )
        case ScoringCriterion.AUTHORITY_AT_LEAST:
            return (
                qualification is not None
                and qualification.authority is not Authority.UNKNOWN
                and qualification.authority.value >= rule.authority.value
            )
        case ScoringCriterion.NEED_AT_LEAST:
            return (
                qualification is not None
                and qualification.need is not Need.UNKNOWN
                and qualification.need.value >= rule.need.value
            )
        case ScoringCriterion.TIMELINE_WITHIN_DAYS:
            if qualification is None or qualification.timeline is None or facts.qualified_on is None:
                return False
            # A timeline already past when qualified is not "within" anything: the date is stale.
            return 0 <= (qualification.timeline - facts.qualified_on).days <= rule.within_days


@dataclass(frozen=True)
class ScoringRuleInput:
    """A rule as a caller sent it, before it is known to be valid."""

    id: str
    description: str
    criterion: ScoringCriterion | None
    points: int
    min_budget: MoneyInput | None = None
    authority: Authority = Authority.UNKNOWN
    need: Need = Need.UNKNOWN
    within_days: int = 0
    lead_source_id: str = ""


# Which parameter each criterion takes; every other parameter must be left unset, so a rule never
# silently ignores part of what its author wrote.
_PARAMETER_OF = {
    ScoringCriterion.BUDGET_AT_LEAST: "min_budget",
    ScoringCriterion.AUTHORITY_AT_LEAST: "authority",
    ScoringCriterion.NEED_AT_LEAST: "need",
    ScoringCriterion.TIMELINE_WITHIN_DAYS: "within_days",
    ScoringCriterion.FROM_SOURCE: "lead_source_id",
}


def validated_rules(
    given: Sequence[ScoringRuleInput], *, source_exists: Callable[[str], bool]
) -> tuple[ScoringRule, ...]:
    """Check every rule (reporting all violations at once, as rules[i].field) and return them."""
    check = Validator()
    check.require(len(given) <= MAX_RULES, "rules", f"must be at most {MAX_RULES} rules")
    seen: set[str] = set()
    rules: list[ScoringRule] = []
    for index, rule in enumerate(given[:MAX_RULES]):
        prefix = f"rules[{index}]"
        if check.require(bool(RULE_ID.match(rule.id)), f"{prefix}.id", _RULE_ID_HELP):
            check.require(rule.id not in seen, f"{prefix}.id", f"{rule.id!r} is used by an earlier rule")
            seen.add(rule.id)
        description = rule.description.strip()
        check_text(check, f"{prefix}.description", description, MAX_DESCRIPTION_LENGTH)
        check.require(
            -MAX_RULE_POINTS <= rule.points <= MAX_RULE_POINTS,
            f"{prefix}.points",
            f"must be between {-MAX_RULE_POINTS} and {MAX_RULE_POINTS}",
        )
        if rule.criterion is None:
            check.fail(f"{prefix}.criterion", "must be set")
            continue
        min_budget = _check_parameters(check, prefix, rule, source_exists)
        rules.append(
            ScoringRule(
                id=rule.id,
                description=description,
                criterion=rule.criterion,
                points=rule.points,
                min_budget=min_budget,
                authority=rule.authority,
                need=rule.need,
                within_days=rule.within_days,
                lead_source_id=rule.lead_source_id,
            )
        )
    check.raise_if_invalid()
    return tuple(rules)


_RULE_ID_HELP = "must be 1-64 characters: lower-case letters, digits, _ . - (starting with a letter or digit)"


def _check_parameters(
    check: Validator, prefix: str, rule: ScoringRuleInput, source_exists: Callable[[str], bool]
) -> Money | None:
    assert rule.criterion is not None
    given = {
        "min_budget": rule.min_budget is not None,
        "authority": rule.authority is not Authority.UNKNOWN,
        "need": rule.need is not Need.UNKNOWN,
        "within_days": rule.within_days != 0,
        "lead_source_id": bool(rule.lead_source_id),
    }
    wanted = _PARAMETER_OF.get(rule.criterion)
    for parameter, is_given in given.items():
        if parameter == wanted:
            check.require(is_given, f"{prefix}.{parameter}", f"is required by {rule.criterion.name}")
        elif is_given:
            check.fail(f"{prefix}.{parameter}", f"is not used by {rule.criterion.name}; leave it unset")
    min_budget = None
    if wanted == "min_budget" and rule.min_budget is not None:
        min_budget = check_money(check, f"{prefix}.min_budget", rule.min_budget)
    if wanted == "within_days" and rule.within_days != 0:
        check.require(
            0 < rule.within_days <= MAX_WITHIN_DAYS,
            f"{prefix}.within_days",
            f"must be between 1 and {MAX_WITHIN_DAYS}",
        )
    if (
        wanted == "lead_source_id"
        and rule.lead_source_id
        and check.require(is_uuid(rule.lead_source_id), f"{prefix}.lead_source_id", "must be a UUID")
    ):
        check.require(
            source_exists(rule.lead_source_id), f"{prefix}.lead_source_id", "no lead source has this id"
        )
    return min_budget


@dataclass(frozen=True)
class ScoringRulesChanged:
    rules: ScoringRules


@dataclass
class ScoringRules:
    """The rule set in force; its revision grows with every replacement."""

    rules: tuple[ScoringRule, ...]
    revision: int
    updated_at: datetime
    events: list[ScoringRulesChanged] = field(default_factory=list, compare=False, repr=False)

    def replace(
        self, rules: tuple[ScoringRule, ...], *, expected_revision: int | None, now: datetime
    ) -> None:
        if expected_revision is not None and expected_revision != self.revision:
            raise Conflict(f"the scoring rules are at revision {self.revision}, not {expected_revision}")
        self.rules = rules
        self.revision += 1
        self.updated_at = now
        self.events.append(ScoringRulesChanged(ScoringRules(self.rules, self.revision, now)))
