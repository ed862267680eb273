"""Recording checked touches on a lead, shared by RecordLeadTouch, CreateLead and the import:
their campaigns must exist, and a key the lead has already is the touch recorded before."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from salesplane_leads.domain.touches import CheckedTouch, Touch
from salesplane_leads.service_layer.unit_of_work import LeadsUnitOfWork
from salesplane_platform.errors import Validator


@dataclass(frozen=True)
class RecordedTouch:
    touch: Touch
    # False when the lead had a touch with this key already (that one is `touch`).
    created: bool


def check_campaigns_exist(
    uow: LeadsUnitOfWork, touches: Sequence[CheckedTouch], *, field_of: Callable[[int], str]
) -> None:
    """FAILED_PRECONDITION on `field_of(i)` for every touch whose campaign does not exist."""
    check = Validator()
    exists: dict[str, bool] = {}
    for index, touch in enumerate(touches):
        if touch.campaign_id not in exists:
            exists[touch.campaign_id] = uow.campaigns.get(touch.campaign_id) is not None
        check.require(exists[touch.campaign_id], field_of(index), "no campaign has this id")
    check.raise_if_refused("UNKNOWN_REFERENCE")


def record_touches(
    uow: LeadsUnitOfWork, *, lead_id: str, touches: Sequence[CheckedTouch], now: datetime
) -> list[RecordedTouch]:
    """Add the touches whose keys the lead lacks (in this transaction; the commit publishes one
    LeadTouched for each). A concurrent call adding the same key first makes the add raise
    AlreadyStored: the use case runs again and finds it."""
    if not touches:
        return []
    stored = uow.touches.find_by_keys(lead_id, [touch.touch_key for touch in touches])
    recorded = []
    for checked in touches:
        if (earlier := stored.get(checked.touch_key)) is not None:
            recorded.append(RecordedTouch(earlier, created=False))
            continue
        touch = Touch.record(lead_id=lead_id, touch=checked, now=now)
        uow.touches.add(touch)
        recorded.append(RecordedTouch(touch, created=True))
    return recorded
