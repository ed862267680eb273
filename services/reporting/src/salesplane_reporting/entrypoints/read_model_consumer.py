"""Keeps the read models current from the opportunities, leads and forecasting events.

The handler keeps every opportunity version (history), so the runner hands it each distinct
version once; idempotence is in the writes themselves: history rows are keyed by version and every
current-state row changes only for a newer version, all inside the batch transaction.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from salesplane.forecasting.v1 import org_pb2, quotas_pb2, settings_pb2, worksheets_pb2
from salesplane.leads.v1 import events_pb2 as lead_events_pb2
from salesplane.opportunities.v1 import events_pb2 as opportunity_events_pb2
from salesplane_platform import topics
from salesplane_platform.consumer_runner import ConsumedEvent, Rejection
from salesplane_platform.events import MalformedEvent, unpack_payload
from salesplane_reporting.adapters import event_mapping, tables
from salesplane_reporting.adapters.pipeline_rollup import lock_organisation
from salesplane_reporting.adapters.read_model_store import ReadModelWriter
from salesplane_reporting.domain.opportunity_history import OpportunityVersion

log = logging.getLogger(__name__)

TOPICS = (topics.OPPORTUNITIES, topics.LEADS, topics.FORECASTING)


def _name(message: type[Message]) -> str:
    return str(message.DESCRIPTOR.full_name)


class _Batch:
    """What one batch brings, sorted by kind, before it is written."""

    def __init__(self) -> None:
        self.stages: tuple[list[dict[str, object]], int] | None = None
        self.opportunities: list[tuple[ConsumedEvent, opportunity_events_pb2.OpportunityChanged]] = []
        self.users: list[dict[str, object]] = []
        self.users_changed_at: datetime | None = None
        self.rows: dict[str, list[dict[str, object]]] = defaultdict(list)
        self.commits: list[dict[str, object]] = []
        self.campaigns: list[dict[str, object]] = []
        self.campaign_costs: dict[str, list[dict[str, object]]] = {}
        # Each lead version with when it happened: the funnel's milestones are those times.
        self.leads: list[tuple[dict[str, object], datetime]] = []
        self.touches: dict[str, dict[str, object]] = {}


def _occurred(event: ConsumedEvent) -> datetime:
    return event_mapping.timestamp(event.envelope.occurred_at) or datetime.now(UTC)


def _on_opportunity(batch: _Batch, event: ConsumedEvent) -> None:
    changed = unpack_payload(event.envelope, opportunity_events_pb2.OpportunityChanged)
    batch.opportunities.append((event, changed))


def _on_stages(batch: _Batch, event: ConsumedEvent) -> None:
    changed = unpack_payload(event.envelope, opportunity_events_pb2.SalesStagesChanged)
    if batch.stages is None or changed.revision > batch.stages[1]:
        batch.stages = (event_mapping.stage_rows(changed), changed.revision)


def _on_user(batch: _Batch, event: ConsumedEvent) -> None:
    user = unpack_payload(event.envelope, org_pb2.UserChanged).user
    if user.user_id != event.envelope.aggregate_id:
        raise MalformedEvent("user id differs from the aggregate id")
    occurred = _occurred(event)
    batch.users.append(event_mapping.user_row(user, event.envelope.aggregate_version, occurred))
    if batch.users_changed_at is None or occurred > batch.users_changed_at:
        batch.users_changed_at = occurred


def _on_settings(batch: _Batch, event: ConsumedEvent) -> None:
    settings = unpack_payload(event.envelope, settings_pb2.ForecastSettingsChanged).settings
    batch.rows["settings"].append(event_mapping.settings_row(settings, event.envelope.aggregate_version))


def _on_quota(batch: _Batch, event: ConsumedEvent) -> None:
    quota = unpack_payload(event.envelope, quotas_pb2.QuotaCommitted).quota
    batch.rows["quotas"].append(
        event_mapping.quota_row(quota, event.envelope.aggregate_version, _occurred(event))
    )


def _on_commit(batch: _Batch, event: ConsumedEvent) -> None:
    commit = unpack_payload(event.envelope, worksheets_pb2.ForecastCommitted).commit
    if commit.committed:
        batch.commits.append(event_mapping.commit_row(commit, _occurred(event)))


def _on_lead(batch: _Batch, event: ConsumedEvent) -> None:
    lead = unpack_payload(event.envelope, lead_events_pb2.LeadChanged).lead
    batch.leads.append((event_mapping.lead_row(lead, event.envelope.aggregate_version), _occurred(event)))


def _on_touch(batch: _Batch, event: ConsumedEvent) -> None:
    touch = unpack_payload(event.envelope, lead_events_pb2.LeadTouched).touch
    row = event_mapping.touch_row(event.envelope, touch)
    batch.touches[str(row["touch_id"])] = row


def _on_exchange_rate(batch: _Batch, event: ConsumedEvent) -> None:
    rate = unpack_payload(event.envelope, opportunity_events_pb2.ExchangeRateChanged).rate
    batch.rows["exchange_rates"].append(
        event_mapping.exchange_rate_row(rate, event.envelope.aggregate_version)
    )


def _on_lead_source(batch: _Batch, event: ConsumedEvent) -> None:
    source = unpack_payload(event.envelope, lead_events_pb2.LeadSourceChanged).lead_source
    batch.rows["lead_sources"].append(event_mapping.lead_source_row(source, event.envelope.aggregate_version))


def _on_campaign(batch: _Batch, event: ConsumedEvent) -> None:
    campaign = unpack_payload(event.envelope, lead_events_pb2.CampaignChanged).campaign
    row, costs = event_mapping.campaign_rows(campaign, event.envelope.aggregate_version)
    held = max((int(str(c["version"])) for c in batch.campaigns if c["id"] == row["id"]), default=0)
    if held < event.envelope.aggregate_version:
        batch.campaigns.append(row)
        batch.campaign_costs[campaign.id] = costs


_HANDLERS: dict[str, Callable[[_Batch, ConsumedEvent], None]] = {
    _name(opportunity_events_pb2.OpportunityChanged): _on_opportunity,
    _name(opportunity_events_pb2.SalesStagesChanged): _on_stages,
    _name(opportunity_events_pb2.ExchangeRateChanged): _on_exchange_rate,
    _name(org_pb2.UserChanged): _on_user,
    _name(settings_pb2.ForecastSettingsChanged): _on_settings,
    _name(quotas_pb2.QuotaCommitted): _on_quota,
    _name(worksheets_pb2.ForecastCommitted): _on_commit,
    _name(lead_events_pb2.LeadChanged): _on_lead,
    _name(lead_events_pb2.LeadSourceChanged): _on_lead_source,
    _name(lead_events_pb2.CampaignChanged): _on_campaign,
    _name(lead_events_pb2.LeadTouched): _on_touch,
}

_NEWEST_TABLES: dict[str, tuple[Any, list[str]]] = {
    "settings": (tables.fiscal_settings, ["id"]),
    "quotas": (tables.quota_view, ["user_id", "period_id", "kind"]),
    "lead_sources": (tables.lead_source_view, ["id"]),
    "exchange_rates": (tables.exchange_rate_view, ["currency", "effective_from"]),
}


class ReadModelProjector:
    topics: Sequence[str] = TOPICS
    # Every opportunity version is kept, so the runner passes them all (see keeps_history).
    keeps_history = True

    def apply(self, session: Session, events: Sequence[ConsumedEvent]) -> list[Rejection]:
        batch = _Batch()
        rejected: list[Rejection] = []
        for event in events:
            handle = _HANDLERS.get(event.envelope.event_type)
            if handle is None:
                continue
            try:
                handle(batch, event)
            except MalformedEvent as error:
                # Retrying cannot fix a payload that does not match its type: dead-letter it.
                rejected.append(Rejection(event, str(error)))
        writer = ReadModelWriter(session)
        if batch.users or batch.opportunities:
            # Deltas of the pipeline rollup read the organisation; a change of it rebuilds the
            # rollup: the two exclude each other (a batch with users takes it exclusively at once,
            # so it never waits to upgrade a shared hold).
            lock_organisation(session, exclusive=bool(batch.users))
        if batch.stages is not None:
            writer.save_stages(*batch.stages)
        if batch.opportunities:
            orders = writer.stage_orders()
            versions: list[OpportunityVersion] = []
            for event, changed in batch.opportunities:
                versions.append(event_mapping.opportunity_version(event.envelope, changed, orders))
            writer.save_opportunity_versions(versions)
        if batch.users and batch.users_changed_at is not None:
            writer.save_users(batch.users, batch.users_changed_at)
        for name, rows in batch.rows.items():
            table, keys = _NEWEST_TABLES[name]
            writer.save_newest(table, keys, rows)
        writer.save_leads(batch.leads)
        writer.save_touches(list(batch.touches.values()))
        writer.save_commits(batch.commits)
        writer.save_campaigns(batch.campaigns, batch.campaign_costs)
        return rejected
