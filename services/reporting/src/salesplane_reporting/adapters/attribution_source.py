"""The `attribution` source: one row per (deal in the caller's scope, campaign it credits) under
the model of the definition's parameters, computed with domain/attribution.py.

Deals are read in pages by id. For each page one query gives the touches that count, already in
order: the deal's lead's touches (and those of every lead merged into the same one, through a
temporary table of the merges) no later than the deal's creation and inside its lookback window,
oldest first. Python only splits each deal's amount and the page's rows are written to the run's
temporary table before the next page is read (computed_source.fill). When the definition only
sums the credits by some fields, the rows are summed by those fields before they are written."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import groupby
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Date,
    DateTime,
    FromClause,
    Index,
    MetaData,
    Select,
    String,
    Table,
    bindparam,
    func,
    select,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from salesplane_reporting.adapters import tables
from salesplane_reporting.adapters.computed_source import computed_table
from salesplane_reporting.adapters.source_context import CURRENCY, SourceContext, in_scope
from salesplane_reporting.domain.attribution import UNATTRIBUTED, Credit, Model, credit_columns
from salesplane_reporting.domain.attribution_parameters import AttributionSettings, attribution_settings
from salesplane_reporting.domain.definition import Aggregate, Layout, ReportSpec, all_conditions

# How the campaign of a deal nothing credits (no counted touch, no campaign of its own) is shown.
UNATTRIBUTED_CAMPAIGN = "unattributed"
# Small enough that the planner looks each deal's touches up by lead (a larger page may tip it
# into scanning every touch for each page).
DEALS_PER_PAGE = 2_000
# The fields a definition may sum without needing one row per (deal, campaign).
SUMMED_FIELDS = ("credit", "won_credit", "deal_share", "touches")


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


class lookback_start(FunctionElement[Any]):
    """The instant a whole number of seconds before a timestamp, exactly (no day arithmetic in a
    session's time zone, no rounding of the fraction of a second)."""

    type = DateTime(timezone=True)
    inherit_cache = False

    def __init__(self, moment: ColumnElement[Any], lookback: timedelta) -> None:
        if lookback % timedelta(seconds=1):
            raise ValueError("the lookback must be a whole number of seconds")
        self.seconds = lookback // timedelta(seconds=1)
        super().__init__(moment)


@compiles(lookback_start, "postgresql")
def _lookback_start_postgresql(element: lookback_start, compiler: SQLCompiler, **kw: Any) -> str:
    moment = compiler.process(next(iter(element.clauses)), **kw)
    return f"({moment} - make_interval(secs => {int(element.seconds)}))"


@compiles(lookback_start, "sqlite")
def _lookback_start_sqlite(element: lookback_start, compiler: SQLCompiler, **kw: Any) -> str:
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC: whole seconds are shifted by SQLite's date
    # functions (which keep only milliseconds, hence the fraction is cut first and put back).
    moment = compiler.process(next(iter(element.clauses)), **kw)
    return (
        f"(strftime('%Y-%m-%d %H:%M:%S', substr({moment}, 1, 19), '-{int(element.seconds)} seconds')"
        f" || substr({moment}, 20))"
    )


class epoch_micros(FunctionElement[Any]):
    """A timestamp as integer microseconds since the epoch (time decay needs exact differences)."""

    type = BigInteger()
    inherit_cache = True


@compiles(epoch_micros, "postgresql")
def _epoch_micros_postgresql(element: epoch_micros, compiler: SQLCompiler, **kw: Any) -> str:
    # EXTRACT gives a numeric (PostgreSQL 14 and later): exact to the microsecond.
    moment = compiler.process(next(iter(element.clauses)), **kw)
    return f"CAST(EXTRACT(EPOCH FROM {moment}) * 1000000 AS BIGINT)"


@compiles(epoch_micros, "sqlite")
def _epoch_micros_sqlite(element: epoch_micros, compiler: SQLCompiler, **kw: Any) -> str:
    moment = compiler.process(next(iter(element.clauses)), **kw)
    return (
        f"(CAST(strftime('%s', substr({moment}, 1, 19)) AS INTEGER) * 1000000"
        f" + CAST(substr(substr({moment}, 21) || '000000', 1, 6) AS INTEGER))"
    )


def _merge_table(session: Session) -> Table:
    """A temporary table of every merged lead and the lead it counts as (LeadMerges)."""
    merges = Table(
        f"report_lead_merges_{uuid.uuid4().hex[:12]}",
        MetaData(),
        Column("lead_id", String(64), primary_key=True),
        Column("root_id", String(64), nullable=False),
        Index(None, "root_id"),
        prefixes=["TEMPORARY"],
    )
    connection = session.connection()
    merges.create(connection)
    root = LeadMerges(session).root
    if root:
        connection.execute(merges.insert(), [{"lead_id": k, "root_id": v} for k, v in root.items()])
    # A temporary table has no statistics until analysed (autovacuum never sees it); without
    # them the planner takes it for larger than it is and may scan every touch for a page.
    connection.exec_driver_sql(f"ANALYZE {merges.name}")
    return merges


def _touch_select(
    merges: Table, settings: AttributionSettings, where: Sequence[ColumnElement[bool]]
) -> Select[Any]:
    """(opportunity id, campaign[, instant in microseconds for time decay]) of every counted
    touch of the deals matching `where` with ids in (:after, :last], by deal, oldest first."""
    o = tables.opportunity_current.c
    t = tables.lead_touch_view.c
    deal_merge, member = merges.alias("deal_merge"), merges.alias("member")
    root = func.coalesce(deal_merge.c.root_id, o.lead_id)
    deals = tables.opportunity_current.outerjoin(deal_merge, deal_merge.c.lead_id == o.lead_id)
    page = (
        o.opportunity_id > bindparam("after", literal_execute=True),
        o.opportunity_id <= bindparam("last", literal_execute=True),
        o.lead_id != "",
        *where,
    )
    # A deal's leads: the one its lead counts as, and every lead merged into that one.
    own = select(o.opportunity_id, root.label("lead_id"), o.create_time).select_from(deals).where(*page)
    merged = (
        select(o.opportunity_id, member.c.lead_id, o.create_time)
        .select_from(deals.join(member, member.c.root_id == root))
        .where(*page)
    )
    leads = union_all(own, merged).subquery("deal_leads")
    d = leads.c
    columns: list[ColumnElement[Any]] = [d.opportunity_id, t.campaign_id]
    if settings.model is Model.TIME_DECAY:
        columns.append(epoch_micros(t.touch_time))
    return (
        select(*columns)
        .select_from(leads.join(tables.lead_touch_view, t.lead_id == d.lead_id))
        .where(
            t.touch_time <= d.create_time, t.touch_time >= lookback_start(d.create_time, settings.lookback)
        )
        # Touches at the same instant in the order they were always taken: by lead, then by id.
        .order_by(d.opportunity_id, t.touch_time, t.lead_id, t.touch_id)
    )


def attributed_deals(
    session: Session, settings: AttributionSettings, *where: ColumnElement[bool]
) -> Iterator[list[tuple[DealRow, list[Credit]]]]:
    """The deals matching `where` with their credits under `settings`, a page at a time."""
    for page in credited_deals(session, settings, *where):
        yield [(deal, [Credit(*c) for c in zip(*columns, strict=True)]) for deal, columns in page]


CreditColumns = tuple[list[str], list[int], list[int], list[int]]


def credited_deals(
    session: Session, settings: AttributionSettings, *where: ColumnElement[bool]
) -> Iterator[list[tuple[DealRow, CreditColumns]]]:
    """attributed_deals with each deal's credits as domain.attribution.credit_columns gives them
    (campaigns, amounts, shares, touches): summing them needs no Credit per deal and campaign."""
    o = tables.opportunity_current.c
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
    model, half_life = settings.model, settings.half_life
    decay = model is Model.TIME_DECAY
    merges = _merge_table(session)
    try:
        touch_select = _touch_select(merges, settings, where)
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
            last = page[-1].opportunity_id
            result = session.execute(touch_select, {"after": after, "last": last})
            # The driver's plain tuples (strings and integers need no conversion): a million
            # touches would otherwise cost a million Row objects.
            found = result.cursor.fetchall()  # type: ignore[attr-defined]
            result.close()
            campaigns: dict[str, list[str]] = {}
            micros: dict[str, list[int]] = {}
            for opportunity_id, rows in groupby(found, itemgetter(0)):
                if decay:
                    touches = list(rows)
                    campaigns[opportunity_id] = [r[1] for r in touches]
                    micros[opportunity_id] = [r[2] for r in touches]
                else:
                    campaigns[opportunity_id] = [r[1] for r in rows]
            after = last
            yield [
                (
                    deal,
                    credit_columns(
                        model,
                        campaigns.get(deal.opportunity_id, ()),
                        deal.amount_base_minor,
                        deal.campaign_id,
                        micros=micros.get(deal.opportunity_id, ()),
                        half_life=half_life,
                    ),
                )
                for deal in page
            ]
    finally:
        merges.drop(session.connection())


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


def summed_by(spec: ReportSpec) -> list[str] | None:
    """The deal fields the rows may be summed by (with the campaign) before they are written:
    when the definition shows no row of its own and reads the rows only through sums of
    SUMMED_FIELDS, grouped by and filtered on other fields, rows equal in all of those give the
    same report once summed (the built-in attribution report then writes a row per campaign
    instead of one per deal and campaign). None when the definition needs every row."""
    if spec.layout not in (Layout.SUMMATION, Layout.MATRIX) or spec.detail_columns:
        return None
    for measure in spec.measures:
        plain_sum = measure.aggregate is Aggregate.SUM and measure.field in SUMMED_FIELDS
        if measure.formula is None and measure.aggregate is not None and not plain_sum:
            return None
    kept = {d.field for d in spec.dimensions} | {c.field for c in all_conditions(spec)}
    if kept & set(SUMMED_FIELDS):
        return None
    return [name for name in _DEAL_FIELDS if name in kept]


# The row's fields that are the deal's (the campaign's are campaign, channel and lead source).
_DEAL_FIELDS = (
    "opportunity_id",
    "opportunity",
    "owner",
    "status",
    "sales_stage",
    "create_time",
    "close_date",
)


def _deal_fields(deal: DealRow) -> tuple[Any, ...]:
    return (
        deal.opportunity_id,
        deal.name,
        deal.owner,
        deal.status,
        deal.sales_stage,
        deal.create_time,
        deal.expected_close_date,
    )


def _row(
    deal: tuple[Any, ...],
    campaign: str,
    details: tuple[str, str],
    currency: str,
    credit: int,
    won_credit: int,
    share: int | None,
    touches: int | None,
) -> tuple[Any, ...]:
    """A row of the table, in the order of _columns()."""
    opportunity_id, name, owner, status, sales_stage, create_time, close_date = deal
    channel, lead_source = details
    return (
        opportunity_id,
        name,
        owner,
        campaign,
        channel,
        lead_source,
        status,
        sales_stage,
        create_time,
        close_date,
        credit,
        currency,
        won_credit,
        currency,
        share,
        touches,
    )


def attribution(spec: ReportSpec, context: SourceContext) -> FromClause:
    settings = attribution_settings(spec.parameters)
    session = context.session
    kept = summed_by(spec)

    def deals() -> Iterator[list[tuple[DealRow, list[Credit]]]]:
        scope = in_scope(tables.opportunity_current.c.owner_user_id, context)
        return attributed_deals(session, settings, scope)

    def every_row() -> Iterator[list[tuple[Any, ...]]]:
        campaigns = campaign_details(session)
        for page in deals():
            rows = []
            for deal, credits in page:
                fields, won = _deal_fields(deal), deal.status == "won"
                for credit in credits:
                    campaign = shown_campaign(credit.campaign_id)
                    rows.append(
                        _row(
                            fields,
                            campaign,
                            campaigns.get(campaign, ("", "")),
                            deal.base_currency,
                            credit.amount_minor,
                            credit.amount_minor if won else 0,
                            credit.share_units,
                            credit.touches,
                        )
                    )
            yield rows

    def summed_rows(kept: Sequence[str]) -> Iterator[list[tuple[Any, ...]]]:
        # Fields the definition does not read stay empty.
        positions = [_DEAL_FIELDS.index(name) for name in kept]
        campaigns = campaign_details(session)
        scope = in_scope(tables.opportunity_current.c.owner_user_id, context)
        # (currency, kept deal fields) -> campaign -> [credit, won credit, share, touches]
        sums: dict[tuple[Any, ...], dict[str, list[int]]] = {}
        for page in credited_deals(session, settings, scope):
            for deal, (names, amounts, shares, touched) in page:
                fields = _deal_fields(deal)
                group = (deal.base_currency, *(fields[i] for i in positions))
                by_campaign = sums.get(group)
                if by_campaign is None:
                    by_campaign = sums[group] = {}
                won = deal.status == "won"
                for campaign_id, amount, share, touches in zip(names, amounts, shares, touched, strict=True):
                    total = by_campaign.get(campaign_id)
                    if total is None:
                        by_campaign[campaign_id] = [amount, amount if won else 0, share, touches]
                    else:
                        total[0] += amount
                        if won:
                            total[1] += amount
                        total[2] += share
                        total[3] += touches
        rows = []
        for (currency, *values), by_campaign in sums.items():
            shown: list[Any] = [None] * len(_DEAL_FIELDS)
            for position, value in zip(positions, values, strict=True):
                shown[position] = value
            for campaign_id, (credit, won_credit, share, touches) in by_campaign.items():
                campaign = shown_campaign(campaign_id)
                details = campaigns.get(campaign, ("", ""))
                rows.append(
                    _row(tuple(shown), campaign, details, currency, credit, won_credit, share, touches)
                )
        yield rows

    return computed_table("attribution", _columns(), every_row if kept is None else lambda: summed_rows(kept))
