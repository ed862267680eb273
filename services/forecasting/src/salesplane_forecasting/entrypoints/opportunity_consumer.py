"""Consumes opportunity events into rollups and the pipeline inspection's deal history: decodes each
batch into deal states for the rollups use case, which replaces each deal's old contribution with
its new one for its owner and every manager above them, and into versions that fold into each deal's
facts; the sales-stage catalogue on the same topic gives those facts their stage order."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from salesplane.opportunities.v1 import events_pb2
from salesplane_forecasting.adapters.deal_facts_mapping import deal_version_of
from salesplane_forecasting.adapters.opportunity_mapping import deal_of
from salesplane_forecasting.adapters.sql_unit_of_work import SqlRollupStores
from salesplane_forecasting.domain.deals import Deal
from salesplane_forecasting.service_layer.inspection_history import (
    ArrivedVersion,
    StageCatalogue,
    fold_versions,
    record_catalogue,
)
from salesplane_forecasting.service_layer.rollups import apply_deal_states
from salesplane_platform import topics
from salesplane_platform.consumer_runner import ConsumedEvent, Rejection
from salesplane_platform.events import MalformedEvent, unpack_payload

OPPORTUNITIES_TOPIC = topics.OPPORTUNITIES
OPPORTUNITY_CHANGED = events_pb2.OpportunityChanged.DESCRIPTOR.full_name
SALES_STAGES_CHANGED = events_pb2.SalesStagesChanged.DESCRIPTOR.full_name


class OpportunityRollupHandler:
    topics: Sequence[str] = (OPPORTUNITIES_TOPIC,)
    # Each deal's applied version is in tracked_opportunities, read under its row lock anyway.
    keeps_versions = True
    # Every version of a batch, in version order per aggregate: the deal history counts each push
    # and setback, which the newest version alone would hide. The rollups take the newest.
    keeps_history = True

    def __init__(self, base_currency: str) -> None:
        self._base_currency = base_currency

    def apply(self, session: Session, events: Sequence[ConsumedEvent]) -> list[Rejection]:
        arrived: dict[str, Deal] = {}
        versions: list[ArrivedVersion] = []
        catalogue: StageCatalogue | None = None
        rejected: list[Rejection] = []
        for consumed in events:
            envelope = consumed.envelope
            if envelope.event_type == SALES_STAGES_CHANGED:
                try:
                    stages = unpack_payload(envelope, events_pb2.SalesStagesChanged)
                except MalformedEvent as error:
                    rejected.append(Rejection(consumed, str(error)))
                    continue
                revision = stages.revision or envelope.aggregate_version
                if catalogue is None or revision > catalogue.revision:
                    catalogue = StageCatalogue(revision, {s.name: s.order for s in stages.sales_stages})
                continue
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
            # In version order per deal: the last one kept is the newest.
            arrived[envelope.aggregate_id] = deal
            versions.append(ArrivedVersion(deal.owner_user_id, deal_version_of(event, envelope, deal, 0)))
        # The runner's session and transaction: the runner commits the batch.
        stores = SqlRollupStores(session)
        if catalogue is not None:
            # Before the batch's deals, though some of their versions may predate it: a catalogue
            # change is rare, and a stage's order is read at the time its deal is consumed.
            record_catalogue(stores.deal_facts, catalogue)
        if arrived:
            # First: it locks the deals' tracked rows, which also guards their facts' rows.
            apply_deal_states(stores, arrived, newer_only=True)
            fold_versions(stores.deal_facts, versions)
        return rejected
