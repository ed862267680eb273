"""Keeps the read models up to date from the opportunities and leads events.

The consumer runner hands over, per aggregate, only the newest version not applied yet, inside the
batch transaction; since every event carries its aggregate's full state, applying it is an upsert.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy.orm import Session

from salesplane.leads.v1 import events_pb2 as lead_events_pb2
from salesplane.opportunities.v1 import events_pb2 as opportunity_events_pb2
from salesplane_platform import topics
from salesplane_platform.consumer_runner import ConsumedEvent, Rejection
from salesplane_platform.events import MalformedEvent, unpack_payload
from salesplane_reporting.adapters.read_model_store import SqlReadModels
from salesplane_reporting.adapters.report_mapping import lead_view_from_proto, opportunity_view_from_proto
from salesplane_reporting.domain.read_models import LeadView, OpportunityView

log = logging.getLogger(__name__)

V = TypeVar("V")

OPPORTUNITIES_TOPIC = topics.OPPORTUNITIES
LEADS_TOPIC = topics.LEADS

OPPORTUNITY_CHANGED = opportunity_events_pb2.OpportunityChanged.DESCRIPTOR.full_name
LEAD_CHANGED = lead_events_pb2.LeadChanged.DESCRIPTOR.full_name


class ReadModelProjector:
    topics: Sequence[str] = (OPPORTUNITIES_TOPIC, LEADS_TOPIC)

    def apply(self, session: Session, events: Sequence[ConsumedEvent]) -> list[Rejection]:
        # Newest state per id (None: deleted). The runner already passes one event per aggregate;
        # keeping the newest here too makes the handler safe on its own.
        opportunities: dict[str, tuple[int, OpportunityView | None]] = {}
        leads: dict[str, tuple[int, LeadView]] = {}
        rejected: list[Rejection] = []
        for event in events:
            envelope = event.envelope
            version = envelope.aggregate_version
            try:
                if envelope.event_type == OPPORTUNITY_CHANGED:
                    changed = unpack_payload(envelope, opportunity_events_pb2.OpportunityChanged)
                    view = None
                    if changed.kind != opportunity_events_pb2.CHANGE_KIND_DELETED:
                        view = opportunity_view_from_proto(changed.opportunity, version=version)
                    _keep_newest(opportunities, envelope.aggregate_id, version, view)
                elif envelope.event_type == LEAD_CHANGED:
                    lead = unpack_payload(envelope, lead_events_pb2.LeadChanged).lead
                    _keep_newest(
                        leads, envelope.aggregate_id, version, lead_view_from_proto(lead, version=version)
                    )
                else:
                    log.debug(
                        "ignoring an event type reporting does not use",
                        extra={"event_type": envelope.event_type, "topic": event.record.topic},
                    )
            except MalformedEvent as error:
                # Retrying cannot fix a payload that does not match its type: dead-letter it.
                rejected.append(Rejection(event, str(error)))
        read_models = SqlReadModels(session)
        read_models.save_opportunities([v for _, v in opportunities.values() if v is not None])
        read_models.remove_opportunities(sorted(i for i, (_, v) in opportunities.items() if v is None))
        read_models.save_leads([v for _, v in leads.values()])
        return rejected


def _keep_newest(newest: dict[str, tuple[int, V]], aggregate_id: str, version: int, state: V) -> None:
    held = newest.get(aggregate_id)
    if held is None or version > held[0]:
        newest[aggregate_id] = (version, state)
