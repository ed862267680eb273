"""Consumes opportunity events into rollups: each deal's new contribution replaces its old one,
for its owner and every manager above them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy.orm import Session

from salesplane.common.v1.common_pb2 import Money
from salesplane.opportunities.v1 import events_pb2, opportunities_pb2
from salesplane_forecasting.adapters import hierarchy, rollup_store, settings_store
from salesplane_forecasting.domain.contributions import (
    STATUS_DELETED,
    STATUS_LOST,
    STATUS_OPEN,
    STATUS_WON,
    merge_deltas,
)
from salesplane_forecasting.domain.deals import Deal
from salesplane_platform import topics
from salesplane_platform.consumer_runner import ConsumedEvent, Rejection
from salesplane_platform.events import MalformedEvent, unpack_payload

OPPORTUNITIES_TOPIC = topics.OPPORTUNITIES
OPPORTUNITY_CHANGED = events_pb2.OpportunityChanged.DESCRIPTOR.full_name

_STATUS = {
    opportunities_pb2.OPPORTUNITY_STATUS_OPEN: STATUS_OPEN,
    opportunities_pb2.OPPORTUNITY_STATUS_WON: STATUS_WON,
    opportunities_pb2.OPPORTUNITY_STATUS_LOST: STATUS_LOST,
}


def deal_of(event: events_pb2.OpportunityChanged, version: int, base_currency: str) -> Deal:
    """The deal an event describes (not yet placed in periods and stages)."""
    opportunity = event.opportunity
    close = opportunity.expected_close_date
    try:
        close_date = date(close.year, close.month, close.day)
    except ValueError as error:
        raise MalformedEvent(f"opportunity {opportunity.id} has no valid close date") from error
    if not opportunity.owner_user_id:
        raise MalformedEvent(f"opportunity {opportunity.id} has no owner")
    status = (
        STATUS_DELETED if event.kind == events_pb2.CHANGE_KIND_DELETED else _STATUS.get(opportunity.status)
    )
    if status is None:
        raise MalformedEvent(f"opportunity {opportunity.id} has an unknown status {opportunity.status}")
    base = opportunity.amount_base
    if base.currency_code != base_currency:
        raise MalformedEvent(
            f"opportunity {opportunity.id} is valued in {base.currency_code or 'no currency'}, "
            f"but forecasts are kept in {base_currency}"
        )
    return Deal(
        opportunity_id=opportunity.id,
        version=version,
        owner_user_id=opportunity.owner_user_id,
        status=status,
        close_date=close_date,
        currency=opportunity.amount.currency_code,
        amount_minor=opportunity.amount.amount_minor,
        probability=opportunity.probability,
        name=opportunity.name,
        account_name=opportunity.account_name,
        sales_stage=opportunity.sales_stage,
        likely_minor=base.amount_minor,
        best_minor=_base_or(opportunity.best_case_base, base.amount_minor),
        worst_minor=_base_or(opportunity.worst_case_base, base.amount_minor),
    )


def _base_or(value: Money, fallback: int) -> int:
    return value.amount_minor if value.currency_code else fallback


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
            apply_deal_states(session, arrived, newer_only=True)
        return rejected


def apply_deal_states(session: Session, arrived: dict[str, Deal], *, newer_only: bool = False) -> None:
    """Replace the tracked state of these deals and move every rollup they touch by the difference.

    With newer_only (consumed events), a state not newer than the one applied is passed over;
    without it (a rep's new commit stage), the deal is placed again as it is."""
    hierarchy.lock_hierarchy(session, exclusive=False)
    settings = settings_store.load(session)
    previous = rollup_store.load_tracked(session, arrived, for_update=True)
    if newer_only:
        # Duplicates, replays and states older than what is applied change nothing.
        arrived = {
            i: deal for i, deal in arrived.items() if i not in previous or deal.version > previous[i].version
        }
    # Read only once the deals' rows are locked: a rep's commit stage set meanwhile (under the same
    # row lock) is then seen, not overwritten by a placement made with the old one.
    overrides = rollup_store.overrides_of(session, arrived)
    placed = {
        opportunity_id: deal.placed(settings, overrides.get(opportunity_id))
        for opportunity_id, deal in arrived.items()
    }
    changes = [
        (previous[i].contribution if i in previous else None, deal.contribution) for i, deal in placed.items()
    ]
    owners = {c.owner_user_id for pair in changes for c in pair if c is not None}
    deltas = merge_deltas(changes, hierarchy.chains_of(session, owners))
    rollup_store.apply_deltas(session, deltas)
    rollup_store.save_tracked(session, placed.values())
