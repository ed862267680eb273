"""Converting a lead into an opportunity, across two services, all or nothing in effect.

1. Record a pending conversion (one transaction). From then on the lead cannot change, except by
   completing the conversion.
2. Ask the opportunities service for the opportunity, with a request id derived from the lead id:
   however often this is asked, there is one opportunity. The leads service asks as itself (its
   service credentials, which opportunities lets create deals only for a conversion), naming the
   caller only for the record; so it first checks what opportunities would have checked of the
   caller: that they may have the deal owned by its owner.
3. Mark the lead Converted with the opportunity id and publish LeadChanged CONVERTED (one
   transaction).

A crash or timeout after 1 or 2 leaves the conversion pending; calling ConvertLead again completes
it with the same opportunity. Only the user who started it may: the opportunity is made on their
behalf, after the checks of their rights, and is recorded as theirs. A lead
already converted answers with its opportunity. If the opportunities service refuses (bad input,
no permission), nothing was created: the pending record is dropped, unless an earlier attempt
ended without an answer (it may have created the opportunity, so the lead stays pending until a
retry succeeds).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from salesplane_leads.domain.access import ensure_can_give_deal_to
from salesplane_leads.domain.conversion import ConversionRequest, OpportunityOrder, plan_opportunity
from salesplane_leads.domain.lead import Lead
from salesplane_leads.service_layer.leads import load_reachable_lead, subtree_of
from salesplane_leads.service_layer.request_checks import require_uuid
from salesplane_leads.service_layer.unit_of_work import LeadsUnitOfWork
from salesplane_platform.errors import Conflict, DomainError, FailedPrecondition, Unavailable
from salesplane_platform.identity import Identity


class OpportunityServiceUnavailable(Unavailable):
    """The opportunities service did not answer (down, overloaded, too slow): whether it acted is
    unknown. Retrying the conversion is safe."""


class OpportunityRejected(Exception):
    """The opportunities service refused, so it created nothing; `error` is what the caller gets."""

    def __init__(self, error: DomainError) -> None:
        super().__init__(error.message)
        self.error = error


class OpportunityService(Protocol):
    """The opportunities service, called with the leads service's own credentials; `on_behalf_of`
    names the user it acts for, for the record only. Raises OpportunityRejected or
    OpportunityServiceUnavailable."""

    def first_open_stage(self, *, on_behalf_of: str) -> str: ...

    def create_opportunity(self, order: OpportunityOrder, *, on_behalf_of: str) -> str:
        """Create (or, for a request id seen before, find) the opportunity; return its id."""


@dataclass(frozen=True)
class Conversion:
    lead: Lead
    opportunity_id: str


def convert_lead(
    *,
    lead_id: str,
    request: ConversionRequest,
    caller: Identity,
    uow: LeadsUnitOfWork,
    opportunities: OpportunityService,
) -> Conversion:
    """Create the opportunity for the lead and mark the lead Converted (idempotent)."""
    require_uuid("lead_id", lead_id)
    with uow.acting_for(caller.subject):
        lead = load_reachable_lead(uow, lead_id, caller)
        if lead.is_converted:
            return Conversion(lead, lead.converted_opportunity_id)
        pending = uow.conversions.pending(lead_id)
        if pending is not None and pending.requested_by != caller.subject:
            # The opportunity is made on behalf of whoever started the conversion, after the checks
            # of their rights, and recorded as theirs: another user's retry would change both.
            raise FailedPrecondition(
                f"{pending.requested_by} started converting lead {lead_id} and only they can complete it;"
                " they should call ConvertLead again",
                reason="CONVERSION_PENDING",
            )
        lead.conversion_pending = False  # resuming one's own pending conversion is what this is for
        lead.ensure_convertible()
        order = plan_opportunity(lead, request)
        ensure_can_give_deal_to(caller, order.owner_user_id, subtree_of(caller, uow))
        attempts = uow.conversions.start_attempt(
            lead_id, request_id=order.request_id, requested_by=caller.subject, at=datetime.now(UTC)
        )
        uow.commit()

    try:
        if not order.sales_stage:
            order = replace(order, sales_stage=opportunities.first_open_stage(on_behalf_of=caller.subject))
        opportunity_id = opportunities.create_opportunity(order, on_behalf_of=caller.subject)
    except OpportunityRejected as refusal:
        if attempts == 1:
            _release_if_only_attempt(uow, lead_id)
        raise refusal.error from None

    for attempt in range(3):
        try:
            return _record_conversion(uow, lead_id, opportunity_id, caller)
        except Conflict:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _release_if_only_attempt(uow: LeadsUnitOfWork, lead_id: str) -> None:
    with uow:
        pending = uow.conversions.pending(lead_id)
        if pending is not None and pending.attempts == 1:
            uow.conversions.forget(lead_id)
            uow.commit()


def _record_conversion(
    uow: LeadsUnitOfWork, lead_id: str, opportunity_id: str, caller: Identity
) -> Conversion:
    now = datetime.now(UTC)
    with uow.acting_for(caller.subject):
        lead = load_reachable_lead(uow, lead_id, caller)
        if lead.is_converted:  # a concurrent retry got here first
            return Conversion(lead, lead.converted_opportunity_id)
        read_version = lead.version
        lead.mark_converted(opportunity_id, now=now)
        uow.leads.save(lead, read_version=read_version, completing_conversion=True)
        uow.conversions.complete(lead_id, opportunity_id=opportunity_id, at=now)
        uow.commit()
    return Conversion(lead, opportunity_id)
