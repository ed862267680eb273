"""The development sign-in (embedded mode only, see signed_in_user.py): a page listing the
organisation's users, one button each. Before the organisation has any user it offers `admin`,
the development administrator, who can create them (or run `make demo`).

The sign-in form is protected against login CSRF (another site signing the browser in as someone
else) by a double-submit token: a random value in a cookie and in the form, compared on post.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Blueprint, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from salesplane.forecasting.v1 import org_pb2
from salesplane_gateway import upstream
from salesplane_gateway.browser_login import safe_next_path
from salesplane_gateway.console.localisation import gettext
from salesplane_gateway.console.signed_in_user import (
    development_enabled,
    development_token,
    end_dev_session,
    signed_in_user,
    start_dev_session,
)
from salesplane_gateway.login_context import login_context
from salesplane_gateway.problems import Problem
from salesplane_gateway.routes_org import ORG
from salesplane_platform.identity import ROLE_ADMIN

_FORM_COOKIE = "salesplane_console_sign_in"
DEV_ADMIN = "admin"


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/sign-in", "sign_in", _sign_in_page, methods=["GET"])
    blueprint.add_url_rule("/sign-in", "sign_in_post", _sign_in, methods=["POST"])
    blueprint.add_url_rule("/sign-out", "sign_out", _sign_out, methods=["POST"])


def _not_available() -> Problem:
    return Problem(
        404,
        "Not found",
        gettext(
            "The development sign-in exists only in development mode; "
            "sign in with your organisation's account."
        ),
    )


def _everyone() -> list[org_pb2.User]:
    g.bearer_token = development_token(DEV_ADMIN, frozenset({ROLE_ADMIN}))
    answer = upstream.call(ORG.rpc("ListUsers"), org_pb2.ListUsersRequest())
    users = [user for user in answer.users if user.active]  # type: ignore[attr-defined]
    return sorted(users, key=lambda user: (_rank(user), user.display_name.lower()))


def _rank(user: org_pb2.User) -> int:
    roles = set(user.roles)
    return 0 if "admin" in roles else 1 if not user.manager_user_id else 2 if "manager" in roles else 3


def _sign_in_page() -> Response:
    if login_context() is not None:
        return redirect(url_for("browser_login.login", next=request.args.get("next", "/")), code=303)
    if not development_enabled():
        raise _not_available()
    users = _everyone()
    token = secrets.token_urlsafe(24)
    body = render_template(
        "console/sign_in.html",
        me=signed_in_user(),
        title=gettext("Sign in"),
        users=users,
        has_admin=any(user.user_id == DEV_ADMIN for user in users),
        form_token=token,
        next_path=safe_next_path(request.args.get("next")) or "/",
    )
    response = Response(body, mimetype="text/html")
    response.set_cookie(_FORM_COOKIE, token, max_age=1800, httponly=True, samesite="Strict")
    return response


def _sign_in() -> Response:
    if not development_enabled():
        raise _not_available()
    supplied, expected = request.form.get("form_token", ""), request.cookies.get(_FORM_COOKIE, "")
    if not expected or not hmac.compare_digest(supplied.encode(), expected.encode()):
        return redirect(url_for("console.sign_in"), code=303)
    user_id = request.form.get("user_id", "")
    chosen = next((user for user in _everyone() if user.user_id == user_id), None)
    if chosen is None and user_id == DEV_ADMIN:
        chosen = org_pb2.User(user_id=DEV_ADMIN, display_name="Administrator", roles=[ROLE_ADMIN])
    if chosen is None:
        raise Problem(404, "Not found", gettext("No active user has that id."))
    response = redirect(safe_next_path(request.form.get("next")) or "/", code=303)
    start_dev_session(
        response,
        user_id=chosen.user_id,
        name=chosen.display_name or chosen.user_id,
        roles=frozenset(chosen.roles),
    )
    response.delete_cookie(_FORM_COOKIE)
    return response


def _sign_out() -> Response:
    if login_context() is not None:
        # The provider's logout (CSRF-checked there): 307 keeps the method and the form's token.
        return redirect(url_for("browser_login.logout"), code=307)
    response = redirect(url_for("console.sign_in"), code=303)
    end_dev_session(response)
    return response
