"""Quota planning: a manager's quota, its split among their direct reports and their own direct
quota, with the allocated and unallocated sums recomputed as one types; save the split as a draft
(only its author sees it), commit it (each report then sees their quota). An admin also sets any
user's quota for a period here (the top of the plan: "an admin sets the VP's target").

What a reader may see is the quota service's decision: the URL's manager goes to it unchecked, it
shows a draft only to its author and refuses a plan outside the caller's subtree (a 403 page)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import Blueprint, request
from werkzeug.wrappers import Response

from salesplane.common.v1.common_pb2 import Money
from salesplane.forecasting.v1 import org_pb2, quotas_pb2
from salesplane_gateway.console.localisation import gettext, major_units, minor_units
from salesplane_gateway.console.pages import call, form_errors, fragment, page, require_user, see_other, user
from salesplane_gateway.console.periods import chosen_period
from salesplane_gateway.problems import Problem
from salesplane_gateway.routes_org import ORG
from salesplane_gateway.routes_quotas import QUOTAS

DIRECT_FIELD = "direct"
_ALLOCATION = re.compile(r"^allocations\[(\d+)\]")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_PERIOD = re.compile(r"^\d{4}-Q[1-4]$")
# The admin form's fields, and the SetQuota fields they stand for.
_SET_FIELDS = {
    "user_id": "set_user",
    "period_id": "set_period",
    "amount": "set_amount",
    "amount.amount_minor": "set_amount",
    "amount.currency_code": "set_currency",
}


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/quota-plan", "quota_plan", require_user(_plan_page), methods=["GET"])
    blueprint.add_url_rule("/quota-plan/sums", "quota_plan_sums", require_user(_sums), methods=["GET"])
    blueprint.add_url_rule(
        "/quota-plan/draft", "quota_plan_draft", require_user(_save_draft), methods=["POST"]
    )
    blueprint.add_url_rule("/quota-plan/commit", "quota_plan_commit", require_user(_commit), methods=["POST"])
    blueprint.add_url_rule("/quota-plan/set-quota", "quota_set", require_user(_set_quota), methods=["POST"])


def field_name(allocation: quotas_pb2.QuotaAllocation) -> str:
    """The form's input for a row: the manager's own direct quota, or a report's assigned one."""
    if allocation.kind == quotas_pb2.QUOTA_KIND_DIRECT:
        return DIRECT_FIELD
    return f"q-{allocation.user_id}"


@dataclass
class TypedSplit:
    """A split as typed: what would be saved, an error per unreadable field, and the sums."""

    currency_code: str
    quota_minor: int | None
    allocations: list[tuple[str, quotas_pb2.DraftAllocation]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    typed: dict[str, str] = field(default_factory=dict)
    allocated_minor: int = 0

    @property
    def unallocated_minor(self) -> int:
        return (self.quota_minor or 0) - self.allocated_minor

    def money(self, amount_minor: int) -> Money:
        return Money(currency_code=self.currency_code, amount_minor=amount_minor)


def plan_currency(plan: quotas_pb2.QuotaPlan) -> str:
    # Plans are in the organisation's base currency; the service always states it on `allocated`.
    return str(plan.allocated.currency_code or plan.quota.currency_code)


def parse_split(plan: quotas_pb2.QuotaPlan, form: dict[str, str]) -> TypedSplit:
    """Read one amount per row of the plan (rows the plan does not have are ignored). An empty
    field leaves that row as committed: it is not sent, and the sums count the committed amount.
    Every field is read before anything is sent, so one bad amount saves nothing."""
    currency = plan_currency(plan)
    split = TypedSplit(currency, plan.quota.amount_minor if plan.HasField("quota") else None)
    for allocation in plan.allocations:
        name = field_name(allocation)
        text = form.get(name, "").strip()
        split.typed[name] = text
        if not text:
            split.allocated_minor += allocation.committed.amount_minor
            continue
        try:
            amount = minor_units(text, currency)
        except ValueError:
            split.errors[name] = gettext("Enter an amount such as 250000 or 250000.50.")
            continue
        if amount < 0:
            split.errors[name] = gettext("Enter an amount of zero or more.")
            continue
        split.allocated_minor += amount
        split.allocations.append(
            (
                name,
                quotas_pb2.DraftAllocation(
                    user_id=allocation.user_id, kind=allocation.kind, amount=split.money(amount)
                ),
            )
        )
    return split


def prefilled(plan: quotas_pb2.QuotaPlan) -> dict[str, str]:
    """What each field shows before anything is typed: the caller's draft, else what is committed."""
    values: dict[str, str] = {}
    for allocation in plan.allocations:
        shown = allocation.draft if allocation.HasField("draft") else allocation.committed
        if allocation.HasField("draft") or allocation.HasField("committed"):
            values[field_name(allocation)] = major_units(shown.amount_minor, plan_currency(plan))
    return values


def _manager() -> str:
    return request.args.get("manager", "") or request.form.get("manager", "") or user().user_id


def _get_plan(manager_user_id: str, period_id: str) -> quotas_pb2.QuotaPlan:
    plan: quotas_pb2.QuotaPlan = call(
        QUOTAS.rpc("GetQuotaPlan"),
        quotas_pb2.GetQuotaPlanRequest(manager_user_id=manager_user_id, period_id=period_id),
    )
    return plan


def _people() -> list[org_pb2.User]:
    """Whom the caller may see: the organisation for an admin, else their subtree."""
    users = call(ORG.rpc("ListUsers"), org_pb2.ListUsersRequest()).users
    return sorted((u for u in users if u.active), key=lambda u: (u.display_name or u.user_id).lower())


def _plan_page(
    *,
    status: int = 200,
    split: TypedSplit | None = None,
    set_errors: dict[str, str] | None = None,
    set_values: dict[str, str] | None = None,
) -> Response:
    period = chosen_period()
    me = user()
    manager_id = _manager()
    plan = _get_plan(manager_id, period.current)
    people = _people()
    managers = [p for p in people if {"manager", "admin"} & set(p.roles)]
    if not any(p.user_id == me.user_id for p in managers):
        managers.insert(0, org_pb2.User(user_id=me.user_id, display_name=me.display_name))
    shown = split or parse_split(plan, prefilled(plan))
    return page(
        "console/quota_plan.html",
        status=status,
        title=gettext("Quota planning"),
        period=period,
        plan=plan,
        manager_id=manager_id,
        manager_name=next(
            (
                a.display_name
                for a in plan.allocations
                if a.kind == quotas_pb2.QUOTA_KIND_DIRECT and a.display_name
            ),
            manager_id,
        ),
        managers=managers,
        people_options=[(p.user_id, f"{p.display_name or p.user_id} ({p.user_id})") for p in people]
        if me.is_admin
        else [],
        direct_kind=quotas_pb2.QUOTA_KIND_DIRECT,
        split=shown,
        values=split.typed if split else prefilled(plan),
        field_name=field_name,
        set_errors=set_errors or {},
        set_values=set_values or {"set_period": period.current, "set_currency": plan_currency(plan)},
        notice=_notice() if status == 200 else "",
    )


def _sums() -> Response:
    """The sums of the split as typed, computed here with the same parsing as a save."""
    period = chosen_period()
    try:
        plan = _get_plan(_manager(), period.current)
    except Problem:
        # Keep the last sums on screen: htmx 4 would swap an error page into them; 204 swaps nothing.
        return Response(status=204)
    return fragment("console/quota_plan_sums.html", split=parse_split(plan, request.args.to_dict()))


def _save_draft() -> Response:
    return _save(commit=False)


def _commit() -> Response:
    return _save(commit=True)


def _save(*, commit: bool) -> Response:
    """Save the typed split as the draft; to commit, save it and then commit that draft, so what is
    committed is exactly what the manager sees on screen."""
    period = chosen_period()
    me = user()
    plan = _get_plan(me.user_id, period.current)
    split = parse_split(plan, request.form.to_dict())
    if split.errors:
        return _plan_page(status=422, split=split)
    if commit and not split.allocations:
        split.errors[""] = gettext("Enter at least one amount to commit.")
        return _plan_page(status=422, split=split)
    try:
        call(
            QUOTAS.rpc("SaveQuotaDraft"),
            quotas_pb2.SaveQuotaDraftRequest(
                manager_user_id=me.user_id,
                period_id=period.current,
                allocations=[allocation for _, allocation in split.allocations],
            ),
        )
    except Problem as problem:
        if problem.status in (400, 409, 422):
            split.errors.update(_split_errors(problem, split))
            return _plan_page(status=422, split=split)
        raise
    if commit:
        try:
            call(
                QUOTAS.rpc("CommitQuotaPlan"),
                quotas_pb2.CommitQuotaPlanRequest(manager_user_id=me.user_id, period_id=period.current),
            )
        except Problem as problem:
            if problem.status in (400, 409, 422):
                found = _split_errors(problem, split)
                split.errors.update(found)
                split.errors[""] = gettext(
                    "Your split was saved as a draft but not committed: %(reason)s",
                    reason=found.get("", problem.detail),
                )
                return _plan_page(status=422, split=split)
            raise
    return see_other("console.quota_plan", period=period.current, done="committed" if commit else "draft")


def _split_errors(problem: Problem, split: TypedSplit) -> dict[str, str]:
    """The service names allocations by their index in the request; the form by their row."""
    names: dict[str, str] = {}
    for violation in problem.errors:
        matched = _ALLOCATION.match(violation.field)
        index = int(matched.group(1)) if matched else -1
        names[violation.field] = split.allocations[index][0] if 0 <= index < len(split.allocations) else ""
    return form_errors(problem, names)


def parse_set_quota(form: dict[str, str]) -> tuple[quotas_pb2.SetQuotaRequest | None, dict[str, str]]:
    """The admin's "set a quota" form as a request, or the error beside each bad field."""
    errors: dict[str, str] = {}
    user_id = form.get("set_user", "").strip()
    period_id = form.get("set_period", "").strip()
    currency = form.get("set_currency", "").strip().upper()
    if not user_id:
        errors["set_user"] = gettext("Choose whose quota to set.")
    if not _PERIOD.match(period_id):
        errors["set_period"] = gettext("Enter a period such as 2026-Q4.")
    if not _CURRENCY.match(currency):
        errors["set_currency"] = gettext("Enter a three-letter currency code such as USD.")
    amount = None
    try:
        amount = minor_units(form.get("set_amount", ""), currency if "set_currency" not in errors else "")
    except ValueError:
        errors["set_amount"] = gettext("Enter an amount such as 250000 or 250000.50.")
    if amount is not None and amount < 0:
        errors["set_amount"] = gettext("Enter an amount of zero or more.")
    if errors or amount is None:
        return None, errors
    return (
        quotas_pb2.SetQuotaRequest(
            user_id=user_id, period_id=period_id, amount=Money(currency_code=currency, amount_minor=amount)
        ),
        errors,
    )


def _set_quota() -> Response:
    period = chosen_period()
    values = {
        name: request.form.get(name, "") for name in ("set_user", "set_period", "set_amount", "set_currency")
    }
    message, errors = parse_set_quota(values)
    if message is None:
        return _plan_page(status=422, set_errors=errors, set_values=values)
    try:
        call(QUOTAS.rpc("SetQuota"), message)
    except Problem as problem:
        if problem.status in (400, 409, 422):
            return _plan_page(status=422, set_errors=form_errors(problem, _SET_FIELDS), set_values=values)
        raise
    return see_other("console.quota_plan", period=period.current, done="set")


def _notice() -> str:
    return {
        "draft": gettext("Draft saved. Only you see it until you commit."),
        "committed": gettext("Quota plan committed. Your reports see their quotas now."),
        "set": gettext("Quota set and committed."),
    }.get(request.args.get("done", ""), "")
