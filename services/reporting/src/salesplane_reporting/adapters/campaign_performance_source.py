"""The `campaign_performance` source: one row per campaign (and one for unattributed leads and
revenue) over the window of parameters `from` / `to`, with its cost, leads, attributed pipeline
and revenue and the ratios between them (domain/campaign_performance.py).

`basis` "period" counts each number by its own date in the window: cost entries by the day they
were incurred, leads by creation, pipeline by the deal's creation, revenue by the deal's close.
"cohort" follows the leads created in the window: the pipeline and revenue of the deals converted
from them, whenever those were created or closed (costs stay by their date in the window).

Every amount is in the base currency: a cost entry converted with the rate in effect on the day it
was incurred, budget and expected revenue with the rate in effect on the window's last day. The
costs belong to no user, so the engine lets only marketing and admins read this source."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Column, ColumnElement, FromClause, Integer, String, and_, func, or_, select
from sqlalchemy.orm import Session

from salesplane_platform.errors import FailedPrecondition
from salesplane_reporting.adapters import tables
from salesplane_reporting.adapters.attribution_source import (
    UNATTRIBUTED_CAMPAIGN,
    attributed_deals,
    shown_campaign,
    utc,
)
from salesplane_reporting.adapters.computed_source import computed_table
from salesplane_reporting.adapters.report_sources import parameter_interval
from salesplane_reporting.adapters.source_context import CURRENCY, SourceContext
from salesplane_reporting.domain.attribution_parameters import (
    AttributionSettings,
    Basis,
    attribution_settings,
)
from salesplane_reporting.domain.campaign_performance import CampaignTally
from salesplane_reporting.domain.definition import ReportSpec
from salesplane_reporting.domain.exchange_rates import BaseCurrencyConverter

MONEY_FIELDS = (
    "cost",
    "cost_per_lead",
    "pipeline_generated",
    "won_revenue",
    "cac",
    "budget",
    "expected_revenue",
    "cost_to_date",
)
WHOLE_FIELDS = ("leads", "qualified_leads", "opportunities", "won_deals", "roi", "roas", "budget_used")


def _columns() -> list[Column[Any]]:
    columns: list[Column[Any]] = [
        Column("campaign", String(64)),
        Column("channel", String(32)),
        Column("lead_source", String(64)),
    ]
    columns += [Column(name, BigInteger) for name in MONEY_FIELDS]
    columns += [Column(name + CURRENCY, String(3)) for name in MONEY_FIELDS]
    columns += [Column(name, BigInteger if name != "leads" else Integer) for name in WHOLE_FIELDS]
    return columns


class _Window:
    def __init__(self, start_at: datetime, end_at: datetime) -> None:
        self.start_at, self.end_at = start_at, end_at
        self.first_day = start_at.date()
        self.last_day = (end_at - timedelta(microseconds=1)).date()

    def holds(self, moment: datetime | None) -> bool:
        return moment is not None and self.start_at <= utc(moment) < self.end_at

    def holds_column(self, column: ColumnElement[Any]) -> ColumnElement[bool]:
        return and_(column >= self.start_at, column < self.end_at)


def campaign_performance(spec: ReportSpec, context: SourceContext) -> FromClause:
    settings = attribution_settings(spec.parameters)
    window = _Window(*parameter_interval(spec, context))

    def batches() -> Iterator[list[tuple[Any, ...]]]:
        yield _rows(context.session, context.base_currency, settings, window)

    return computed_table("campaign_performance", _columns(), batches)


def _converter(session: Session, base_currency: str) -> BaseCurrencyConverter:
    r = tables.exchange_rate_view.c
    rates = session.execute(
        select(r.currency, r.effective_from, r.rate).where(r.base_currency == base_currency)
    )
    return BaseCurrencyConverter(base_currency, rates)


def _rows(
    session: Session, base_currency: str, settings: AttributionSettings, window: _Window
) -> list[tuple[Any, ...]]:
    c = tables.campaign_view.c
    campaigns = session.execute(
        select(c.id, c.channel, c.lead_source_id, c.currency, c.budget_minor, c.expected_revenue_minor)
    ).all()
    if campaigns and not base_currency:
        raise FailedPrecondition(
            "campaign performance needs the base currency, which forecasting's settings have not set yet",
            reason="BASE_CURRENCY_MISSING",
        )
    converter = _converter(session, base_currency)
    tallies: dict[str, CampaignTally] = defaultdict(CampaignTally)
    _tally_costs(session, converter, window, tallies)
    _tally_leads(session, window, tallies)
    _tally_deals(session, settings, window, tallies)
    rows = []
    shown: set[str] = set()
    for campaign_id, channel, lead_source, currency, budget, expected_revenue in campaigns:
        shown.add(campaign_id)
        rows.append(
            _row(
                campaign_id,
                channel,
                lead_source,
                tallies[campaign_id],
                converter.to_base(budget, currency, window.last_day),
                converter.to_base(expected_revenue, currency, window.last_day),
                base_currency,
            )
        )
    # Deals may name a campaign reporting has not heard of yet, and some leads and revenue none.
    for campaign_id, tally in tallies.items():
        if campaign_id not in shown and not tally.empty:
            channel = UNATTRIBUTED_CAMPAIGN if campaign_id == UNATTRIBUTED_CAMPAIGN else ""
            rows.append(_row(campaign_id, channel, "", tally, 0, 0, base_currency))
    return rows


def _tally_costs(
    session: Session, converter: BaseCurrencyConverter, window: _Window, tallies: dict[str, CampaignTally]
) -> None:
    cost = tables.campaign_costs.c
    entries = session.execute(
        select(cost.campaign_id, cost.incurred_on, cost.amount_minor, cost.currency).where(
            cost.incurred_on <= window.last_day
        )
    )
    for campaign_id, incurred_on, amount, currency in entries:
        day = incurred_on if isinstance(incurred_on, date) else date.fromisoformat(str(incurred_on))
        in_base = converter.to_base(amount, currency, day)
        tally = tallies[campaign_id]
        tally.cost_to_date += in_base
        if day >= window.first_day:
            tally.cost += in_base


def _tally_leads(session: Session, window: _Window, tallies: dict[str, CampaignTally]) -> None:
    lead = tables.lead_view.c
    counts = session.execute(
        select(lead.campaign_id, func.count(), func.count().filter(lead.qualified.is_(True)))
        .where(window.holds_column(lead.create_time), lead.merged_into_lead_id == "")
        .group_by(lead.campaign_id)
    )
    for campaign_id, leads, qualified in counts:
        tally = tallies[shown_campaign(campaign_id)]
        tally.leads += leads
        tally.qualified_leads += qualified


def _tally_deals(
    session: Session, settings: AttributionSettings, window: _Window, tallies: dict[str, CampaignTally]
) -> None:
    o = tables.opportunity_current.c
    if settings.basis is Basis.COHORT:
        lead = tables.lead_view.c
        cohort = select(lead.id).where(window.holds_column(lead.create_time))
        where: ColumnElement[bool] = o.lead_id.in_(cohort)
    else:
        where = or_(
            window.holds_column(o.create_time),
            and_(o.status == "won", window.holds_column(o.close_time)),
        )
    for page in attributed_deals(session, settings, where):
        for deal, credits in page:
            won = deal.status == "won"
            if settings.basis is Basis.COHORT:
                generated = True
            else:
                generated = window.holds(deal.create_time)
                won = won and window.holds(deal.close_time)
            for credit in credits:
                tallies[shown_campaign(credit.campaign_id)].add_deal(credit, generated=generated, won=won)


def _row(
    campaign_id: str,
    channel: str,
    lead_source: str,
    tally: CampaignTally,
    budget: int,
    expected_revenue: int,
    currency: str,
) -> tuple[Any, ...]:
    money = (
        tally.cost,
        tally.cost_per_lead,
        tally.pipeline,
        tally.won_revenue,
        tally.cac,
        budget,
        expected_revenue,
        tally.cost_to_date,
    )
    whole = (
        tally.leads,
        tally.qualified_leads,
        tally.opportunity_units,
        tally.won_units,
        tally.roi_units,
        tally.roas_units,
        tally.budget_used_units(budget),
    )
    return (campaign_id, channel, lead_source, *money, *(currency,) * len(money), *whole)
