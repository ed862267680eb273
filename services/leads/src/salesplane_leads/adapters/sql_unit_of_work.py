"""The SQL unit of work: every repository on one session, and the events of the changed aggregates
written to the outbox in the same transaction."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.orm import Session, sessionmaker

from salesplane_leads.adapters import tables
from salesplane_leads.adapters.bookkeeping_store import SqlConversionLog, SqlCreateRequestLog, SqlImportRowLog
from salesplane_leads.adapters.lead_proto import changed_event
from salesplane_leads.adapters.lead_store import SqlLeadRepository
from salesplane_leads.adapters.marketing_proto import campaign_event, lead_source_event, scoring_rules_event
from salesplane_leads.adapters.marketing_store import (
    RULES_ROW_ID,
    SqlCampaignRepository,
    SqlLeadSourceRepository,
    SqlScoringRulesRepository,
)
from salesplane_leads.domain.lead import Lead
from salesplane_leads.domain.marketing import Campaign, LeadSource
from salesplane_leads.domain.scoring import ScoringRules
from salesplane_platform.org_replica import ReportingLines
from salesplane_platform.unit_of_work import OutboxContext, SqlUnitOfWork


class SqlOrgChart:
    def __init__(self, session: Session, lines: ReportingLines) -> None:
        self._session = session
        self._lines = lines

    def in_subtree(self, manager_user_id: str, user_id: str) -> bool:
        return self._lines.is_in_subtree(self._session, manager_user_id, user_id)


class SqlLeadsUnitOfWork(SqlUnitOfWork):
    leads: SqlLeadRepository
    lead_sources: SqlLeadSourceRepository
    campaigns: SqlCampaignRepository
    scoring_rules: SqlScoringRulesRepository
    create_requests: SqlCreateRequestLog
    import_rows: SqlImportRowLog
    conversions: SqlConversionLog
    org: SqlOrgChart

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
        self.leads = SqlLeadRepository(session, self._lines)
        self.lead_sources = SqlLeadSourceRepository(session)
        self.campaigns = SqlCampaignRepository(session)
        self.scoring_rules = SqlScoringRulesRepository(session)
        self.create_requests = SqlCreateRequestLog(session)
        self.import_rows = SqlImportRowLog(session)
        self.conversions = SqlConversionLog(session)
        self.org = SqlOrgChart(session, self._lines)
        return self

    def publish(self, aggregate: Lead | LeadSource | Campaign | ScoringRules, *, actor: str) -> None:
        if isinstance(aggregate, Lead):
            for event in aggregate.events:
                self.record_event(
                    payload=changed_event(event),
                    aggregate_type="lead",
                    aggregate_id=aggregate.id,
                    aggregate_version=event.lead.version,
                    actor=actor,
                )
        elif isinstance(aggregate, LeadSource):
            for source_event in aggregate.events:
                self.record_event(
                    payload=lead_source_event(source_event.lead_source),
                    aggregate_type="lead_source",
                    aggregate_id=aggregate.id,
                    aggregate_version=source_event.lead_source.version,
                    actor=actor,
                )
        elif isinstance(aggregate, Campaign):
            for campaign_changed in aggregate.events:
                self.record_event(
                    payload=campaign_event(campaign_changed.campaign),
                    aggregate_type="campaign",
                    aggregate_id=aggregate.id,
                    aggregate_version=campaign_changed.campaign.version,
                    actor=actor,
                )
        else:
            for rules_changed in aggregate.events:
                self.record_event(
                    payload=scoring_rules_event(rules_changed.rules),
                    aggregate_type="scoring_rules",
                    aggregate_id=RULES_ROW_ID,
                    aggregate_version=rules_changed.rules.revision,
                    actor=actor,
                )
        aggregate.events.clear()
