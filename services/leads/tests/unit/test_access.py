"""Who reaches which leads, who may assign to whom, and who manages marketing data."""

from __future__ import annotations

import pytest

from salesplane_leads.domain.access import (
    LeadScope,
    assignment_refusal,
    can_reach_lead,
    deal_owner_refusal,
    ensure_can_create_leads,
    ensure_can_manage_marketing,
    ensure_can_move_open_work,
    lead_scope,
)
from salesplane_platform.errors import PermissionDenied
from salesplane_platform.identity import Identity

REPORTS_TO_MIA = {"bob", "carol"}


def caller(subject: str, *roles: str) -> Identity:
    return Identity(subject=subject, roles=frozenset(roles))


def in_mias_subtree(user_id: str) -> bool:
    return user_id in REPORTS_TO_MIA


@pytest.mark.parametrize(
    ("who", "assignee", "reaches"),
    [
        (caller("bob", "rep"), "bob", True),
        (caller("bob", "rep"), "carol", False),
        (caller("bob", "rep"), "", False),
        (caller("mia", "manager"), "bob", True),
        (caller("mia", "manager"), "mia", True),
        (caller("mia", "manager"), "", True),
        (caller("mia", "manager"), "zed", False),
        (caller("mo", "marketing"), "zed", True),
        (caller("ann", "admin"), "zed", True),
        # A service principal reaches no lead as a user would.
        (caller("service:forecasting", "service"), "", False),
        (caller("service:forecasting", "service"), "bob", False),
        (caller("nobody"), "nobody", True),
        (caller("nobody"), "bob", False),
    ],
)
def test_who_reaches_a_lead_by_its_assignee(who: Identity, assignee: str, reaches: bool) -> None:
    assert can_reach_lead(who, assignee, in_mias_subtree) is reaches


@pytest.mark.parametrize(
    ("who", "assignee", "allowed"),
    [
        (caller("bob", "rep"), "bob", True),
        (caller("bob", "rep"), "", True),
        (caller("bob", "rep"), "carol", False),
        (caller("mia", "manager"), "carol", True),
        (caller("mia", "manager"), "zed", False),
        (caller("mo", "marketing"), "zed", True),
        (caller("ann", "admin"), "zed", True),
    ],
)
def test_who_may_assign_leads_to_whom(who: Identity, assignee: str, allowed: bool) -> None:
    assert (assignment_refusal(who, assignee, in_mias_subtree) is None) is allowed


def test_a_refused_assignment_says_why() -> None:
    assert (
        assignment_refusal(caller("bob", "rep"), "carol", in_mias_subtree)
        == "bob may assign leads only to themselves"
    )
    assert assignment_refusal(caller("mia", "manager"), "zed", in_mias_subtree) == (
        "zed is not in the reporting lines under mia"
    )


@pytest.mark.parametrize("roles", [("rep",), ("manager",), ("marketing",), ("admin",)])
def test_reps_managers_marketing_and_admins_create_leads(roles: tuple[str, ...]) -> None:
    ensure_can_create_leads(caller("x", *roles))


@pytest.mark.parametrize("who", [caller("x"), caller("service:forecasting", "service")])
def test_a_caller_without_a_role_or_a_service_creates_no_leads(who: Identity) -> None:
    with pytest.raises(PermissionDenied):
        ensure_can_create_leads(who)


@pytest.mark.parametrize(
    ("who", "owner", "allowed"),
    [
        (caller("bob", "rep"), "bob", True),
        (caller("bob", "rep"), "carol", False),
        (caller("mia", "manager"), "carol", True),
        (caller("mia", "manager"), "zed", False),
        # Marketing sees every lead but owns no one's deals, as in the opportunities service.
        (caller("mo", "marketing"), "bob", False),
        (caller("ann", "admin"), "zed", True),
    ],
)
def test_a_converted_leads_deal_goes_only_to_an_owner_the_caller_reaches(
    who: Identity, owner: str, allowed: bool
) -> None:
    assert (deal_owner_refusal(who, owner, in_mias_subtree) is None) is allowed


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        (caller("ann", "admin"), True),
        (caller("service:forecasting", "service"), True),
        (caller("mia", "manager"), False),
        (caller("mo", "marketing"), False),
    ],
)
def test_only_admins_and_services_move_a_users_open_leads(who: Identity, allowed: bool) -> None:
    if allowed:
        ensure_can_move_open_work(who)
    else:
        with pytest.raises(PermissionDenied):
            ensure_can_move_open_work(who)


@pytest.mark.parametrize(
    ("roles", "allowed"),
    [(("marketing",), True), (("admin",), True), (("manager",), False), (("rep",), False)],
)
def test_only_marketing_and_admins_manage_sources_campaigns_and_rules(
    roles: tuple[str, ...], allowed: bool
) -> None:
    if allowed:
        ensure_can_manage_marketing(caller("x", *roles), "campaigns")
    else:
        with pytest.raises(PermissionDenied, match="only marketing and admins may change campaigns"):
            ensure_can_manage_marketing(caller("x", *roles), "campaigns")


def test_list_scopes_follow_the_reach_rules() -> None:
    assert lead_scope(caller("mo", "marketing")) == LeadScope(everything=True)
    assert lead_scope(caller("mia", "manager", "rep")) == LeadScope(
        user_id="mia", subtree=True, unassigned=True
    )
    assert lead_scope(caller("bob", "rep")) == LeadScope(user_id="bob")
