"""What the admin forms share: reading typed values (whole numbers, percentages, dates, decimals)
into an error per field, checked against the same field rules the HTTP API checks
(field_rule_table), so that every mistake is reported at once before any call; and turning a
service's refusal into errors beside the fields.

Each form makes one call that replaces or upserts the whole thing, so a refused form has saved
nothing."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation

from google.protobuf.descriptor import Descriptor

from salesplane.common.v1.common_pb2 import Date
from salesplane_gateway.console.localisation import gettext, typed_date
from salesplane_gateway.console.pages import form_errors
from salesplane_gateway.field_rule_table import rule_of
from salesplane_gateway.field_rules import check
from salesplane_gateway.problems import Problem

# The statuses a form answers beside its fields; anything else (403, 503, ...) is an error page.
FORM_STATUSES = frozenset({400, 404, 409, 422})
_INDEX = re.compile(r"^(?P<list>[a-z_.]+)\[(?P<index>\d+)\](?:\.(?P<field>[a-z_.]+))?$")


class FormCheck:
    """Typed values read one by one; each unreadable one leaves a message under its form name."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def ok(self) -> bool:
        return not self.errors

    def text(self, name: str, value: str, message: Descriptor, field: str, *, required: bool = False) -> str:
        """Free text, trimmed, against its field's rule (length, control characters)."""
        value = value.strip()
        if not value:
            if required:
                self.fail(name, gettext("Enter a value."))
            return ""
        if (why := check(rule_of(message.fields_by_name[field]).value, value)) is not None:
            self.fail(name, why)
        return value

    def whole(
        self, name: str, value: str, message: Descriptor, field: str, *, required: bool = True
    ) -> int | None:
        """A whole number within its field's rule (minimum, maximum)."""
        value = value.strip().replace("\u00a0", "").replace(" ", "")
        if not value:
            if required:
                self.fail(name, gettext("Enter a whole number."))
            return None
        if not re.fullmatch(r"[+-]?\d{1,12}", value):
            self.fail(name, gettext("Enter a whole number, without decimals."))
            return None
        number = int(value)
        self._in_range(name, number, message, field, lambda n: str(n))
        return number

    def percent_as_basis_points(
        self, name: str, value: str, message: Descriptor, field: str, *, required: bool = True
    ) -> int | None:
        """A percentage ("12.5", "12,5 %") as exact basis points (1250): Decimal, never float."""
        cleaned = value.strip().removesuffix("%").strip().replace("\u00a0", "").replace(" ", "")
        cleaned = cleaned.replace(",", ".")
        if not cleaned:
            if required:
                self.fail(name, gettext("Enter a percentage."))
            return None
        try:
            percent = Decimal(cleaned)
        except InvalidOperation:
            self.fail(name, gettext("Enter a percentage such as 12.5."))
            return None
        scaled = percent.scaleb(2)
        if not percent.is_finite() or scaled != scaled.to_integral_value():
            self.fail(name, gettext("Use at most two decimals (0.01 % is the smallest step)."))
            return None
        basis_points = int(scaled)
        self._in_range(name, basis_points, message, field, percent_text)
        return basis_points

    def day(self, name: str, value: str, *, required: bool = False) -> Date | None:
        """A calendar date as a date input sends it (YYYY-MM-DD)."""
        value = value.strip()
        if not value:
            if required:
                self.fail(name, gettext("Enter a date."))
            return None
        parsed = typed_date(value)
        if isinstance(parsed, str):
            self.fail(name, parsed)
            return None
        return Date(year=parsed.year, month=parsed.month, day=parsed.day)

    def _in_range(
        self, name: str, number: int, message: Descriptor, field: str, shown: Callable[[int], str]
    ) -> None:
        rule = rule_of(message.fields_by_name[field]).value
        low: int | None = rule.get("minimum")
        high: int | None = rule.get("maximum")
        if (low is not None and number < low) or (high is not None and number > high):
            if low is not None and high is not None:
                self.fail(
                    name, gettext("Enter a value from %(low)s to %(high)s.", low=shown(low), high=shown(high))
                )
            elif low is not None:
                self.fail(name, gettext("Enter at least %(low)s.", low=shown(low)))
            elif high is not None:
                self.fail(name, gettext("Enter at most %(high)s.", high=shown(high)))


def percent_text(basis_points: int) -> str:
    """Basis points as the percentage an input shows and reads back: 1250 -> "12.5", 10000 -> "100"."""
    text = f"{Decimal(basis_points).scaleb(-2):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def day_text(value: Date) -> str:
    """A proto Date as a date input's value ("2026-10-01"); empty when unset."""
    if not value.year:
        return ""
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def refused(
    problem: Problem, names: Mapping[str, str] | None = None, shown: Iterable[str] = ()
) -> dict[str, str]:
    """A refusal the form shows beside its fields; other problems (403, outages) propagate as pages.
    A violation of a field the form does not show (neither a value of `names` nor in `shown`) goes
    to the form's own error line with the service's name for it, so that nothing said is lost."""
    if problem.status not in FORM_STATUSES:
        raise problem
    visible = {*(names or {}).values(), *shown}
    errors: dict[str, str] = {}
    for name, message in form_errors(problem, names).items():
        if name and name not in visible:
            name, message = "", f"{name}: {message}"
        errors[name] = f"{errors[name]} {message}" if name in errors else message
    if problem.status == 409:
        errors[""] = gettext(
            "Someone else changed this while you were editing. The form now holds what you typed "
            "over their version: check it and save again to replace theirs."
        )
    return errors


def row_names(
    problem: Problem, list_field: str, rows: list[int], columns: Mapping[str, str]
) -> dict[str, str]:
    """Service paths of a repeated field ("sales_stages[2].name") as the form's row fields
    ("name-5"): `rows[i]` is the form row the i-th sent item came from; `columns` maps the item's
    field to the form's column prefix. The list itself ("sales_stages") stays under its own name."""
    names: dict[str, str] = {}
    for violation in problem.errors:
        found = _INDEX.match(violation.field)
        if found is None or found["list"] != list_field or int(found["index"]) >= len(rows):
            continue
        row = rows[int(found["index"])]
        column = columns.get(found["field"] or "", "row")
        names[violation.field] = f"{column}-{row}"
    return names
