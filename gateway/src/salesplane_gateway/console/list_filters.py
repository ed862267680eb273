"""What the Pipeline and Leads screens share: reading typed form values (dates, amounts, percentages,
bounded text) into one error per field before any call, naming a service's field violations by the
form's fields, the people a list can be narrowed to, and paging by the services' page tokens.

The services' page tokens only go forward; the pages before are remembered in the URL (`before`,
the tokens of the earlier pages), so that "Previous" is a plain link and a page can be bookmarked."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import request, url_for
from google.protobuf.descriptor import Descriptor

from salesplane.common.v1.common_pb2 import Date
from salesplane.forecasting.v1 import org_pb2
from salesplane.leads.v1 import leads_pb2
from salesplane.opportunities.v1 import opportunities_pb2
from salesplane_gateway.console.localisation import gettext, major_units, minor_units, typed_date
from salesplane_gateway.console.pages import call, form_errors, user
from salesplane_gateway.field_rule_table import rule_of
from salesplane_gateway.field_rules import CURRENCY, check
from salesplane_gateway.problems import Problem
from salesplane_gateway.routes_leads import LEADS
from salesplane_gateway.routes_opportunities import OPPORTUNITIES
from salesplane_gateway.routes_org import ORG

PAGE_SIZES = (25, 50, 100)
# Far more pages back than anyone clicks; keeps the URL bounded.
MAX_PAGES_BACK = 40
# A form answers these beside its fields; anything else (403, 404 of the page itself, 503) is an
# error page.
FORM_STATUSES = frozenset({400, 409, 422})
_WHOLE = re.compile(r"^[+-]?\d{1,9}$")


class FormReader:
    """Typed values read one at a time; each unreadable one leaves a message under its form name
    and reads as None, so that every mistake is reported at once."""

    def __init__(self, form: Mapping[str, str]) -> None:
        self.form = form
        self.errors: dict[str, str] = {}

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def raw(self, name: str) -> str:
        return (self.form.get(name) or "").strip()

    def text(self, name: str, message: Descriptor, field: str, *, required: bool = False) -> str:
        """Trimmed free text, checked against the rule its service field has (length, no control
        characters)."""
        value = self.raw(name)
        if not value:
            if required:
                self.fail(name, gettext("Enter a value."))
            return ""
        if (why := check(rule_of(message.fields_by_name[field]).value, value)) is not None:
            self.fail(name, why)
        return value

    def day(self, name: str, *, required: bool = False) -> date | None:
        value = self.raw(name)
        if not value:
            if required:
                self.fail(name, gettext("Enter a date."))
            return None
        found = typed_date(value)
        if isinstance(found, str):
            self.fail(name, found)
            return None
        return found

    def currency(self, name: str) -> str:
        value = self.raw(name).upper()
        if value not in CURRENCY["enum"]:
            self.fail(name, gettext("Enter a three-letter currency code such as EUR."))
            return ""
        return value

    def amount(self, name: str, currency: str, *, required: bool = False) -> int | None:
        """Integer minor units of the currency; never a float."""
        value = self.raw(name)
        if not value:
            if required:
                self.fail(name, gettext("Enter an amount."))
            return None
        if not currency:
            return None  # the currency's own error says what to fix first
        try:
            minor = minor_units(value, currency)
        except ValueError:
            self.fail(name, gettext("Enter an amount such as 1234.50, in %(currency)s.", currency=currency))
            return None
        if minor < 0:
            self.fail(name, gettext("Enter an amount of zero or more."))
            return None
        return minor

    def percent(self, name: str) -> int | None:
        value = self.raw(name).removesuffix("%").strip()
        if not value:
            return None
        if not _WHOLE.match(value) or not 0 <= int(value) <= 100:
            self.fail(name, gettext("Enter a whole percentage from 0 to 100."))
            return None
        return int(value)

    def choice(self, name: str, allowed: Sequence[str], *, required: bool = False) -> str:
        value = self.raw(name)
        if not value and not required:
            return ""
        if value not in allowed:
            self.fail(name, gettext("Choose a value from the list."))
            return ""
        return value


def proto_date(value: date | None) -> Date | None:
    return Date(year=value.year, month=value.month, day=value.day) if value else None


def date_input(value: Date | None) -> str:
    """A proto Date as a date input shows it (YYYY-MM-DD); empty when unset."""
    if value is None or not value.year:
        return ""
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def amount_text(minor: int | None, currency: str) -> str:
    return "" if minor is None or not currency else major_units(minor, currency)


def errors_by_field(problem: Problem, names: Mapping[str, str]) -> dict[str, str]:
    """The problem's violations under the form's field names. A service names a field by its path
    ("opportunity.amount.currency_code"); `names` maps path prefixes to form fields, the longest
    prefix winning, so that a field the form does not show lands on the form's own line."""
    mapped: dict[str, str] = {}
    for violation in problem.errors:
        path = violation.field
        best = ""
        for prefix in names:
            if (path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "[")) and len(
                prefix
            ) > len(best):
                best = prefix
        mapped[path] = names[best] if best else ""
    return form_errors(problem, mapped)


@dataclass(frozen=True)
class Person:
    user_id: str
    display_name: str


def people() -> list[Person]:
    """Me and everyone under me (an admin: the whole organisation), as the org service shows them:
    the owners a list can be narrowed to and a deal or lead can be given to."""
    me = user()
    found = [Person(me.user_id, me.display_name)]
    for each in call(ORG.rpc("ListUsers"), org_pb2.ListUsersRequest()).users:
        if each.user_id != me.user_id:
            found.append(Person(each.user_id, each.display_name or each.user_id))
    return found


def names_of(found: Sequence[Person]) -> dict[str, str]:
    return {person.user_id: person.display_name for person in found}


@dataclass(frozen=True)
class Paging:
    page_size: int
    page_token: str
    # Tokens of the pages before this one, oldest first ("" is the first page).
    before: tuple[str, ...]

    def next_args(self, next_token: str) -> dict[str, Any]:
        return {"page_token": next_token, "before": [*self.before, self.page_token][-MAX_PAGES_BACK:]}

    def previous_args(self) -> dict[str, Any] | None:
        if not self.page_token:
            return None
        return {"page_token": self.before[-1] if self.before else "", "before": list(self.before[:-1])}

    @property
    def number(self) -> int:
        return len(self.before) + 1 if self.page_token else 1


def chosen_paging() -> Paging:
    asked = request.args.get("page_size", "")
    size = int(asked) if asked.isdigit() and int(asked) in PAGE_SIZES else PAGE_SIZES[0]
    before = tuple(request.args.getlist("before"))[-MAX_PAGES_BACK:]
    return Paging(size, request.args.get("page_token", ""), before)


def paging_links(endpoint: str, paging: Paging, next_token: str) -> tuple[str, str]:
    """The next and previous pages' URLs ("" when there is none), with the list's filters as they
    are in this page's URL."""
    query: dict[str, Any] = {
        key: request.args.getlist(key) for key in request.args if key not in ("page_token", "before", "done")
    }
    following = url_for(endpoint, **query, **paging.next_args(next_token)) if next_token else ""
    back = paging.previous_args()
    return following, url_for(endpoint, **query, **back) if back is not None else ""


def lead_sources() -> list[tuple[str, str]]:
    """(id, name) of every lead source, by name: anyone may read them."""
    answer = call(LEADS.rpc("ListLeadSources"), leads_pb2.ListLeadSourcesRequest())
    return [(source.id, source.name) for source in answer.lead_sources]


def base_currency() -> str:
    """The organisation's base currency: what a new amount is in unless the user says otherwise."""
    rates = call(OPPORTUNITIES.rpc("ListExchangeRates"), opportunities_pb2.ListExchangeRatesRequest())
    return str(rates.base_currency_code)
