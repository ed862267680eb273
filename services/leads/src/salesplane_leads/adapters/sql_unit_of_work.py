"""The SQL unit of work: every repository on one session, and the events of the changed aggregates
written to the outbox in the same transaction. The repositories note the aggregates they hand out or
are given; commit collects their pending events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeAlias

from sqlalchemy import Table
from sqlalchemy.orm import Session, sessionmaker

from salesplane_leads.adapters import tables
from salesplane_leads.adapters.bookkeeping_store import SqlConversionLog, SqlCreateRequestLog, SqlImportRowLog
from salesplane_leads.adapters.lead_mapping import changed_event
from salesplane_leads.adapters.lead_store import SqlLeadRepository
from salesplane_leads.adapters.marketing_mapping import campaign_event, lead_source_event, scoring_rules_event
from salesplane_leads.adapters.marketing_store import (
    RULES_ROW_ID,
    SqlCampaignRepository,
    SqlLeadSourceRepository,
    SqlScoringRulesRepository,
)
from salesplane_leads.adapters.seen_aggregates import SeenByUnitOfWork
from salesplane_leads.adapters.touch_mapping import touch_event
from salesplane_leads.adapters.touch_store import SqlTouchRepository
from salesplane_leads.domain.lead import LeadChanged
from salesplane_leads.domain.marketing import CampaignChanged, LeadSourceChanged
from salesplane_leads.domain.scoring import ScoringRulesChanged
from salesplane_leads.domain.touches import LeadTouched
from salesplane_platform.org_replica import ReportingLines
from salesplane_platform.seen_aggregates import SeenAggregates
from salesplane_platform.unit_of_work import OutboxContext, OutboxEvent, SqlUnitOfWork

LEAD_AGGREGATE = "lead"
LEAD_SOURCE_AGGREGATE = "lead_source"
CAMPAIGN_AGGREGATE = "campaign"
SCORING_RULES_AGGREGATE = "scoring_rules"
TOUCH_AGGREGATE = "lead_touch"
LeadsEvent: TypeAlias = LeadChanged | LeadSourceChanged | CampaignChanged | ScoringRulesChanged | LeadTouched


class SqlOrgChart:
    def __init__(self, session: Session, lines: ReportingLines) -> None:
        self._session = session
        self._lines = lines

    def in_subtree(self, manager_user_id: str, user_id: str) -> bool:
        return self._lines.is_in_subtree(self._session, manager_user_id, user_id)

    def is_active(self, user_id: str) -> bool | None:
        return self._lines.is_active(self._session, user_id)


class SqlLeadsUnitOfWork(SqlUnitOfWork):
    leads: SqlLeadRepository
    lead_sources: SqlLeadSourceRepository
    campaigns: SqlCampaignRepository
    scoring_rules: SqlScoringRulesRepository
    touches: SqlTouchRepository
    create_requests: SqlCreateRequestLog
    import_rows: SqlImportRowLog
    conversions: SqlConversionLog
    org: SqlOrgChart
    seen: SeenByUnitOfWork

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        outbox: OutboxContext,
        reporting_lines: Table = tables.reporting_lines,
    ) -> None:
        super().__init__(session_factory, outbox)
        self._lines = ReportingLines(reporting_lines)

    def __enter__(self) -> SqlLeadsUnitOfWork:
        super().__enter__()
        session = self.session
        self.seen = SeenAggregates()
        self.leads = SqlLeadRepository(session, self._lines, self.seen)
        self.lead_sources = SqlLeadSourceRepository(session, self.seen)
        self.campaigns = SqlCampaignRepository(session, self.seen)
        self.scoring_rules = SqlScoringRulesRepository(session, self.seen)
        self.touches = SqlTouchRepository(session, self.seen)
        self.create_requests = SqlCreateRequestLog(session)
        self.import_rows = SqlImportRowLog(session)
        self.conversions = SqlConversionLog(session)
        self.org = SqlOrgChart(session, self._lines)
        return self

    def collect_new_events(self) -> Iterator[OutboxEvent]:
        """Take the pending events of every aggregate seen in this transaction, in the order they
        were seen."""
        for aggregate in self.seen:
            while aggregate.events:
                yield outbox_event(aggregate.events.pop(0))


def outbox_event(event: LeadsEvent) -> OutboxEvent:
    """The outbox row of a domain event: its contract payload, and the aggregate it concerns."""
    if isinstance(event, LeadChanged):
        lead = event.lead
        return OutboxEvent(changed_event(event), LEAD_AGGREGATE, lead.id, lead.version)
    if isinstance(event, LeadSourceChanged):
        source = event.lead_source
        return OutboxEvent(lead_source_event(source), LEAD_SOURCE_AGGREGATE, source.id, source.version)
    if isinstance(event, CampaignChanged):
        campaign = event.campaign
        return OutboxEvent(campaign_event(campaign), CAMPAIGN_AGGREGATE, campaign.id, campaign.version)
    if isinstance(event, LeadTouched):
        touch = event.touch
        return OutboxEvent(touch_event(touch), TOUCH_AGGREGATE, touch.id, touch.version)
    rules = event.rules
    return OutboxEvent(scoring_rules_event(rules), SCORING_RULES_AGGREGATE, RULES_ROW_ID, rules.revision)
