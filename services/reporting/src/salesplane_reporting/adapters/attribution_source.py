"""The `attribution` source: one row per (deal in the caller's scope, campaign it credits) under
the model of the definition's parameters, computed with domain/attribution.py.

Deals are read in pages by id; for each page, the touches of their leads (and of every lead merged
into those, or that those were merged into) inside the lookback windows are read in one query per
thousand leads, the credits are computed in Python and the page's rows are written to the run's
temporary table before the next page is read (computed_source.fill)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, Column, ColumnElement, Date, DateTime, FromClause, String, select
from sqlalchemy.orm import Session

from salesplane_reporting.adapters import tables
from salesplane_reporting.adapters.computed_source import computed_table
from salesplane_reporting.adapters.report_sources import CURRENCY, SourceContext, _in_scope
from salesplane_reporting.domain.attribution import UNATTRIBUTED, Credit, Deal, Touch, attribute
from salesplane_reporting.domain.attribution_parameters import AttributionSettings, attribution_settings
from salesplane_reporting.domain.definition import ReportSpec

# How the campaign of a deal nothing credits (no counted touch, no campaign of its own) is shown.
UNATTRIBUTED_CAMPAIGN = "unattributed"
DEALS_PER_PAGE = 2_000
LEADS_PER_QUERY = 1_000


def _columns() -> list[Column[Any]]:
    text, money = String(255), BigInteger
    return [
        Column("opportunity_id", String(64)),
        Column("opportunity", text),
        Column("owner", String(64)),
        Column("campaign", String(64)),
        Column("channel", String(32)),
        Column("lead_source", String(64)),
        Column("status", String(8)),
        Column("sales_stage", String(64)),
        Column("create_time", DateTime(timezone=True)),
        Column("close_date", Date),
        Column("credit", money),
        Column("credit" + CURRENCY, String(3)),
        Column("won_credit", money),
        Column("won_credit" + CURRENCY, String(3)),
        Column("deal_share", BigInteger),
        Column("touches", BigInteger),
    ]


class DealRow(NamedTuple):
    opportunity_id: str
    name: str
    owner: str
    status: str
    sales_stage: str
    create_time: datetime
    close_time: datetime | None
    expected_close_date: Any
    amount_base_minor: int
    base_currency: str
    lead_id: str
    campaign_id: str


def utc(moment: datetime) -> datetime:
    # SQLite gives naive timestamps (stored as UTC); PostgreSQL aware ones.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class LeadMerges:
    """Which leads count as one: a lead merged into another (and so on) belongs to the last one,
    whose deals its touches count for."""

    def __init__(self, session: Session) -> None:
        lead = tables.lead_view.c
        parent = dict(
            session.execute(
                select(lead.id, lead.merged_into_lead_id).where(lead.merged_into_lead_id != "")
            ).all()
        )
        self.root: dict[str, str] = {}
        for lead_id in parent:
            seen = {lead_id}
            current = lead_id
            while current in parent and parent[current] not in seen:
                current = parent[current]
                seen.add(current)
            self.root[lead_id] = current
        members: dict[str, list[str]] = defaultdict(list)
        for lead_id, root in self.root.items():
            members[root].append(lead_id)
        self.members = {root: [root, *merged] for root, merged in members.items()}

    def root_of(self, lead_id: str) -> str:
        return self.root.get(lead_id, lead_id)

    def leads_of(self, root: str) -> Sequence[str]:
        return self.members.get(root, (root,))


def attributed_deals(
    session: Session, settings: AttributionSettings, *where: ColumnElement[bool]
) -> Iterator[list[tuple[DealRow, list[Credit]]]]:
    """The deals matching `where` with their credits under `settings`, a page at a time."""
    o = tables.opportunity_current.c
    t = tables.lead_touch_view.c
    merges = LeadMerges(session)
    deal_columns = [
        o.opportunity_id,
        o.name,
        o.owner_user_id,
        o.status,
        o.sales_stage,
        o.create_time,
        o.close_time,
        o.expected_close_date,
        o.amount_base_minor,
        o.base_currency,
        o.lead_id,
        o.campaign_id,
    ]
    after = ""
    while True:
        page = [
            DealRow._make(row)
            for row in session.execute(
                select(*deal_columns)
                .where(o.opportunity_id > after, *where)
                .order_by(o.opportunity_id)
                .limit(DEALS_PER_PAGE)
            ).all()
        ]
        if not page:
            return
        after = page[-1].opportunity_id
        roots = [merges.root_of(d.lead_id) if d.lead_id else "" for d in page]
        leads = sorted({lead for root in roots if root for lead in merges.leads_of(root)})
        created = [d.create_time for d in page]
        # Only touches inside some deal's lookback window can count: a cheap first cut in SQL.
        earliest, latest = min(created) - settings.lookback, max(created)
        touches: dict[str, list[Touch]] = defaultdict(list)
        for start in range(0, len(leads), LEADS_PER_QUERY):
            statement = (
                select(t.lead_id, t.campaign_id, t.touch_time)
                .where(
                    t.lead_id.in_(leads[start : start + LEADS_PER_QUERY]),
                    t.touch_time >= earliest,
                    t.touch_time <= latest,
                )
                .order_by(t.lead_id, t.touch_time, t.touch_id)
            )
            # all(): one fetch of the whole result, far cheaper than a fetch per row.
            for lead_id, campaign_id, at in session.execute(statement).all():
                touches[merges.root_of(lead_id)].append(Touch(campaign_id, utc(at)))
        yield [
            (
                deal,
                attribute(
                    settings.model,
                    touches.get(root, ()) if root else (),
                    Deal(deal.amount_base_minor, utc(deal.create_time), deal.campaign_id),
                    lookback=settings.lookback,
                    half_life=settings.half_life,
                ),
            )
            for deal, root in zip(page, roots, strict=True)
        ]


def campaign_details(session: Session) -> dict[str, tuple[str, str]]:
    """Campaign id -> (channel, lead source id)."""
    c = tables.campaign_view.c
    found = {
        str(i): (str(channel), str(source))
        for i, channel, source in session.execute(select(c.id, c.channel, c.lead_source_id))
    }
    found[UNATTRIBUTED_CAMPAIGN] = (UNATTRIBUTED_CAMPAIGN, "")
    return found


def shown_campaign(campaign_id: str) -> str:
    return UNATTRIBUTED_CAMPAIGN if campaign_id == UNATTRIBUTED else campaign_id


def attribution(spec: ReportSpec, context: SourceContext) -> FromClause:
    settings = attribution_settings(spec.parameters)
    session = context.session

    def batches() -> Iterator[list[tuple[Any, ...]]]:
        campaigns = campaign_details(session)
        in_scope = _in_scope(tables.opportunity_current.c.owner_user_id, context)
        for page in attributed_deals(session, settings, in_scope):
            rows = []
            for deal, credits in page:
                won = deal.status == "won"
                for credit in credits:
                    campaign = shown_campaign(credit.campaign_id)
                    channel, lead_source = campaigns.get(campaign, ("", ""))
                    rows.append(
                        (
                            deal.opportunity_id,
                            deal.name,
                            deal.owner,
                            campaign,
                            channel,
                            lead_source,
                            deal.status,
                            deal.sales_stage,
                            deal.create_time,
                            deal.expected_close_date,
                            credit.amount_minor,
                            deal.base_currency,
                            credit.amount_minor if won else 0,
                            deal.base_currency,
                            credit.share_units,
                            credit.touches,
                        )
                    )
            yield rows

    return computed_table("attribution", _columns(), batches)
