"""Creating and editing a deal.

Every field is read and checked before any call, and a deal is created or changed by one call, so
a refused form has saved nothing. An edit sends only the fields the user changed, with the version
the form was opened at: when someone else changed the deal in between, the service answers ABORTED
(409, version mismatch) and the form comes back with the user's values still in it, the deal's new
version, and the list of fields whose stored value is no longer what the user started from (the
form carries those starting values in hidden `orig_*` fields)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from flask import Blueprint, request
from google.protobuf.field_mask_pb2 import FieldMask
from werkzeug.wrappers import Response

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.opportunities.v1 import opportunities_pb2 as pb
from salesplane_gateway.console.deal_page import sales_stages
from salesplane_gateway.console.list_filters import (
    FORM_STATUSES,
    FormReader,
    Person,
    amount_text,
    base_currency,
    date_input,
    errors_by_field,
    lead_sources,
    names_of,
    people,
)
from salesplane_gateway.console.localisation import gettext
from salesplane_gateway.console.pages import call, page, require_user, see_other, user
from salesplane_gateway.problems import Problem
from salesplane_gateway.routes_opportunities import OPPORTUNITIES

FIELDS = (
    "name",
    "account_name",
    "owner",
    "amount",
    "currency",
    "close_date",
    "stage",
    "probability",
    "best",
    "worst",
    "next_step",
    "lead_source",
)
_CREATE_FIELDS = {
    "name": "name",
    "account_name": "account_name",
    "owner_user_id": "owner",
    "amount": "amount",
    "amount.currency_code": "currency",
    "expected_close_date": "close_date",
    "sales_stage": "stage",
    "probability": "probability",
    "best_case_minor": "best",
    "worst_case_minor": "worst",
    "next_step": "next_step",
    "lead_source_id": "lead_source",
}
_UPDATE_FIELDS = {
    "opportunity." + path: name
    for path, name in {
        **_CREATE_FIELDS,
        "best_case": "best",
        "worst_case": "worst",
    }.items()
}


@dataclass(frozen=True)
class Choices:
    """What the form's selects offer."""

    open_stages: list[str]
    owners: list[Person]
    sources: list[tuple[str, str]]


@dataclass(frozen=True)
class DealInput:
    """A checked form: each field's value as the form would show it again (to compare with where the
    user started), and the typed values the request is made of."""

    values: dict[str, str]
    amount: Money
    probability: int | None
    best: int | None
    worst: int | None


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/deals/new", "deal_new", require_user(_new), methods=["GET", "POST"])
    blueprint.add_url_rule(
        "/deals/<opportunity_id>/edit", "deal_edit", require_user(_edit), methods=["GET", "POST"]
    )


def values_of(deal: pb.Opportunity) -> dict[str, str]:
    """A stored deal as the form shows it. A probability that follows the stage, and a best or worst
    case that follows the amount, show as empty: that is what leaving them empty means."""
    currency = deal.amount.currency_code
    manual = deal.probability_source == pb.PROBABILITY_SOURCE_MANUAL
    return {
        "name": deal.name,
        "account_name": deal.account_name,
        "owner": deal.owner_user_id,
        "amount": amount_text(deal.amount.amount_minor, currency),
        "currency": currency,
        "close_date": date_input(deal.expected_close_date),
        "stage": deal.sales_stage,
        "probability": str(deal.probability) if manual else "",
        "best": amount_text(deal.best_case.amount_minor, currency) if deal.best_case_manual else "",
        "worst": amount_text(deal.worst_case.amount_minor, currency) if deal.worst_case_manual else "",
        "next_step": deal.next_step,
        "lead_source": deal.lead_source_id,
    }


def read_deal(
    form: Mapping[str, str], choices: Choices, *, closed: bool = False
) -> tuple[DealInput | None, dict[str, str]]:
    reader = FormReader(form)
    descriptor = pb.CreateOpportunityRequest.DESCRIPTOR
    name = reader.text("name", descriptor, "name", required=True)
    account = reader.text("account_name", descriptor, "account_name")
    owner = reader.choice("owner", [person.user_id for person in choices.owners]) or user().user_id
    currency = reader.currency("currency")
    amount = reader.amount("amount", currency, required=True)
    close_date = reader.day("close_date", required=True)
    # A closed deal's stage is changed by reopening it, not here: the edit form does not offer it.
    stage = reader.raw("stage") if closed else reader.choice("stage", choices.open_stages, required=True)
    probability = reader.percent("probability")
    best = reader.amount("best", currency)
    worst = reader.amount("worst", currency)
    next_step = reader.text("next_step", descriptor, "next_step")
    lead_source = reader.choice("lead_source", [source_id for source_id, _ in choices.sources])
    if reader.errors or amount is None or close_date is None:
        return None, reader.errors
    values = {
        "name": name,
        "account_name": account,
        "owner": owner,
        "amount": amount_text(amount, currency),
        "currency": currency,
        "close_date": close_date.isoformat(),
        "stage": stage,
        "probability": "" if probability is None else str(probability),
        "best": amount_text(best, currency),
        "worst": amount_text(worst, currency),
        "next_step": next_step,
        "lead_source": lead_source,
    }
    return DealInput(values, Money(currency_code=currency, amount_minor=amount), probability, best, worst), {}


def _choices() -> Choices:
    stages = sales_stages()
    return Choices(
        open_stages=[stage.name for stage in stages if not stage.is_won and not stage.is_lost],
        owners=people(),
        sources=lead_sources(),
    )


# -- create -------------------------------------------------------------------------------------


def _new() -> Response:
    choices = _choices()
    if request.method == "GET":
        values = dict.fromkeys(FIELDS, "")
        values.update(
            owner=user().user_id,
            currency=base_currency(),
            stage=choices.open_stages[0] if choices.open_stages else "",
        )
        return _form_page(choices, values, request_id=str(uuid.uuid4()))
    typed = {name: request.form.get(name, "") for name in FIELDS}
    request_id = request.form.get("request_id", "")[:128]
    checked, errors = read_deal(request.form, choices)
    if checked is None:
        return _form_page(choices, typed, request_id=request_id, errors=errors, status=422)
    values = checked.values
    create = pb.CreateOpportunityRequest(
        name=values["name"],
        owner_user_id=values["owner"],
        amount=checked.amount,
        expected_close_date=_proto_day(values["close_date"]),
        sales_stage=values["stage"],
        account_name=values["account_name"],
        next_step=values["next_step"],
        lead_source_id=values["lead_source"],
        # The same key on a second post (a double click, a retry) returns the deal the first made.
        request_id=request_id,
    )
    if checked.probability is not None:
        create.probability = checked.probability
    if checked.best is not None:
        create.best_case_minor = checked.best
    if checked.worst is not None:
        create.worst_case_minor = checked.worst
    try:
        made = call(OPPORTUNITIES.rpc("CreateOpportunity"), create)
    except Problem as problem:
        if problem.status not in FORM_STATUSES:
            raise
        return _form_page(
            choices, typed, request_id=request_id, errors=errors_by_field(problem, _CREATE_FIELDS), status=422
        )
    return see_other("console.deal", opportunity_id=made.id, done="created")


# -- edit ---------------------------------------------------------------------------------------


def _edit(opportunity_id: str) -> Response:
    choices = _choices()
    if request.method == "GET":
        deal = _get(opportunity_id)
        values = values_of(deal)
        return _form_page(choices, values, deal=deal, original=values, version=deal.version)
    original = {name: request.form.get("orig_" + name, "") for name in FIELDS}
    version = _version(request.form.get("version", ""))
    # A field the form did not offer (a closed deal's stage) stays as it was.
    form = {name: request.form.get(name, original[name]) for name in FIELDS}
    deal = _get(opportunity_id)
    closed = deal.status != pb.OPPORTUNITY_STATUS_OPEN
    checked, errors = read_deal(form, choices, closed=closed)
    if checked is None:
        return _form_page(
            choices, form, deal=deal, original=original, version=version, errors=errors, status=422
        )
    changed = [name for name in FIELDS if checked.values[name] != original[name]]
    if not changed:
        return see_other("console.deal", opportunity_id=opportunity_id, done="unchanged")
    update = _update_request(opportunity_id, checked, changed, version)
    try:
        call(OPPORTUNITIES.rpc("UpdateOpportunity"), update)
    except Problem as problem:
        if problem.status == 409:
            return _conflict(choices, opportunity_id, form, original, changed)
        if problem.status not in FORM_STATUSES:
            raise
        errors = errors_by_field(problem, _UPDATE_FIELDS)
        return _form_page(
            choices, form, deal=deal, original=original, version=version, errors=errors, status=422
        )
    return see_other("console.deal", opportunity_id=opportunity_id, done="saved")


def _update_request(
    opportunity_id: str, checked: DealInput, changed: list[str], version: int
) -> pb.UpdateOpportunityRequest:
    values = checked.values
    deal = pb.Opportunity(id=opportunity_id)
    paths: list[str] = []
    simple = {
        "name": "name",
        "account_name": "account_name",
        "owner": "owner_user_id",
        "stage": "sales_stage",
        "next_step": "next_step",
        "lead_source": "lead_source_id",
    }
    for name, path in simple.items():
        if name in changed:
            setattr(deal, path, values[name])
            paths.append(path)
    currency_changed = "currency" in changed
    if "amount" in changed or currency_changed:
        deal.amount.CopyFrom(checked.amount)
        paths.append("amount")
    if "close_date" in changed:
        deal.expected_close_date.CopyFrom(_proto_day(values["close_date"]))
        paths.append("expected_close_date")
    if "probability" in changed:
        if checked.probability is None:
            deal.probability_source = pb.PROBABILITY_SOURCE_STAGE  # follows the stage again
        else:
            deal.probability = checked.probability
            deal.probability_source = pb.PROBABILITY_SOURCE_MANUAL
        paths.append("probability")
    # A hand-set best or worst case is in the deal's currency: a new currency restates it.
    for name, minor, money, manual in (
        ("best", checked.best, deal.best_case, "best_case_manual"),
        ("worst", checked.worst, deal.worst_case, "worst_case_manual"),
    ):
        if name in changed or (currency_changed and minor is not None):
            if minor is None:
                setattr(deal, manual, False)  # follows the amount again
            else:
                money.CopyFrom(Money(currency_code=checked.amount.currency_code, amount_minor=minor))
                setattr(deal, manual, True)
            paths.append(f"{name}_case")
    return pb.UpdateOpportunityRequest(
        opportunity=deal, update_mask=FieldMask(paths=paths), expected_version=version
    )


def _conflict(
    choices: Choices, opportunity_id: str, form: dict[str, str], original: dict[str, str], mine: list[str]
) -> Response:
    """Someone else saved first. The form comes back based on the deal as it is now: the fields the
    user changed keep the user's values, the others take the stored ones (so saving again does not
    quietly undo the other person's change), and the list says what the other person changed, and
    where both changed the same field."""
    fresh = _get(opportunity_id)
    stored = values_of(fresh)
    labels = field_labels()
    names = names_of(choices.owners)
    changes = [
        {
            "field": name,
            "label": labels[name],
            "was": _shown(name, original[name], names),
            "now": _shown(name, stored[name], names),
            "yours": _shown(name, form[name], names) if name in mine else "",
        }
        for name in FIELDS
        if stored[name] != original[name]
    ]
    merged = {name: form[name] if name in mine else stored[name] for name in FIELDS}
    return _form_page(
        choices,
        merged,
        deal=fresh,
        original=stored,
        version=fresh.version,
        changes=changes,
        errors={
            "": gettext(
                "Someone else changed this deal while you were editing it. Nothing of yours was saved."
            )
        },
        status=409,
    )


def _shown(name: str, value: str, owners: dict[str, str]) -> str:
    if name == "owner":
        return owners.get(value, value)
    if not value:
        return {
            "probability": gettext("follows the stage"),
            "best": gettext("follows the amount"),
            "worst": gettext("follows the amount"),
        }.get(name, gettext("(empty)"))
    return value


def field_labels() -> dict[str, str]:
    return {
        "name": gettext("Deal name"),
        "account_name": gettext("Account"),
        "owner": gettext("Owner"),
        "amount": gettext("Amount"),
        "currency": gettext("Currency"),
        "close_date": gettext("Expected close date"),
        "stage": gettext("Sales stage"),
        "probability": gettext("Probability (%)"),
        "best": gettext("Best case"),
        "worst": gettext("Worst case"),
        "next_step": gettext("Next step"),
        "lead_source": gettext("Lead source"),
    }


def _form_page(
    choices: Choices,
    values: Mapping[str, str],
    *,
    deal: pb.Opportunity | None = None,
    original: Mapping[str, str] | None = None,
    version: int = 0,
    request_id: str = "",
    changes: list[dict[str, str]] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    editing = deal is not None
    return page(
        "console/deal_form.html",
        status=status,
        title=gettext("Edit %(deal)s", deal=deal.name) if deal is not None else gettext("New deal"),
        deal=deal,
        editing=editing,
        closed=editing and deal is not None and deal.status != pb.OPPORTUNITY_STATUS_OPEN,
        values=values,
        original=original or {},
        fields=FIELDS,
        version=version,
        request_id=request_id,
        labels=field_labels(),
        stage_options=[(name, name) for name in choices.open_stages],
        owner_options=[(person.user_id, person.display_name) for person in choices.owners],
        sources=choices.sources,
        changes=changes or [],
        errors=errors or {},
    )


def _get(opportunity_id: str) -> pb.Opportunity:
    deal: pb.Opportunity = call(
        OPPORTUNITIES.rpc("GetOpportunity"), pb.GetOpportunityRequest(opportunity_id=opportunity_id)
    )
    return deal


def _version(text: str) -> int:
    # Never 0 (which would skip the check): a form without its version is refused.
    if not text.isdigit() or int(text) == 0:
        raise Problem(400, "Bad request", gettext("This form has no version; open the deal again."))
    return int(text)


def _proto_day(text: str) -> Date:
    # A value read_deal checked: always a date.
    day = date.fromisoformat(text)
    return Date(year=day.year, month=day.month, day=day.day)
