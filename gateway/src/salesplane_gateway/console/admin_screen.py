"""Admin: an index of the organisation's settings, each on its own small page (users and reporting
lines, sales stages, exchange rates, forecast settings, lead scoring, inspection thresholds, the
audit log).

The nav shows Admin to administrators only, but nothing here relies on that: every page reads and
writes through the services with the signed-in user's token, and a non-admin's save (or a read
only admins may make) comes back PERMISSION_DENIED, which renders as the 403 page."""

from __future__ import annotations

from flask import Blueprint
from werkzeug.wrappers import Response

from salesplane_gateway.console import (
    admin_audit,
    admin_forecast_settings,
    admin_inspection,
    admin_rates,
    admin_scoring,
    admin_stages,
    admin_users,
)
from salesplane_gateway.console.localisation import gettext
from salesplane_gateway.console.pages import page, require_user

SUB_PAGES = (
    admin_users,
    admin_stages,
    admin_rates,
    admin_forecast_settings,
    admin_scoring,
    admin_inspection,
    admin_audit,
)


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/admin", "admin", require_user(_index), methods=["GET"])
    for sub_page in SUB_PAGES:
        sub_page.register(blueprint)


def _index() -> Response:
    return page("console/admin.html", title=gettext("Admin"))
