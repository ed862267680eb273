"""User-defined reports: a definition with an owner and a sharing level."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from salesplane_platform.errors import PermissionDenied
from salesplane_platform.identity import Identity

MAX_TITLE = 200
MAX_DESCRIPTION = 2000


class Sharing(StrEnum):
    # Only the owner (and admins).
    PRIVATE = "private"
    # The owner's team: everyone under the owner's manager, the manager included.
    TEAM = "team"
    EVERYONE = "everyone"


@dataclass(frozen=True)
class SavedReport:
    report_id: str
    owner_user_id: str
    sharing: Sharing
    title: str
    description: str
    # The definition document as the API took it (validated when saved and again when run).
    document: Mapping[str, Any]
    version: int
    create_time: datetime
    update_time: datetime


def ensure_may_change(caller: Identity, report: SavedReport) -> None:
    if caller.is_admin or caller.subject == report.owner_user_id:
        return
    raise PermissionDenied(
        f"{caller.subject} may not change {report.owner_user_id}'s report {report.report_id}"
    )
