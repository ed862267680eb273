"""Admin / exchange rates: every rate to the base currency with the date it applies from, and a form
that sets one (SetExchangeRate). A rate is a decimal string in the API (base-currency units per
unit of the currency, up to 12 fractional digits): it is checked as text and sent as text, never
through a float, so "1.085000000001" arrives as typed."""

from __future__ import annotations

import re
from decimal import Decimal

from flask import Blueprint, request
from werkzeug.wrappers import Response

from salesplane.opportunities.v1 import opportunities_pb2
from salesplane_gateway.console.admin_forms import FormCheck, refused
from salesplane_gateway.console.localisation import gettext
from salesplane_gateway.console.pages import call, page, require_user, see_other
from salesplane_gateway.problems import Problem
from salesplane_gateway.routes_opportunities import OPPORTUNITIES
from salesplane_platform.money import CURRENCY_EXPONENTS

_RATE = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,12})?")
NAMES = {"currency_code": "currency_code", "rate": "rate", "effective_from": "effective_from"}


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/admin/rates", "admin_rates", require_user(_rates), methods=["GET", "POST"])


def _rates() -> Response:
    if request.method == "GET":
        values = {"currency_code": "", "effective_from": "", "rate": ""}
        notice = gettext("Exchange rate saved.") if request.args.get("done") == "saved" else ""
        return _page(values, {}, notice=notice)
    values = {name: request.form.get(name, "").strip() for name in NAMES}
    checked = FormCheck()
    currency = values["currency_code"].upper()
    if currency not in CURRENCY_EXPONENTS:
        checked.fail("currency_code", gettext("Enter a three-letter ISO 4217 code such as EUR."))
    rate = rate_text(values["rate"])
    if rate is None:
        checked.fail("rate", gettext("Enter a positive decimal such as 1.0850 (up to 12 decimals)."))
    effective = checked.day("effective_from", values["effective_from"], required=True)
    if not checked.ok() or rate is None or effective is None:
        return _page(values, checked.errors, status=422)
    try:
        call(
            OPPORTUNITIES.rpc("SetExchangeRate"),
            opportunities_pb2.SetExchangeRateRequest(
                currency_code=currency, rate=rate, effective_from=effective
            ),
        )
    except Problem as problem:
        return _page(values, refused(problem, NAMES), status=409 if problem.status == 409 else 422)
    return see_other("console.admin_rates", done="saved", currency=currency)


def rate_text(typed: str) -> str | None:
    """The typed rate as the API's decimal text ("1,085" reads as 1.085), or None when it is not a
    positive decimal the API takes."""
    cleaned = typed.strip().replace("\u00a0", "").replace(" ", "")
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    if not _RATE.fullmatch(cleaned) or Decimal(cleaned) <= 0:
        return None
    return cleaned


def _page(values: dict[str, str], errors: dict[str, str], *, status: int = 200, notice: str = "") -> Response:
    # ?currency=EUR shows one currency's history; the currency just saved is shown that way.
    shown = request.args.get("currency", "").upper()
    listed = call(
        OPPORTUNITIES.rpc("ListExchangeRates"),
        opportunities_pb2.ListExchangeRatesRequest(
            currency_code=shown if shown in CURRENCY_EXPONENTS else ""
        ),
    )
    rates = sorted(
        listed.rates,
        key=lambda r: (
            r.currency_code,
            -r.effective_from.year,
            -r.effective_from.month,
            -r.effective_from.day,
        ),
    )
    return page(
        "console/admin_rates.html",
        status=status,
        title=gettext("Exchange rates"),
        rates=rates,
        base_currency=listed.base_currency_code,
        shown=shown if shown in CURRENCY_EXPONENTS else "",
        values=values,
        errors=errors,
        notice=notice,
    )
