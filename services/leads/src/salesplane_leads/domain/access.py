"""Who may do what with leads, sources, campaigns and scoring rules.

A rep reaches the leads assigned to them; a manager those assigned to anyone in their subtree (the
reporting lines replicated from forecasting) plus unassigned ones; marketing and admins all.
Marketing and admins manage lead sources, campaigns and scoring rules, which everyone may read.

Whether a user is in a manager's subtree is a lookup; the policy takes it as a function so it stays
free of storage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from salesplane_platform.errors import PermissionDenied
from salesplane_platform.identity import ROLE_MANAGER, ROLE_MARKETING, ROLE_REP, Identity

# Whether the caller (a manager) has this user in their subtree.
InSubtree = Callable[[str], bool]


def sees_every_lead(caller: Identity) -> bool:
    return caller.is_admin or ROLE_MARKETING in caller.roles


def can_reach_lead(caller: Identity, assigned_user_id: str, in_subtree: InSubtree) -> bool:
    if sees_every_lead(caller):
        return True
    if not assigned_user_id:
        return ROLE_MANAGER in caller.roles
    if assigned_user_id == caller.subject:
        return True
    return ROLE_MANAGER in caller.roles and in_subtree(assigned_user_id)


def ensure_can_reach_lead(
    caller: Identity, lead_id: str, assigned_user_id: str, in_subtree: InSubtree
) -> None:
    if not can_reach_lead(caller, assigned_user_id, in_subtree):
        raise PermissionDenied(f"{caller.subject} may not access lead {lead_id}")


def ensure_can_create_leads(caller: Identity) -> None:
    """Any rep, manager, marketing user or admin may capture leads."""
    if not caller.has_any(ROLE_REP, ROLE_MANAGER, ROLE_MARKETING):
        raise PermissionDenied(f"{caller.subject} may not create leads")


def assignment_refusal(caller: Identity, assignee: str, in_subtree: InSubtree) -> str | None:
    """Why the caller may not give a lead to `assignee` (empty: nobody), or None when they may.
    A rep may take a lead themselves or leave it unassigned; a manager may give it to anyone in
    their subtree; marketing and admins to anyone."""
    if not assignee or assignee == caller.subject or sees_every_lead(caller):
        return None
    if ROLE_MANAGER in caller.roles:
        if in_subtree(assignee):
            return None
        return f"{assignee} is not in the reporting lines under {caller.subject}"
    return f"{caller.subject} may assign leads only to themselves"


def ensure_can_assign(caller: Identity, assignee: str, in_subtree: InSubtree) -> None:
    if (refusal := assignment_refusal(caller, assignee, in_subtree)) is not None:
        raise PermissionDenied(refusal)


def deal_owner_refusal(caller: Identity, owner_user_id: str, in_subtree: InSubtree) -> str | None:
    """Why the caller may not have a converted lead's opportunity owned by this user, or None when
    they may: the rule the opportunities service applies to its users (their own deals, a manager's
    subtree's, an admin's anyone's). Leads checks it because it creates the deal as a service."""
    if caller.is_admin or owner_user_id == caller.subject:
        return None
    if ROLE_MANAGER in caller.roles and in_subtree(owner_user_id):
        return None
    return f"{caller.subject} may not access opportunities owned by {owner_user_id}"


def ensure_can_give_deal_to(caller: Identity, owner_user_id: str, in_subtree: InSubtree) -> None:
    if (refusal := deal_owner_refusal(caller, owner_user_id, in_subtree)) is not None:
        raise PermissionDenied(refusal)


def ensure_can_move_open_work(caller: Identity) -> None:
    """Counting and moving a user's open leads wholesale (a user leaving) is for the services
    allowed to (forecasting) and admins."""
    if not (caller.is_service or caller.is_admin):
        raise PermissionDenied(
            f"only admins and Salesplane's services may move a user's open leads; {caller.subject} may not"
        )


def ensure_can_manage_marketing(caller: Identity, what: str) -> None:
    """Lead sources, campaigns and scoring rules are marketing's (and admins')."""
    if not (caller.is_admin or ROLE_MARKETING in caller.roles):
        raise PermissionDenied(f"only marketing and admins may change {what}")


@dataclass(frozen=True)
class LeadScope:
    """Which leads a caller may list: every lead, or those assigned to `user_id` (and to that
    user's subtree when `subtree`), plus unassigned ones when `unassigned`."""

    everything: bool = False
    user_id: str = ""
    subtree: bool = False
    unassigned: bool = False


def lead_scope(caller: Identity) -> LeadScope:
    if sees_every_lead(caller):
        return LeadScope(everything=True)
    if ROLE_MANAGER in caller.roles:
        return LeadScope(user_id=caller.subject, subtree=True, unassigned=True)
    return LeadScope(user_id=caller.subject)
