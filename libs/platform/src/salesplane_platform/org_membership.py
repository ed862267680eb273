"""Who may own deals and leads: an active user of the organisation. Pure rules, so that the use
cases of every service apply them (the membership itself is read by each service's adapters, from
its replica of the organisation: org_replica.ReportingLines.is_active)."""

from __future__ import annotations

from salesplane_platform.errors import FailedPrecondition


def member_refusal(user_id: str, active: bool | None) -> str | None:
    """Why records cannot be owned by or assigned to this user, or None when they can: only an
    active user of the organisation owns deals and leads (else their pipeline would roll up to no
    one). A user created a moment ago reaches this service's replica by event, usually within a
    second: the refusal says so, and a retry succeeds."""
    if active is None:
        return (
            f"{user_id!r} is not a user of the organisation (a user created a moment ago may not "
            "have reached this service yet: retry shortly)"
        )
    if not active:
        return f"user {user_id!r} is deactivated"
    return None


def ensure_active_member(user_id: str, active: bool | None, *, field: str) -> None:
    """FAILED_PRECONDITION (reason OWNER_NOT_ACTIVE) naming the user and the field."""
    if (refusal := member_refusal(user_id, active)) is not None:
        raise FailedPrecondition(f"{field}: {refusal}", reason="OWNER_NOT_ACTIVE")
