"""Consumes opportunity events into rollups: each deal's new contribution replaces its old one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy.orm import Session

from salesplane.opportunities.v1 import events_pb2, opportunities_pb2
from salesplane_forecasting.adapters import rollup_store
from salesplane_forecasting.domain.contributions import Contribution, merge_deltas
from salesplane_forecasting.domain.periods import quarter_of
from salesplane_platform.consumer_runner import ConsumedEvent, Rejection
from salesplane_platform.events import MalformedEvent, unpack_payload

OPPORTUNITIES_TOPIC = "salesplane.opportunities.v1"
OPPORTUNITY_CHANGED = events_pb2.OpportunityChanged.DESCRIPTOR.full_name


def contribution_of(event: events_pb2.OpportunityChanged) -> Contribution | None:
    opportunity = event.opportunity
    if (
        event.kind == events_pb2.CHANGE_KIND_DELETED
        or opportunity.status == opportunities_pb2.OPPORTUNITY_STATUS_LOST
    ):
        return None
    close = opportunity.expected_close_date
    try:
        close_date = date(close.year, close.month, close.day)
    except ValueError as error:
        raise MalformedEvent(f"opportunity {opportunity.id} has no valid close date") from error
    return Contribution(
        owner_user_id=opportunity.owner_user_id,
        period_id=quarter_of(close_date),
        currency=opportunity.amount.currency_code,
        amount_minor=opportunity.amount.amount_minor,
        probability=opportunity.probability,
    )


class OpportunityRollupHandler:
    topics: Sequence[str] = (OPPORTUNITIES_TOPIC,)

    def apply(self, session: Session, events: Sequence[ConsumedEvent]) -> list[Rejection]:
        current: dict[str, tuple[Contribution | None, int]] = {}
        rejected: list[Rejection] = []
        for consumed in events:
            if consumed.envelope.event_type != OPPORTUNITY_CHANGED:
                continue
            try:
                contribution = contribution_of(
                    unpack_payload(consumed.envelope, events_pb2.OpportunityChanged)
                )
            except MalformedEvent as error:
                # Retrying cannot fix it: the deal keeps its last good contribution.
                rejected.append(Rejection(consumed, str(error)))
                continue
            current[consumed.envelope.aggregate_id] = (contribution, consumed.envelope.aggregate_version)
        if not current:
            return rejected
        previous = rollup_store.load_contributions(session, current)
        deltas = merge_deltas((previous.get(oid), new) for oid, (new, _) in current.items())
        rollup_store.apply_deltas(session, deltas)
        rollup_store.save_contributions(session, current)
        return rejected
