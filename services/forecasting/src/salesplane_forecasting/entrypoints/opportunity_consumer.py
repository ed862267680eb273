"""Consumes opportunity events into rollups: decodes each batch into deal states and hands them to
the rollups use case, which replaces each deal's old contribution with its new one for its owner
and every manager above them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from salesplane.opportunities.v1 import events_pb2
from salesplane_forecasting.adapters.opportunity_mapping import deal_of
from salesplane_forecasting.adapters.sql_unit_of_work import SqlRollupStores
from salesplane_forecasting.domain.deals import Deal
from salesplane_forecasting.service_layer.rollups import apply_deal_states
from salesplane_platform import topics
from salesplane_platform.consumer_runner import ConsumedEvent, Rejection
from salesplane_platform.events import MalformedEvent, unpack_payload

OPPORTUNITIES_TOPIC = topics.OPPORTUNITIES
OPPORTUNITY_CHANGED = events_pb2.OpportunityChanged.DESCRIPTOR.full_name


class OpportunityRollupHandler:
    topics: Sequence[str] = (OPPORTUNITIES_TOPIC,)
    # Each deal's applied version is in tracked_opportunities, read under its row lock anyway.
    keeps_versions = True

    def __init__(self, base_currency: str) -> None:
        self._base_currency = base_currency

    def apply(self, session: Session, events: Sequence[ConsumedEvent]) -> list[Rejection]:
        arrived: dict[str, Deal] = {}
        rejected: list[Rejection] = []
        for consumed in events:
            envelope = consumed.envelope
            if envelope.event_type != OPPORTUNITY_CHANGED:
                continue
            try:
                event = unpack_payload(envelope, events_pb2.OpportunityChanged)
                if event.opportunity.id != envelope.aggregate_id:
                    raise MalformedEvent("opportunity id differs from the aggregate id")
                deal = deal_of(event, envelope.aggregate_version, self._base_currency)
            except MalformedEvent as error:
                # Retrying cannot fix it: the deal keeps its last good contribution.
                rejected.append(Rejection(consumed, str(error)))
                continue
            arrived[envelope.aggregate_id] = deal
        if arrived:
            # The runner's session and transaction: the runner commits the batch.
            apply_deal_states(SqlRollupStores(session), arrived, newer_only=True)
        return rejected
