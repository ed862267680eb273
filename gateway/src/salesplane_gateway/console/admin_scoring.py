"""Admin / lead scoring rules: each rule awards points when a lead meets its criterion (budget at
least, authority or need at least, timeline within days, has e-mail or phone, from a source); a
lead's score is the sum, capped to 0..100. The list is replaced whole with ReplaceScoringRules at
the revision it was read at.

Every rule shows every criterion's parameter (no script hides them); only the one its criterion
uses is read and sent, so a stray value in another box neither fails nor sneaks in."""

from __future__ import annotations

from flask import Blueprint, request
from werkzeug.wrappers import Response

from salesplane.common.v1.common_pb2 import Money
from salesplane.leads.v1 import leads_pb2
from salesplane_gateway.console.admin_forms import FormCheck, refused, row_names
from salesplane_gateway.console.localisation import gettext, major_units, minor_units
from salesplane_gateway.console.pages import call, page, require_user, see_other
from salesplane_gateway.problems import Problem
from salesplane_gateway.routes_leads import LEADS
from salesplane_platform.money import CURRENCY_EXPONENTS

EMPTY_ROWS = 2
MAX_ROWS = 110
COLUMNS = (
    "id",
    "description",
    "criterion",
    "points",
    "budget",
    "currency",
    "authority",
    "need",
    "days",
    "source",
)
CRITERIA = {
    "budget": leads_pb2.SCORING_CRITERION_BUDGET_AT_LEAST,
    "authority": leads_pb2.SCORING_CRITERION_AUTHORITY_AT_LEAST,
    "need": leads_pb2.SCORING_CRITERION_NEED_AT_LEAST,
    "timeline": leads_pb2.SCORING_CRITERION_TIMELINE_WITHIN_DAYS,
    "email": leads_pb2.SCORING_CRITERION_HAS_EMAIL,
    "phone": leads_pb2.SCORING_CRITERION_HAS_PHONE,
    "source": leads_pb2.SCORING_CRITERION_FROM_SOURCE,
}
AUTHORITIES = {
    "none": leads_pb2.AUTHORITY_NONE,
    "influencer": leads_pb2.AUTHORITY_INFLUENCER,
    "decision_maker": leads_pb2.AUTHORITY_DECISION_MAKER,
}
NEEDS = {
    "none": leads_pb2.NEED_NONE,
    "low": leads_pb2.NEED_LOW,
    "medium": leads_pb2.NEED_MEDIUM,
    "high": leads_pb2.NEED_HIGH,
}
_RULE = leads_pb2.ScoringRule.DESCRIPTOR
# The service's field names within a rule, as this form's columns.
_SERVICE_COLUMNS = {
    "id": "rule-id",
    "description": "rule-description",
    "criterion": "rule-criterion",
    "points": "rule-points",
    "min_budget": "rule-budget",
    "min_budget.amount_minor": "rule-budget",
    "min_budget.currency_code": "rule-currency",
    "authority": "rule-authority",
    "need": "rule-need",
    "within_days": "rule-days",
    "lead_source_id": "rule-source",
}

Row = dict[str, str]


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/admin/scoring", "admin_scoring", require_user(_scoring), methods=["GET", "POST"])


def _scoring() -> Response:
    if request.method == "GET":
        stored = call(LEADS.rpc("GetScoringRules"), leads_pb2.GetScoringRulesRequest())
        rows = [_row_of(rule) for rule in stored.rules] + [_blank() for _ in range(EMPTY_ROWS)]
        notice = gettext("Scoring rules saved.") if request.args.get("done") == "saved" else ""
        return _page(rows, str(stored.revision), {}, notice=notice)
    rows = _posted_rows()
    revision = request.form.get("revision", "0")
    checked = FormCheck()
    rules, sent_rows = _rules_of(rows, checked)
    if not checked.ok():
        return _page(rows, revision, checked.errors, status=422)
    try:
        call(
            LEADS.rpc("ReplaceScoringRules"),
            leads_pb2.ReplaceScoringRulesRequest(
                rules=rules, expected_revision=int(revision) if revision.isdigit() else 0
            ),
        )
    except Problem as problem:
        errors = refused(problem, row_names(problem, "rules", sent_rows, _SERVICE_COLUMNS), shown=["rules"])
        if problem.status == 409:
            revision = str(call(LEADS.rpc("GetScoringRules"), leads_pb2.GetScoringRulesRequest()).revision)
        return _page(rows, revision, errors, status=409 if problem.status == 409 else 422)
    return see_other("console.admin_scoring", done="saved")


def _blank() -> Row:
    return dict.fromkeys(COLUMNS, "")


def _row_of(rule: leads_pb2.ScoringRule) -> Row:
    criteria = {value: name for name, value in CRITERIA.items()}
    authorities = {value: name for name, value in AUTHORITIES.items()}
    needs = {value: name for name, value in NEEDS.items()}
    budget = rule.min_budget
    return {
        "id": rule.id,
        "description": rule.description,
        "criterion": criteria.get(rule.criterion, ""),
        "points": str(rule.points),
        "budget": major_units(budget.amount_minor, budget.currency_code) if budget.currency_code else "",
        "currency": budget.currency_code,
        "authority": authorities.get(rule.authority, ""),
        "need": needs.get(rule.need, ""),
        "days": str(rule.within_days) if rule.within_days else "",
        "source": rule.lead_source_id,
    }


def _posted_rows() -> list[Row]:
    form = request.form
    count = min(int(form["rows"]), MAX_ROWS) if form.get("rows", "").isdigit() else 0
    return [{column: form.get(f"rule-{column}-{i}", "") for column in COLUMNS} for i in range(count)]


def _rules_of(rows: list[Row], checked: FormCheck) -> tuple[list[leads_pb2.ScoringRule], list[int]]:
    rules: list[leads_pb2.ScoringRule] = []
    sent_rows: list[int] = []
    for index, row in enumerate(rows):
        if not (row["id"].strip() or row["description"].strip() or row["criterion"] or row["points"].strip()):
            continue
        rules.append(_rule_of(index, row, checked))
        sent_rows.append(index)
    return rules, sent_rows


def _rule_of(index: int, row: Row, checked: FormCheck) -> leads_pb2.ScoringRule:
    def name(column: str) -> str:
        return f"rule-{column}-{index}"

    criterion = row["criterion"]
    rule = leads_pb2.ScoringRule(
        id=checked.text(name("id"), row["id"], _RULE, "id", required=True),
        description=checked.text(name("description"), row["description"], _RULE, "description"),
        criterion=CRITERIA.get(criterion, leads_pb2.SCORING_CRITERION_UNSPECIFIED),
        points=checked.whole(name("points"), row["points"], _RULE, "points") or 0,
    )
    if criterion not in CRITERIA:
        checked.fail(name("criterion"), gettext("Choose a criterion from the list."))
    elif criterion == "budget":
        rule.min_budget.CopyFrom(_budget(index, row, checked))
    elif criterion == "authority":
        if row["authority"] not in AUTHORITIES:
            checked.fail(name("authority"), gettext("Choose the authority this rule asks for."))
        rule.authority = AUTHORITIES.get(row["authority"], leads_pb2.AUTHORITY_UNSPECIFIED)
    elif criterion == "need":
        if row["need"] not in NEEDS:
            checked.fail(name("need"), gettext("Choose the need this rule asks for."))
        rule.need = NEEDS.get(row["need"], leads_pb2.NEED_UNSPECIFIED)
    elif criterion == "timeline":
        rule.within_days = checked.whole(name("days"), row["days"], _RULE, "within_days") or 0
    elif criterion == "source":
        if not row["source"]:
            checked.fail(name("source"), gettext("Choose the lead source this rule asks for."))
        rule.lead_source_id = row["source"]
    return rule


def _budget(index: int, row: Row, checked: FormCheck) -> Money:
    currency = row["currency"].strip().upper()
    if currency not in CURRENCY_EXPONENTS:
        checked.fail(f"rule-currency-{index}", gettext("Enter a three-letter ISO 4217 code such as EUR."))
        return Money()
    if not row["budget"].strip():
        checked.fail(f"rule-budget-{index}", gettext("Enter the least budget that scores."))
        return Money()
    try:
        amount = minor_units(row["budget"], currency)
    except ValueError:
        checked.fail(
            f"rule-budget-{index}",
            gettext("Enter an amount in %(currency)s such as 1000.00.", currency=currency),
        )
        return Money()
    if amount < 0:
        checked.fail(f"rule-budget-{index}", gettext("Enter an amount of zero or more."))
    return Money(currency_code=currency, amount_minor=amount)


def _page(
    rows: list[Row], revision: str, errors: dict[str, str], *, status: int = 200, notice: str = ""
) -> Response:
    sources = call(LEADS.rpc("ListLeadSources"), leads_pb2.ListLeadSourcesRequest()).lead_sources
    return page(
        "console/admin_scoring.html",
        status=status,
        title=gettext("Lead scoring rules"),
        rows=rows,
        revision=revision,
        errors=errors,
        notice=notice,
        criteria=[
            ("", gettext("Choose…")),
            ("budget", gettext("Budget at least")),
            ("authority", gettext("Authority at least")),
            ("need", gettext("Need at least")),
            ("timeline", gettext("Timeline within days")),
            ("email", gettext("Has an e-mail address")),
            ("phone", gettext("Has a phone number")),
            ("source", gettext("From a lead source")),
        ],
        authorities=[
            ("", "—"),
            ("none", gettext("None")),
            ("influencer", gettext("Influencer")),
            ("decision_maker", gettext("Decision maker")),
        ],
        needs=[
            ("", "—"),
            ("none", gettext("None")),
            ("low", gettext("Low")),
            ("medium", gettext("Medium")),
            ("high", gettext("High")),
        ],
        sources=[("", "—")] + [(source.id, source.name) for source in sources],
    )
