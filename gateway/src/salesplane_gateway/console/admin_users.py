"""Admin / users and reporting lines: everyone with their roles and manager, and one user's form
(display name, e-mail, roles, manager, active) saved with UpsertUser against the version it was
read at.

A reorganisation from a date is UpsertUser's manager_effective_date: a new manager with a later
date is scheduled, the rest changes at once. Any upsert that does not name a later-dated move
cancels a scheduled one, so the form opens with the scheduled manager and date filled in: saving
an unrelated change (an e-mail) keeps the scheduled move instead of silently dropping it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from werkzeug.wrappers import Response

from salesplane.forecasting.v1 import org_pb2
from salesplane_gateway.console.admin_forms import FormCheck, day_text, refused
from salesplane_gateway.console.localisation import gettext
from salesplane_gateway.console.pages import call, page, require_user, see_other
from salesplane_gateway.problems import Problem
from salesplane_gateway.routes_org import ORG

ROLES = ("rep", "manager", "admin", "marketing")
# The service's field paths as this form names them.
NAMES = {
    "user.user_id": "user_id",
    "user.display_name": "display_name",
    "user.email": "email",
    "user.roles": "roles",
    "user.manager_user_id": "manager_user_id",
    "user.active": "active",
    "manager_effective_date": "manager_effective_date",
    "reassign_open_work_to_manager": "reassign",
}
# Refusals of a deactivation that the form shows beside "active" (org.proto UpsertUser).
_ACTIVE_REASONS = frozenset({"OWNS_OPEN_DEALS", "OWNS_OPEN_LEADS", "NO_MANAGER"})
_USER = org_pb2.User.DESCRIPTOR


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/admin/users", "admin_users", require_user(_list), methods=["GET"])
    view = require_user(_user)
    # A user whose id is "new" cannot be edited here; ids are people's names in practice.
    blueprint.add_url_rule(
        "/admin/users/new", "admin_user", view, methods=["GET", "POST"], defaults={"user_id": ""}
    )
    blueprint.add_url_rule("/admin/users/<user_id>", "admin_user", view, methods=["GET", "POST"])


def _everyone() -> list[org_pb2.User]:
    # An admin's ListUsers is the whole organisation; anyone else's only their subtree.
    return list(call(ORG.rpc("ListUsers"), org_pb2.ListUsersRequest()).users)


def _list() -> Response:
    users = _everyone()
    return page(
        "console/admin_users.html",
        title=gettext("Users and reporting lines"),
        users=sorted(users, key=lambda u: (not u.active, u.display_name.lower(), u.user_id)),
        names={u.user_id: u.display_name or u.user_id for u in users},
        notice=gettext("User saved.") if request.args.get("done") == "saved" else "",
    )


def _user(user_id: str) -> Response:
    stored = call(ORG.rpc("GetUser"), org_pb2.GetUserRequest(user_id=user_id)) if user_id else None
    if request.method == "GET":
        return _form(user_id, stored, _values_of(stored), {})
    values = _posted()
    checked = FormCheck()
    upsert = _request(user_id, values, checked)
    if not user_id and any(u.user_id == upsert.user.user_id for u in _everyone()):
        # UpsertUser would quietly change that user: "new" must mean new.
        checked.fail("user_id", gettext("A user with this id exists already."))
    if not checked.ok():
        return _form(user_id, stored, values, checked.errors, status=422)
    try:
        saved = call(ORG.rpc("UpsertUser"), upsert)
    except Problem as problem:
        errors = refused(problem, NAMES)
        if problem.status == 404:  # an unknown manager
            errors = {"manager_user_id": problem.detail}
        elif problem.reason in _ACTIVE_REASONS:
            errors = {"active": problem.detail}
        if problem.status == 409 and user_id:
            # Saving again replaces their version: from now on, the form is based on it.
            stored = call(ORG.rpc("GetUser"), org_pb2.GetUserRequest(user_id=user_id))
            values["version"] = str(stored.version)
        return _form(user_id, stored, values, errors, status=422 if problem.status != 409 else 409)
    return see_other("console.admin_users", done="saved", _anchor=f"u-{saved.user_id}")


def _values_of(stored: org_pb2.User | None) -> dict[str, Any]:
    if stored is None:
        return {"roles": ["rep"], "active": True, "manager_user_id": "", "version": "0"}
    scheduled = bool(stored.scheduled_manager_date.year)
    return {
        "user_id": stored.user_id,
        "display_name": stored.display_name,
        "email": stored.email,
        "roles": list(stored.roles),
        "manager_user_id": stored.scheduled_manager_user_id if scheduled else stored.manager_user_id,
        "manager_effective_date": day_text(stored.scheduled_manager_date) if scheduled else "",
        "active": stored.active,
        "reassign": False,
        "version": str(stored.version),
    }


def _posted() -> dict[str, Any]:
    form = request.form
    return {
        "user_id": form.get("user_id", ""),
        "display_name": form.get("display_name", ""),
        "email": form.get("email", ""),
        "roles": form.getlist("roles"),
        "manager_user_id": form.get("manager_user_id", ""),
        "manager_effective_date": form.get("manager_effective_date", ""),
        "active": form.get("active") == "on",
        "reassign": form.get("reassign") == "on",
        "version": form.get("version", "0"),
    }


def _request(user_id: str, values: dict[str, Any], checked: FormCheck) -> org_pb2.UpsertUserRequest:
    roles = [role for role in ROLES if role in values["roles"]]
    if not roles or len(roles) != len(set(values["roles"])):
        checked.fail("roles", gettext("Choose at least one role from the list."))
    version = values["version"] if values["version"].isdigit() else "0"
    effective = checked.day("manager_effective_date", values["manager_effective_date"])
    upsert = org_pb2.UpsertUserRequest(
        user=org_pb2.User(
            user_id=user_id or checked.text("user_id", values["user_id"], _USER, "user_id", required=True),
            display_name=checked.text(
                "display_name", values["display_name"], _USER, "display_name", required=True
            ),
            email=checked.text("email", values["email"], _USER, "email"),
            roles=roles,
            manager_user_id=values["manager_user_id"],
            active=values["active"],
        ),
        # A new user is created with version 0: "no expectation", and the service refuses
        # nothing; an existing one only at the version the form was read at.
        expected_version=int(version),
        reassign_open_work_to_manager=values["reassign"] and not values["active"],
    )
    if effective is not None:
        upsert.manager_effective_date.CopyFrom(effective)
    return upsert


def _form(
    user_id: str,
    stored: org_pb2.User | None,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    status: int = 200,
) -> Response:
    users = _everyone()
    names = {u.user_id: u.display_name or u.user_id for u in users}
    # Anyone but the user themself may be their manager; the service refuses a cycle.
    others = sorted(
        ((u.user_id, f"{u.display_name} ({u.user_id})") for u in users if u.user_id != user_id and u.active),
        key=lambda option: option[1].lower(),
    )
    managers = [("", gettext("Nobody (top of the organisation)")), *others]
    return page(
        "console/admin_user.html",
        status=status,
        title=stored.display_name if stored is not None else gettext("New user"),
        user_id=user_id,
        stored=stored,
        values=values,
        errors=errors,
        roles=ROLES,
        managers=managers,
        names=names,
        conflict=status == 409,
    )
