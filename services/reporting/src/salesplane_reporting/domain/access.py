"""Who may read reports."""

from __future__ import annotations

from salesplane_platform.errors import PermissionDenied
from salesplane_platform.identity import ROLE_MANAGER, ROLE_MARKETING, Identity


def ensure_can_read_reports(caller: Identity) -> None:
    """Managers, marketing and admins read reports. Reps do not yet: a report limited to their own
    pipeline comes later, and with it per-report rules."""
    if caller.has_any(ROLE_MANAGER, ROLE_MARKETING):
        return
    raise PermissionDenied(f"{caller.subject} may not read reports")
