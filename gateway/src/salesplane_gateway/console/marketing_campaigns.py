"""Campaigns: one campaign with its cost entries and a form to record a cost (an amount in the
campaign's currency on a date), and a form to create a campaign. Amounts are typed as people write
them and kept as integer minor units; the leads service judges the rest, and each of its field
violations shows beside the field it names. A cost is recorded once however often the form is
sent: its request id is made when the form is shown."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from flask import Blueprint, request
from werkzeug.wrappers import Response

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.leads.v1 import leads_pb2
from salesplane_gateway.console.localisation import current_locale, gettext, minor_units
from salesplane_gateway.console.pages import call, form_errors, page, require_user, see_other
from salesplane_gateway.problems import Problem
from salesplane_gateway.routes_leads import LEADS

CHANNELS = {
    "web": leads_pb2.CHANNEL_WEB,
    "email": leads_pb2.CHANNEL_EMAIL,
    "event": leads_pb2.CHANNEL_EVENT,
    "referral": leads_pb2.CHANNEL_REFERRAL,
    "paid_search": leads_pb2.CHANNEL_PAID_SEARCH,
    "social": leads_pb2.CHANNEL_SOCIAL,
    "partner": leads_pb2.CHANNEL_PARTNER,
    "cold_call": leads_pb2.CHANNEL_COLD_CALL,
    "other": leads_pb2.CHANNEL_OTHER,
}
COST_FIELDS = ("amount", "currency", "incurred_on", "note", "request_id")
CAMPAIGN_FIELDS = (
    "name",
    "lead_source_id",
    "channel",
    "currency",
    "budget",
    "expected_cost",
    "expected_revenue",
    "start_date",
    "end_date",
)
_REFUSED = (400, 409, 422)


@dataclass(frozen=True)
class CampaignRow:
    campaign: leads_pb2.Campaign
    # Actual cost against budget in basis points; None without a budget to compare with.
    used_basis_points: int | None


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule(
        "/marketing/campaigns/new", "marketing_campaign_new", require_user(_new), methods=["GET", "POST"]
    )
    blueprint.add_url_rule(
        "/marketing/campaigns/<campaign_id>", "marketing_campaign", require_user(_campaign), methods=["GET"]
    )
    blueprint.add_url_rule(
        "/marketing/campaigns/<campaign_id>/costs",
        "marketing_campaign_cost",
        require_user(_record_cost),
        methods=["POST"],
    )


def campaign_row(campaign: leads_pb2.Campaign) -> CampaignRow:
    budget, actual = campaign.budget, campaign.actual_cost
    comparable = budget.amount_minor > 0 and actual.currency_code in ("", budget.currency_code)
    used = actual.amount_minor * 10_000 // budget.amount_minor if comparable else None
    return CampaignRow(campaign, used)


def channel_words() -> dict[int, str]:
    return {
        leads_pb2.CHANNEL_UNSPECIFIED: gettext("(the lead source's)"),
        leads_pb2.CHANNEL_WEB: gettext("Web"),
        leads_pb2.CHANNEL_EMAIL: gettext("E-mail"),
        leads_pb2.CHANNEL_EVENT: gettext("Event"),
        leads_pb2.CHANNEL_REFERRAL: gettext("Referral"),
        leads_pb2.CHANNEL_PAID_SEARCH: gettext("Paid search"),
        leads_pb2.CHANNEL_SOCIAL: gettext("Social"),
        leads_pb2.CHANNEL_PARTNER: gettext("Partner"),
        leads_pb2.CHANNEL_COLD_CALL: gettext("Cold call"),
        leads_pb2.CHANNEL_OTHER: gettext("Other"),
    }


# -- one campaign and its costs --------------------------------------------------------------------


def _campaign(campaign_id: str) -> Response:
    return _campaign_page(campaign_id, values={}, errors={})


def _campaign_page(campaign_id: str, *, values: dict[str, str], errors: dict[str, str]) -> Response:
    campaign = call(LEADS.rpc("GetCampaign"), leads_pb2.GetCampaignRequest(campaign_id=campaign_id))
    sources = call(LEADS.rpc("ListLeadSources"), leads_pb2.ListLeadSourcesRequest()).lead_sources
    shown = {
        "currency": campaign.budget.currency_code,
        "incurred_on": current_locale().today().isoformat(),
        "request_id": str(uuid.uuid4()),
        **values,
    }
    return page(
        "console/marketing_campaign.html",
        status=422 if errors else 200,
        title=campaign.name,
        row=campaign_row(campaign),
        campaign=campaign,
        source_names={s.id: s.name for s in sources},
        channel_words=channel_words(),
        values=shown,
        errors=errors,
        notice=gettext("Cost recorded.") if request.args.get("done") == "cost" else "",
    )


def _record_cost(campaign_id: str) -> Response:
    values = {name: request.form.get(name, "").strip() for name in COST_FIELDS}
    errors: dict[str, str] = {}
    currency = values["currency"].upper()
    if len(currency) != 3 or not currency.isalpha():
        errors["currency"] = gettext("Enter a three-letter currency code such as EUR.")
    amount = _amount(values["amount"], currency, "amount", errors, required=True)
    incurred_on = _date(values["incurred_on"], "incurred_on", errors, required=True)
    if errors:
        return _campaign_page(campaign_id, values=values, errors=errors)
    try:
        call(
            LEADS.rpc("RecordCampaignCost"),
            leads_pb2.RecordCampaignCostRequest(
                campaign_id=campaign_id,
                incurred_on=incurred_on,
                amount=Money(currency_code=currency, amount_minor=amount or 0),
                note=values["note"],
                request_id=values["request_id"] or str(uuid.uuid4()),
            ),
        )
    except Problem as problem:
        if problem.status not in _REFUSED:
            raise
        names = {v.field: _cost_field(v.field) for v in problem.errors}
        return _campaign_page(campaign_id, values=values, errors=form_errors(problem, names))
    return see_other("console.marketing_campaign", campaign_id=campaign_id, done="cost")


def _cost_field(path: str) -> str:
    if path.endswith("currency_code"):
        return "currency"
    name = path.split(".")[0]
    return name if name in ("amount", "incurred_on", "note") else ""


# -- a new campaign ------------------------------------------------------------------------------


def _new() -> Response:
    if request.method == "GET":
        return _new_page({"currency": ""}, {})
    values = {name: request.form.get(name, "").strip() for name in CAMPAIGN_FIELDS}
    errors: dict[str, str] = {}
    currency = values["currency"].upper()
    if len(currency) != 3 or not currency.isalpha():
        errors["currency"] = gettext("Enter a three-letter currency code such as EUR.")
    if not values["name"]:
        errors["name"] = gettext("Give the campaign a name.")
    if not values["lead_source_id"]:
        errors["lead_source_id"] = gettext("Choose the lead source.")
    if values["channel"] and values["channel"] not in CHANNELS:
        errors["channel"] = gettext("Choose a channel from the list.")
    amounts = {
        name: _amount(values[name], currency, name, errors, required=name == "budget")
        for name in ("budget", "expected_cost", "expected_revenue")
    }
    dates = {name: _date(values[name], name, errors, required=True) for name in ("start_date", "end_date")}
    if errors:
        return _new_page(values, errors)
    message = leads_pb2.CreateCampaignRequest(
        name=values["name"],
        lead_source_id=values["lead_source_id"],
        channel=CHANNELS.get(values["channel"], leads_pb2.CHANNEL_UNSPECIFIED),
        start_date=dates["start_date"],
        end_date=dates["end_date"],
    )
    for name, amount in amounts.items():
        if amount is not None:
            getattr(message, name).CopyFrom(Money(currency_code=currency, amount_minor=amount))
    try:
        created = call(LEADS.rpc("CreateCampaign"), message)
    except Problem as problem:
        if problem.status not in _REFUSED:
            raise
        names = {v.field: _campaign_field(v.field) for v in problem.errors}
        return _new_page(values, form_errors(problem, names))
    return see_other("console.marketing_campaign", campaign_id=created.id)


def _campaign_field(path: str) -> str:
    if path.endswith("currency_code"):
        return "currency"
    name = path.split(".")[0]
    return name if name in CAMPAIGN_FIELDS else ""


def _new_page(values: dict[str, str], errors: dict[str, str]) -> Response:
    sources = call(LEADS.rpc("ListLeadSources"), leads_pb2.ListLeadSourcesRequest()).lead_sources
    words = channel_words()
    return page(
        "console/marketing_campaign_new.html",
        status=422 if errors else 200,
        title=gettext("New campaign"),
        values=values,
        errors=errors,
        source_options=[("", gettext("Choose…"))] + [(s.id, s.name) for s in sources],
        channel_options=[("", words[leads_pb2.CHANNEL_UNSPECIFIED])]
        + [(name, words[number]) for name, number in CHANNELS.items()],
    )


# -- typed values --------------------------------------------------------------------------------


def _amount(text: str, currency: str, name: str, errors: dict[str, str], *, required: bool) -> int | None:
    if not text:
        if required:
            errors[name] = gettext("Enter an amount.")
        return None
    try:
        return minor_units(text, currency)
    except ValueError:
        errors[name] = gettext(
            "Enter an amount such as 1234.50, with no more decimals than the currency has."
        )
        return None


def _date(text: str, name: str, errors: dict[str, str], *, required: bool) -> Date | None:
    if not text:
        if required:
            errors[name] = gettext("Enter a date.")
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        errors[name] = gettext("Enter a date as YYYY-MM-DD.")
        return None
    return Date(year=day.year, month=day.month, day=day.day)
