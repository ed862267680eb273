"""Scoring rules: each criterion, the 0..100 cap, the breakdown, and the validation of rule sets."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from salesplane_leads.domain.qualification import Authority, Need, Qualification
from salesplane_leads.domain.scoring import (
    ScoredFacts,
    ScoringCriterion,
    ScoringRule,
    ScoringRuleInput,
    ScoringRules,
    score,
    validated_rules,
)
from salesplane_platform.errors import Conflict, InvalidArgument
from salesplane_platform.money import Money, MoneyInput

C = ScoringCriterion
SOURCE = "0b7cc7e5-6a43-4bb4-a1c4-1e0d0f6f5b1a"
QUALIFIED_ON = date(2031, 5, 17)


def facts(qualification: Qualification | None = None, **values: object) -> ScoredFacts:
    defaults: dict[str, object] = {
        "has_email": False,
        "has_phone": False,
        "lead_source_id": "",
        "qualification": qualification,
        "qualified_on": QUALIFIED_ON if qualification else None,
    }
    return ScoredFacts(**{**defaults, **values})  # type: ignore[arg-type]


def matches(rule: ScoringRule, scored: ScoredFacts) -> bool:
    return score([rule], scored).breakdown[0].matched


BUDGET = ScoringRule("b", "", C.BUDGET_AT_LEAST, 10, min_budget=Money("EUR", 10_000_00))


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        (Money("EUR", 10_000_00), True),
        (Money("EUR", 20_000_00), True),
        (Money("EUR", 9_999_99), False),
        (Money("USD", 50_000_00), False),
        (None, False),
    ],
)
def test_budget_at_least_matches_only_in_the_same_currency(budget: Money | None, expected: bool) -> None:
    assert matches(BUDGET, facts(Qualification(budget=budget))) is expected


@pytest.mark.parametrize(
    ("authority", "expected"),
    [
        (Authority.DECISION_MAKER, True),
        (Authority.INFLUENCER, True),
        (Authority.NONE, False),
        (Authority.UNKNOWN, False),
    ],
)
def test_authority_at_least_compares_levels(authority: Authority, expected: bool) -> None:
    rule = ScoringRule("a", "", C.AUTHORITY_AT_LEAST, 10, authority=Authority.INFLUENCER)
    assert matches(rule, facts(Qualification(authority=authority))) is expected


def test_an_unknown_authority_or_need_never_matches_even_the_lowest_level() -> None:
    assert not matches(
        ScoringRule("a", "", C.AUTHORITY_AT_LEAST, 1, authority=Authority.NONE), facts(Qualification())
    )
    assert not matches(ScoringRule("n", "", C.NEED_AT_LEAST, 1, need=Need.NONE), facts(Qualification()))
    assert matches(
        ScoringRule("n", "", C.NEED_AT_LEAST, 1, need=Need.NONE), facts(Qualification(need=Need.NONE))
    )


@pytest.mark.parametrize(
    ("need", "expected"), [(Need.HIGH, True), (Need.MEDIUM, True), (Need.LOW, False), (Need.UNKNOWN, False)]
)
def test_need_at_least_compares_levels(need: Need, expected: bool) -> None:
    rule = ScoringRule("n", "", C.NEED_AT_LEAST, 10, need=Need.MEDIUM)
    assert matches(rule, facts(Qualification(need=need))) is expected


@pytest.mark.parametrize(
    ("timeline", "expected"),
    [
        (date(2031, 5, 17), True),
        (date(2031, 8, 15), True),
        (date(2031, 8, 16), False),
        (date(2031, 5, 16), False),
        (None, False),
    ],
)
def test_timeline_within_days_counts_from_the_day_of_qualification(
    timeline: date | None, expected: bool
) -> None:
    rule = ScoringRule("t", "", C.TIMELINE_WITHIN_DAYS, 10, within_days=90)
    assert matches(rule, facts(Qualification(timeline=timeline))) is expected


def test_contact_and_source_criteria_need_no_qualification() -> None:
    assert matches(ScoringRule("e", "", C.HAS_EMAIL, 5), facts(has_email=True))
    assert not matches(ScoringRule("e", "", C.HAS_EMAIL, 5), facts())
    assert matches(ScoringRule("p", "", C.HAS_PHONE, 5), facts(has_phone=True))
    assert matches(
        ScoringRule("s", "", C.FROM_SOURCE, 5, lead_source_id=SOURCE), facts(lead_source_id=SOURCE)
    )
    assert not matches(ScoringRule("s", "", C.FROM_SOURCE, 5, lead_source_id=SOURCE), facts())


def test_qualification_criteria_do_not_match_an_unqualified_lead() -> None:
    rules = [
        BUDGET,
        ScoringRule("a", "", C.AUTHORITY_AT_LEAST, 10, authority=Authority.NONE),
        ScoringRule("t", "", C.TIMELINE_WITHIN_DAYS, 10, within_days=90),
    ]
    assert score(rules, facts()).value == 0


def test_the_score_sums_matched_points_and_lists_every_rule() -> None:
    rules = [
        ScoringRule("e", "E-mail", C.HAS_EMAIL, 30),
        ScoringRule("p", "Phone", C.HAS_PHONE, 20),
        ScoringRule("x", "Budget", C.BUDGET_AT_LEAST, 40, min_budget=Money("EUR", 1)),
    ]

    result = score(rules, facts(has_email=True, has_phone=True))

    assert result.value == 50
    assert [(c.rule_id, c.description, c.points, c.matched) for c in result.breakdown] == [
        ("e", "E-mail", 30, True),
        ("p", "Phone", 20, True),
        ("x", "Budget", 40, False),
    ]


def test_the_score_is_capped_to_0_and_100() -> None:
    high = [ScoringRule(f"e{i}", "", C.HAS_EMAIL, 60) for i in range(3)]
    low = [ScoringRule("e", "", C.HAS_EMAIL, 10), ScoringRule("p", "", C.HAS_EMAIL, -50)]

    assert score(high, facts(has_email=True)).value == 100
    assert score(low, facts(has_email=True)).value == 0


def rule_input(**values: object) -> ScoringRuleInput:
    defaults: dict[str, object] = {"id": "r", "description": "d", "criterion": C.HAS_EMAIL, "points": 5}
    return ScoringRuleInput(**{**defaults, **values})  # type: ignore[arg-type]


def violations(*inputs: ScoringRuleInput, source_exists: bool = True) -> list[str]:
    with pytest.raises(InvalidArgument) as error:
        validated_rules(list(inputs), source_exists=lambda _: source_exists)
    return [v.field for v in error.value.violations]


def test_valid_rules_of_every_criterion_are_accepted() -> None:
    rules = validated_rules(
        [
            rule_input(id="b", criterion=C.BUDGET_AT_LEAST, min_budget=MoneyInput("EUR", 100)),
            rule_input(id="a", criterion=C.AUTHORITY_AT_LEAST, authority=Authority.INFLUENCER),
            rule_input(id="n", criterion=C.NEED_AT_LEAST, need=Need.LOW),
            rule_input(id="t", criterion=C.TIMELINE_WITHIN_DAYS, within_days=30),
            rule_input(id="e", criterion=C.HAS_EMAIL),
            rule_input(id="p", criterion=C.HAS_PHONE, points=-5),
            rule_input(id="s", criterion=C.FROM_SOURCE, lead_source_id=SOURCE, description="  From web "),
        ],
        source_exists=lambda _: True,
    )

    assert [rule.id for rule in rules] == ["b", "a", "n", "t", "e", "p", "s"]
    assert rules[0].min_budget == Money("EUR", 100)
    assert rules[-1].description == "From web"


def test_an_empty_rule_set_is_allowed() -> None:
    assert validated_rules([], source_exists=lambda _: True) == ()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"id": ""}, "rules[0].id"),
        ({"id": "Has Email"}, "rules[0].id"),
        ({"points": 101}, "rules[0].points"),
        ({"points": -101}, "rules[0].points"),
        ({"criterion": None}, "rules[0].criterion"),
        ({"description": "x" * 201}, "rules[0].description"),
        ({"criterion": C.BUDGET_AT_LEAST}, "rules[0].min_budget"),
        (
            {"criterion": C.BUDGET_AT_LEAST, "min_budget": MoneyInput("XXX", 1)},
            "rules[0].min_budget.currency_code",
        ),
        ({"criterion": C.AUTHORITY_AT_LEAST}, "rules[0].authority"),
        ({"criterion": C.NEED_AT_LEAST}, "rules[0].need"),
        ({"criterion": C.TIMELINE_WITHIN_DAYS}, "rules[0].within_days"),
        ({"criterion": C.TIMELINE_WITHIN_DAYS, "within_days": 3651}, "rules[0].within_days"),
        ({"criterion": C.FROM_SOURCE}, "rules[0].lead_source_id"),
        ({"criterion": C.FROM_SOURCE, "lead_source_id": "web"}, "rules[0].lead_source_id"),
        ({"need": Need.HIGH}, "rules[0].need"),
        ({"within_days": 3}, "rules[0].within_days"),
    ],
)
def test_an_invalid_rule_is_reported_by_index_and_field(values: dict[str, object], field: str) -> None:
    assert violations(rule_input(**values)) == [field]


def test_a_from_source_rule_needs_an_existing_lead_source() -> None:
    rule = rule_input(criterion=C.FROM_SOURCE, lead_source_id=SOURCE)
    assert violations(rule, source_exists=False) == ["rules[0].lead_source_id"]


def test_rule_ids_are_unique() -> None:
    assert violations(rule_input(id="same"), rule_input(id="same")) == ["rules[1].id"]


def test_at_most_100_rules() -> None:
    assert violations(*[rule_input(id=f"r{i}") for i in range(101)]) == ["rules"]


def test_replacing_rules_bumps_the_revision_and_raises_one_event() -> None:
    now = datetime(2031, 5, 17, tzinfo=UTC)
    rules = ScoringRules((), 3, now)
    new = (ScoringRule("e", "", C.HAS_EMAIL, 5),)

    rules.replace(new, expected_revision=3, now=now)

    assert (rules.rules, rules.revision) == (new, 4)
    assert [(e.rules.revision, e.rules.rules) for e in rules.events] == [(4, new)]


def test_replacing_rules_at_a_stale_revision_is_a_conflict() -> None:
    rules = ScoringRules((), 3, datetime(2031, 5, 17, tzinfo=UTC))

    with pytest.raises(Conflict):
        rules.replace((), expected_revision=2, now=datetime.now(UTC))
    assert rules.revision == 3
