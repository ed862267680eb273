"""A deal's inspection facts as the JSON document of deal_facts.facts, and opportunity events as the
versions the facts fold.

The document holds what the row's columns do not, with short keys and the lists as arrays of
arrays: it is rewritten on every event of the deal, and its lists are bounded by MAX_KEPT."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import orjson

from salesplane.events.v1.envelope_pb2 import EventEnvelope
from salesplane.opportunities.v1 import events_pb2
from salesplane_forecasting.domain.contributions import DealStatus
from salesplane_forecasting.domain.deals import Deal
from salesplane_forecasting.domain.inspection.deal_history import (
    CloseDateChange,
    DealFacts,
    DealVersion,
    Setback,
    SetbackKind,
    StageStay,
)


def deal_version_of(
    event: events_pb2.OpportunityChanged, envelope: EventEnvelope, deal: Deal, stage_order: int
) -> DealVersion:
    """The version of a consumed event whose deal deal_of already checked; amounts in base currency."""
    opportunity = event.opportunity
    stamp = opportunity.update_time if opportunity.HasField("update_time") else envelope.occurred_at
    return DealVersion(
        opportunity_id=deal.opportunity_id,
        version=deal.version,
        sales_stage=deal.sales_stage,
        stage_order=stage_order,
        probability=deal.probability,
        amount_minor=deal.likely_minor,
        close_date=deal.close_date,
        status=deal.status,
        next_step=opportunity.next_step,
        updated_at=stamp.ToDatetime(tzinfo=UTC),
        revaluation=event.kind == events_pb2.CHANGE_KIND_REVALUED,
    )


def facts_to_json(facts: DealFacts) -> str:
    # orjson writes dates and aware datetimes in ISO 8601 itself (as isoformat() would), in C: this
    # runs for every consumed event, and the json module cost more than the fold it records.
    document = {
        "stage": facts.sales_stage,
        "order": facts.stage_order,
        "probability": facts.probability,
        "no_next_step": facts.next_step_empty,
        "stage_entered_at": facts.stage_entered_at,
        "last_changed_at": facts.last_changed_at,
        "pushes": facts.push_count,
        # [old, new, at]
        "close_dates": [[c.old, c.new, c.at] for c in facts.close_date_changes],
        # [kind, old, new, at, old stage, new stage]
        "setbacks": [[s.kind.value, s.old, s.new, s.at, s.old_stage, s.new_stage] for s in facts.setbacks],
        # [stage, seconds]
        "stays": [[s.sales_stage, s.seconds] for s in facts.stays],
    }
    return orjson.dumps(document).decode()


def facts_from_row(
    *,
    opportunity_id: str,
    version: int,
    close_date: date,
    status: str,
    amount_minor: int,
    facts: str,
) -> DealFacts:
    document: dict[str, Any] = orjson.loads(facts)
    return DealFacts(
        opportunity_id=opportunity_id,
        version=version,
        sales_stage=document["stage"],
        stage_order=document["order"],
        probability=document["probability"],
        amount_minor=amount_minor,
        close_date=close_date,
        status=DealStatus(status),
        next_step_empty=document["no_next_step"],
        stage_entered_at=_instant(document["stage_entered_at"]),
        last_changed_at=_instant(document["last_changed_at"]),
        push_count=document["pushes"],
        close_date_changes=tuple(
            CloseDateChange(date.fromisoformat(old), date.fromisoformat(new), _instant(at))
            for old, new, at in document["close_dates"]
        ),
        setbacks=tuple(
            Setback(SetbackKind(kind), old, new, _instant(at), old_stage, new_stage)
            for kind, old, new, at, old_stage, new_stage in document["setbacks"]
        ),
        stays=tuple(StageStay(stage, seconds) for stage, seconds in document["stays"]),
    )


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
