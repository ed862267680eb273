"""Filters and globals the console's templates use: amounts, dates, percentages in the user's
locale; the translations (`_`, newstyle gettext: values are escaped); the CSRF field; asset URLs."""

from __future__ import annotations

from datetime import date

from flask import Flask, current_app, url_for
from google.protobuf.timestamp_pb2 import Timestamp
from markupsafe import Markup, escape

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane_gateway.console import localisation
from salesplane_gateway.console.signed_in_user import signed_in_user
from salesplane_gateway.console.static_assets import HTMX, asset_version
from salesplane_gateway.csrf import CSRF_FIELD


def install_template_helpers(app: Flask) -> None:
    env = app.jinja_env
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        localisation.gettext, localisation.ngettext, newstyle=True
    )
    env.filters.update(
        money=money,
        amount_input=amount_input,
        day=day,
        moment=moment,
        basis_points=localisation.percent_of_basis_points,
        probability=localisation.probability,
        number=localisation.number,
    )
    env.globals.update(
        csrf_field=csrf_field,
        asset=asset,
        htmx_url=lambda: url_for("console.static_file", name=HTMX),
        current_locale=localisation.current_locale,
        languages=localisation.LANGUAGES,
        has_endpoint=lambda endpoint: endpoint in current_app.view_functions,
    )


def money(value: Money | None, currency_code: str = "") -> str:
    if value is None:
        return ""
    return localisation.money(value.amount_minor, value.currency_code or currency_code)


def amount_input(value: Money | None) -> str:
    """An amount as an input field shows it ("1234.50"); empty when unset."""
    if value is None or not value.currency_code:
        return ""
    return localisation.major_units(value.amount_minor, value.currency_code)


def day(value: Date | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, Date):
        if not value.year:
            return ""
        return localisation.calendar_date(date(value.year, value.month, value.day))
    return localisation.calendar_date(value)


def moment(value: Timestamp | None) -> str:
    if value is None or (not value.seconds and not value.nanos):
        return ""
    return localisation.moment(value.ToDatetime())


def csrf_field() -> Markup:
    user = signed_in_user()
    token = user.csrf_token if user is not None else ""
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(token)}">')


def asset(name: str) -> str:
    return url_for("console.static_file", name=name, v=asset_version(name))
