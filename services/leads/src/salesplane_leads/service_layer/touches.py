"""Use cases on lead touches: record one (idempotent by touch key) and read a lead's history.
Whoever may change a lead records its touches; whoever may read it reads them."""

from __future__ import annotations

from datetime import UTC, datetime

from salesplane_leads.domain.touches import TouchHistory, TouchInput, check_touch, ensure_lead_takes_touches
from salesplane_leads.service_layer.leads import load_reachable_lead
from salesplane_leads.service_layer.request_checks import require_uuid, retry_lost_races
from salesplane_leads.service_layer.touch_recording import (
    RecordedTouch,
    check_campaigns_exist,
    record_touches,
)
from salesplane_leads.service_layer.unit_of_work import LeadsUnitOfWork
from salesplane_platform.errors import Validator
from salesplane_platform.identity import Identity

TOUCH_PREFIX = "touch."


def record_touch(*, lead_id: str, touch: TouchInput, caller: Identity, uow: LeadsUnitOfWork) -> RecordedTouch:
    """Record a lead's contact with a campaign; a key recorded before returns the first touch."""
    require_uuid("lead_id", lead_id)
    now = datetime.now(UTC)
    check = Validator()
    checked = check_touch(check, touch, now=now, prefix=TOUCH_PREFIX)
    check.raise_if_invalid()
    assert checked is not None

    def record() -> RecordedTouch:
        with uow.acting_for(caller.subject):
            lead = load_reachable_lead(uow, lead_id, caller)
            # A retry answers from the first touch even if the lead was merged since.
            if earlier := uow.touches.find_by_keys(lead.id, [checked.touch_key]).get(checked.touch_key):
                return RecordedTouch(earlier, created=False)
            ensure_lead_takes_touches(lead.id, lead.merged_into_lead_id)
            check_campaigns_exist(uow, [checked], field_of=lambda _: f"{TOUCH_PREFIX}campaign_id")
            [recorded] = record_touches(uow, lead_id=lead.id, touches=[checked], now=now)
            uow.commit()
        return recorded

    # The same key sent twice at once: the loser's insert fails on the unique key, and its retry
    # finds the winner's touch.
    return retry_lost_races(record)


def list_touches(*, lead_id: str, caller: Identity, uow: LeadsUnitOfWork) -> TouchHistory:
    """The lead's touches, oldest first, with its first and last."""
    require_uuid("lead_id", lead_id)
    with uow:
        lead = load_reachable_lead(uow, lead_id, caller)
        return TouchHistory.of(uow.touches.of_lead(lead.id))
