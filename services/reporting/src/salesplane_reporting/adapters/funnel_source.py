"""The lead funnel source: one row per lead, how far it went (qualified, converted, won; or dead,
recycled) and how many days each step took.

The milestones come from the lead's read model (first qualified, convert time) and, for won, from
the deal it was converted into: won when that deal's status is won, at its close time (its update
time should it have none). A duplicate merged into another lead is that lead now, not a row of its
own. Scope follows the lead's assignee, as for the leads source; whether its deal was won, the
deal's owner."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ColumnElement, FromClause, and_, case, false, func, null, or_

from salesplane_reporting.adapters import tables
from salesplane_reporting.adapters.source_context import SourceContext, in_scope, select_source
from salesplane_reporting.adapters.sql_durations import seconds_between
from salesplane_reporting.domain.definition import ReportSpec

# Fields read from the converted deal, and from the campaign and lead source: joined only when used.
_DEAL_FIELDS = frozenset({"won", "won_leads", "won_time", "days_to_win"})
_CHANNEL_FIELDS = frozenset({"channel"})
_NO_CHANNEL = ("", "unspecified")


def _flag(condition: ColumnElement[bool]) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """The condition as a boolean field and as a 0 / 1 number to sum (never empty)."""
    return condition.cast(Boolean), case((condition, 1), else_=0)


def _elapsed(start: ColumnElement[Any], end: ColumnElement[Any]) -> ColumnElement[Any]:
    """Seconds from start to end; empty unless both happened. A step recorded before the one it
    follows (clocks of two services) took no time rather than negative time."""
    seconds = seconds_between(start, end)
    return case((seconds < 0, 0), else_=seconds)


def lead_funnel(spec: ReportSpec, context: SourceContext) -> FromClause:
    lead = tables.lead_view.c
    base: FromClause = tables.lead_view
    if context.used & _CHANNEL_FIELDS:
        campaign, source = tables.campaign_view.c, tables.lead_source_view.c
        base = base.outerjoin(tables.campaign_view, campaign.id == lead.campaign_id).outerjoin(
            tables.lead_source_view, source.id == lead.lead_source_id
        )
        # A campaign's own channel, else its lead source's.
        channel: ColumnElement[Any] = case(
            (func.coalesce(campaign.channel, "").not_in(_NO_CHANNEL), campaign.channel),
            else_=func.coalesce(source.channel, ""),
        )
    else:
        channel = null()
    if context.used & _DEAL_FIELDS:
        deal = tables.opportunity_current.c
        base = base.outerjoin(
            tables.opportunity_current,
            # Only a deal the caller may see tells them it was won: a lead's deal handed to
            # someone outside the caller's scope is no longer theirs to read.
            and_(
                lead.converted_opportunity_id != "",
                deal.opportunity_id == lead.converted_opportunity_id,
                in_scope(deal.owner_user_id, context),
            ),
        )
        is_won: ColumnElement[bool] = func.coalesce(deal.status, "") == "won"
        won_time: ColumnElement[Any] = case(
            (is_won, func.coalesce(deal.close_time, deal.update_time)), else_=null()
        )
    else:
        is_won, won_time = false(), null()

    # Leads qualified before reporting kept the milestone have no qualified time, but are qualified.
    qualified, qualified_number = _flag(or_(lead.qualified.is_(True), lead.qualified_time.is_not(None)))
    converted, converted_number = _flag(lead.converted_opportunity_id != "")
    won, won_number = _flag(is_won)
    dead, dead_number = _flag(lead.status == "dead")
    recycled, recycled_number = _flag(or_(lead.status == "recycled", lead.recycled_time.is_not(None)))
    columns: dict[str, ColumnElement[Any]] = {
        "lead_id": lead.id,
        "status": lead.status,
        "lead_source": lead.lead_source_id,
        "campaign": lead.campaign_id,
        "channel": channel,
        "assigned_user": lead.assigned_user_id,
        "create_time": lead.create_time,
        "qualified_time": lead.qualified_time,
        "convert_time": lead.convert_time,
        "won_time": won_time,
        "qualified": qualified,
        "converted": converted,
        "won": won,
        "dead": dead,
        "recycled": recycled,
        "qualified_leads": qualified_number,
        "converted_leads": converted_number,
        "won_leads": won_number,
        "dead_leads": dead_number,
        "recycled_leads": recycled_number,
        "days_to_qualify": _elapsed(lead.create_time, lead.qualified_time),
        # From qualification, or from creation for a lead converted without being qualified.
        "days_to_convert": _elapsed(func.coalesce(lead.qualified_time, lead.create_time), lead.convert_time),
        "days_to_win": _elapsed(lead.convert_time, won_time),
    }
    return select_source(
        columns, base, in_scope(lead.assigned_user_id, context), lead.merged_into_lead_id == ""
    )
