"""The built-in reports: each one a definition the engine runs like any user-defined report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from salesplane_reporting.domain.definition import ReportSpec, parse_definition

OPEN = {"field": "status", "op": "eq", "values": ["open"]}
WON = {"field": "status", "op": "eq", "values": ["won"]}
LOST = {"field": "status", "op": "eq", "values": ["lost"]}
CLOSED = {"field": "status", "op": "in", "values": ["won", "lost"]}


def _campaign_returns_by(*dimensions: str) -> dict[str, Any]:
    """Cost against what the campaigns brought, per `dimensions`, this fiscal year so far (each
    number by its own date; `basis` "cohort" follows the year's leads instead), credited linearly:
    the ratios are formulas over the sums, so a channel's ROI is its total return on its total
    cost, not an average of its campaigns'."""

    def total(name: str, title: str, field: str | None = None) -> dict[str, Any]:
        return {"name": name, "title": title, "aggregate": "sum", "field": field or name}

    return {
        "source": "campaign_performance",
        "layout": "summation",
        "dimensions": [{"field": d} for d in dimensions],
        "measures": [
            total("cost", "Cost"),
            total("leads", "Leads"),
            {"name": "cost_per_lead", "title": "Cost per lead", "formula": "cost / leads", "type": "money"},
            total("opportunities", "Opportunities"),
            total("pipeline", "Pipeline generated", "pipeline_generated"),
            total("won_deals", "Won deals"),
            total("won_revenue", "Won revenue"),
            {"name": "cac", "title": "CAC", "formula": "cost / won_deals", "type": "money"},
            {"name": "roi", "title": "ROI", "formula": "(won_revenue - cost) / cost", "type": "percent"},
            {"name": "roas", "title": "ROAS", "formula": "won_revenue / cost", "type": "decimal"},
            total("budget", "Budget"),
            total("cost_to_date", "Cost to date"),
        ],
        "subtotals": len(dimensions) > 1,
        "parameters": {"from": "this_fiscal_year", "to": "today", "basis": "period", "model": "linear"},
        "chart": {
            "kind": "bar",
            "measure": "cost",
            "compare_with": ["won_revenue"],
            "title": "Cost and won revenue",
        },
    }


def _win_rates_by(field: str) -> dict[str, Any]:
    """Closed deals per value of `field`: won, lost, both win rates, average won deal, cycle."""
    return {
        "source": "opportunities",
        "layout": "summation",
        "dimensions": [{"field": field}],
        "measures": [
            {"name": "won", "title": "Won", "aggregate": "count", "where": WON},
            {"name": "lost", "title": "Lost", "aggregate": "count", "where": LOST},
            {
                "name": "won_amount",
                "title": "Won amount",
                "aggregate": "sum",
                "field": "amount_base",
                "where": WON,
            },
            {
                "name": "lost_amount",
                "title": "Lost amount",
                "aggregate": "sum",
                "field": "amount_base",
                "where": LOST,
            },
            {"name": "win_rate", "title": "Win rate", "formula": "won / (won + lost)", "type": "percent"},
            {
                "name": "amount_win_rate",
                "title": "Win rate by amount",
                "formula": "won_amount / (won_amount + lost_amount)",
                "type": "percent",
            },
            {
                "name": "average_deal",
                "title": "Average won deal",
                "aggregate": "avg",
                "field": "amount_base",
                "where": WON,
            },
            {
                "name": "cycle_days",
                "title": "Average cycle (days)",
                "aggregate": "avg",
                "field": "cycle_days",
            },
        ],
        "filters": {"and": [CLOSED]},
    }


def _lead_funnel_by(*dimensions: dict[str, Any]) -> dict[str, Any]:
    """Leads created (in this fiscal year unless a run says otherwise) per value of `dimensions`:
    how many went each step, the rate of each step and the median days it took."""

    def flagged(name: str, title: str) -> dict[str, Any]:
        return {"name": name, "title": title, "aggregate": "sum", "field": f"{name}_leads"}

    def median_days(name: str, title: str) -> dict[str, Any]:
        return {"name": f"median_{name}", "title": title, "aggregate": "median", "field": name}

    return {
        "source": "lead_funnel",
        "layout": "summation",
        "dimensions": list(dimensions),
        "measures": [
            {"name": "created", "title": "Created", "aggregate": "count"},
            flagged("qualified", "Qualified"),
            flagged("converted", "Converted"),
            flagged("won", "Won"),
            flagged("dead", "Dead"),
            flagged("recycled", "Recycled"),
            {
                "name": "qualified_rate",
                "title": "Qualified / created",
                "formula": "qualified / created",
                "type": "percent",
            },
            {
                "name": "conversion_rate",
                "title": "Converted / qualified",
                "formula": "converted / qualified",
                "type": "percent",
            },
            {"name": "win_rate", "title": "Won / converted", "formula": "won / converted", "type": "percent"},
            {
                "name": "lead_win_rate",
                "title": "Won / created",
                "formula": "won / created",
                "type": "percent",
            },
            median_days("days_to_qualify", "Median days to qualify"),
            median_days("days_to_convert", "Median days to convert"),
            median_days("days_to_win", "Median days to win"),
        ],
        "filters": {
            "and": [
                {
                    "field": "create_time",
                    "op": "within",
                    "values": ["this_fiscal_year"],
                    "runtime": True,
                    "id": "created",
                }
            ]
        },
        "subtotals": len(dimensions) > 1,
        "chart": {
            "kind": "funnel",
            "measure": "created",
            "stages": ["created", "qualified", "converted", "won"],
        },
    }


@dataclass(frozen=True)
class BuiltinReport:
    id: str
    title: str
    description: str
    document: Mapping[str, Any]

    @cached_property
    def spec(self) -> ReportSpec:
        # Parsed once: listing the reports asks every built-in for its source.
        return parse_definition(self.document)


BUILTIN_REPORTS: tuple[BuiltinReport, ...] = (
    BuiltinReport(
        "pipeline_by_stage",
        "Pipeline by stage",
        "Open deals per sales stage: how many, worth how much, and weighted by probability.",
        {
            "source": "opportunities",
            "layout": "summation",
            "dimensions": [{"field": "sales_stage"}],
            "measures": [
                {"name": "deals", "title": "Deals", "aggregate": "count"},
                {"name": "amount", "title": "Amount", "aggregate": "sum", "field": "amount_base"},
                {"name": "weighted", "title": "Weighted", "aggregate": "sum", "field": "weighted_amount"},
            ],
            "filters": {"and": [OPEN]},
            "chart": {"kind": "bar", "measure": "amount"},
        },
    ),
    BuiltinReport(
        "pipeline_by_stage_team_month",
        "Pipeline by stage, team and close month",
        "Open deals by sales stage, the team of your direct report they sit under (or your own), and "
        "expected close month: amount and weighted amount, with subtotals per stage.",
        {
            "source": "opportunities",
            "layout": "summation",
            "dimensions": [
                {"field": "sales_stage"},
                {"field": "team"},
                {"field": "expected_close_date", "grain": "month"},
            ],
            "measures": [
                {"name": "deals", "title": "Deals", "aggregate": "count"},
                {"name": "amount", "title": "Amount", "aggregate": "sum", "field": "amount_base"},
                {"name": "weighted", "title": "Weighted", "aggregate": "sum", "field": "weighted_amount"},
            ],
            "filters": {
                "and": [
                    OPEN,
                    {
                        "field": "expected_close_date",
                        "op": "within",
                        "values": ["this_fiscal_year"],
                        "runtime": True,
                        "id": "close",
                    },
                ]
            },
            "subtotals": True,
            "chart": {"kind": "stacked_bar", "measure": "amount"},
        },
    ),
    BuiltinReport(
        "pipeline_matrix_owner_month",
        "Pipeline matrix: owner by close month",
        "Open pipeline amount per owner (rows) and expected close month (columns), with totals.",
        {
            "source": "opportunities",
            "layout": "matrix",
            "dimensions": [{"field": "owner"}, {"field": "expected_close_date", "grain": "month"}],
            "column_dimensions": 1,
            "measures": [{"name": "amount", "title": "Amount", "aggregate": "sum", "field": "amount_base"}],
            "filters": {
                "and": [
                    OPEN,
                    {
                        "field": "expected_close_date",
                        "op": "within",
                        "values": ["this_fiscal_quarter"],
                        "runtime": True,
                        "id": "close",
                    },
                ]
            },
        },
    ),
    BuiltinReport(
        "forecast_vs_quota",
        "Forecast vs quota vs actual",
        "Per person in your team for a period: quota, latest committed likely / best / worst, live "
        "forecast (won plus weighted open), open pipeline, closed won, attainment and gap. A manager's "
        "row covers their whole team.",
        {
            "source": "period_performance",
            "layout": "summation",
            "dimensions": [{"field": "user"}],
            "measures": [
                {"name": "quota", "title": "Quota", "aggregate": "sum", "field": "quota"},
                {
                    "name": "committed_likely",
                    "title": "Committed likely",
                    "aggregate": "sum",
                    "field": "committed_likely",
                },
                {
                    "name": "committed_best",
                    "title": "Committed best",
                    "aggregate": "sum",
                    "field": "committed_best",
                },
                {
                    "name": "committed_worst",
                    "title": "Committed worst",
                    "aggregate": "sum",
                    "field": "committed_worst",
                },
                {
                    "name": "live_forecast",
                    "title": "Live forecast",
                    "aggregate": "sum",
                    "field": "live_forecast",
                },
                {
                    "name": "open_pipeline",
                    "title": "Open pipeline",
                    "aggregate": "sum",
                    "field": "live_pipeline",
                },
                {"name": "closed_won", "title": "Closed won", "aggregate": "sum", "field": "closed_won"},
                {
                    "name": "attainment",
                    "title": "Attainment",
                    "formula": "closed_won / quota",
                    "type": "percent",
                },
                {"name": "gap", "title": "Gap to quota", "formula": "quota - closed_won", "type": "money"},
            ],
            "grand_total": False,
            "parameters": {"period": "this_fiscal_quarter"},
            "chart": {"kind": "bar", "measure": "closed_won"},
        },
    ),
    BuiltinReport(
        "pipeline_movement",
        "Pipeline movement",
        "How the pipeline closing in a window changed between two dates: start, new, pulled in, "
        "increased, decreased, pushed out, won, lost and end, with the deals behind each bar.",
        {
            "source": "pipeline_movement",
            "layout": "summation_with_details",
            "dimensions": [{"field": "category"}],
            "measures": [
                {"name": "deals", "title": "Deals", "aggregate": "count"},
                {"name": "change", "title": "Change", "aggregate": "sum", "field": "change"},
            ],
            "detail_columns": [
                "name",
                "owner",
                "amount_from",
                "amount_to",
                "stage_from",
                "stage_to",
                "close_date_from",
                "close_date_to",
            ],
            "grand_total": False,
            "parameters": {"from": "last_30_days", "to": "today"},
            "chart": {"kind": "waterfall", "measure": "change"},
        },
    ),
    BuiltinReport(
        "win_rate_by_owner",
        "Win rate, deal size and cycle by owner",
        "Closed deals per owner: won, lost, win rate by count and by amount, average won deal size "
        "and average sales cycle in days.",
        _win_rates_by("owner"),
    ),
    BuiltinReport(
        "win_rate_by_lead_source",
        "Win rate, deal size and cycle by lead source",
        "Closed deals per lead source: won, lost, win rate by count and by amount, average won deal "
        "size and average sales cycle in days.",
        _win_rates_by("lead_source"),
    ),
    BuiltinReport(
        "days_in_stage",
        "Days per stage",
        "How long deals stayed in each sales stage (completed stays), on average and at most.",
        {
            "source": "opportunity_history",
            "layout": "summation",
            "dimensions": [{"field": "sales_stage"}],
            "measures": [
                {"name": "stays", "title": "Stays", "aggregate": "count", "field": "stage_days"},
                {"name": "average_days", "title": "Average days", "aggregate": "avg", "field": "stage_days"},
                {
                    "name": "longest_days",
                    "title": "Longest (days)",
                    "aggregate": "max",
                    "field": "stage_days",
                },
            ],
            "filters": {
                "and": [
                    {"field": "stage_entry", "op": "eq", "values": [True]},
                    {"field": "stage_days", "op": "is_not_empty"},
                ]
            },
        },
    ),
    BuiltinReport(
        "stage_funnel",
        "Stage conversion funnel",
        "Deals that reached each stage or a later one, every stage from the first to the furthest "
        "reached (a lost deal counts up to the furthest stage it reached before it was lost).",
        {
            "source": "opportunities",
            "layout": "summation",
            "dimensions": [{"field": "max_stage_order"}],
            "measures": [
                {"name": "reached", "title": "Reached", "aggregate": "count", "cumulative": True},
            ],
            "filters": {"and": [{"field": "max_stage_order", "op": "ge", "values": [0]}]},
            "grand_total": False,
            "chart": {"kind": "funnel", "measure": "reached"},
        },
    ),
    BuiltinReport(
        "won_lost_reasons",
        "Won and lost reasons",
        "Closed deals by outcome and the reason given.",
        {
            "source": "opportunities",
            "layout": "summation",
            "dimensions": [{"field": "status"}, {"field": "close_reason"}],
            "measures": [
                {"name": "deals", "title": "Deals", "aggregate": "count"},
                {"name": "amount", "title": "Amount", "aggregate": "sum", "field": "amount_base"},
            ],
            "filters": {"and": [CLOSED]},
            "subtotals": True,
        },
    ),
    BuiltinReport(
        "top_open_deals",
        "Top open deals",
        "The largest open deals closing this fiscal quarter.",
        {
            "source": "opportunities",
            "layout": "rows_and_columns",
            "detail_columns": [
                "name",
                "account_name",
                "owner",
                "sales_stage",
                "probability",
                "amount_base",
                "weighted_amount",
                "expected_close_date",
            ],
            "filters": {
                "and": [
                    OPEN,
                    {
                        "field": "expected_close_date",
                        "op": "within",
                        "values": ["this_fiscal_quarter"],
                        "runtime": True,
                        "id": "close",
                    },
                ]
            },
            "sort": [{"by": "amount_base", "descending": True}],
            "limit": 20,
        },
    ),
    BuiltinReport(
        "past_due_and_stale_deals",
        "Past-due and stale deals",
        "Open deals whose expected close date has passed, or not updated for 14 days.",
        {
            "source": "opportunities",
            "layout": "rows_and_columns",
            "detail_columns": [
                "name",
                "owner",
                "sales_stage",
                "amount_base",
                "expected_close_date",
                "update_time",
                "push_count",
                "stage_entered_at",
            ],
            "filters": {
                "and": [
                    OPEN,
                    {
                        "or": [
                            {"field": "expected_close_date", "op": "lt", "values": ["today"]},
                            {
                                "field": "update_time",
                                "op": "lt",
                                "values": ["last_14_days"],
                                "runtime": True,
                                "id": "stale_before",
                            },
                        ]
                    },
                ]
            },
            "sort": [{"by": "expected_close_date"}],
            "limit": 500,
        },
    ),
    BuiltinReport(
        "forecast_accuracy",
        "Forecast accuracy",
        "Per person and ended period: the latest commit's likely against what closed won, the error, "
        "and over all periods the mean absolute percentage error (MAPE) and signed bias (positive: "
        "over-forecast).",
        {
            "source": "forecast_accuracy",
            "layout": "summation_with_details",
            "dimensions": [{"field": "user"}, {"field": "kind"}],
            "measures": [
                {"name": "periods", "title": "Periods", "aggregate": "count"},
                {"name": "committed", "title": "Committed", "aggregate": "sum", "field": "committed_likely"},
                {"name": "actual_total", "title": "Actual", "aggregate": "sum", "field": "actual"},
                {"name": "mape", "title": "MAPE", "aggregate": "avg", "field": "ape"},
                {"name": "mean_bias", "title": "Signed bias", "aggregate": "avg", "field": "bias"},
                {
                    "name": "absolute_error",
                    "title": "Absolute error",
                    "aggregate": "sum",
                    "field": "abs_error",
                },
                {
                    "name": "wape",
                    "title": "WAPE",
                    "formula": "absolute_error / actual_total",
                    "type": "percent",
                },
            ],
            "detail_columns": ["period_id", "committed_likely", "actual", "error", "ape", "bias"],
            "grand_total": False,
        },
    ),
    BuiltinReport(
        "lead_funnel",
        "Lead funnel by lead source and campaign",
        "Leads created this fiscal year (run-time filter `created`) per lead source and campaign: how "
        "many were qualified, converted and won, went dead or were recycled; the rate of each step and "
        "from lead to won; and the median days from created to qualified, qualified (or created) to "
        "converted, and converted to won.",
        _lead_funnel_by({"field": "lead_source"}, {"field": "campaign"}),
    ),
    BuiltinReport(
        "lead_funnel_by_month",
        "Lead funnel by month created",
        "The lead funnel per month the leads were created in: created, qualified, converted, won, dead "
        "and recycled, the rate of each step and the median days each took.",
        _lead_funnel_by({"field": "create_time", "grain": "month"}),
    ),
)


BUILTIN_REPORTS += (
    BuiltinReport(
        "campaign_roi",
        "Campaign ROI",
        "Per campaign, grouped by channel, this fiscal year: cost (converted at each cost entry's "
        "date, counted once per campaign), leads, cost per lead, attributed opportunities, pipeline "
        "and won revenue, CAC, ROI, ROAS and cost to date against budget.",
        _campaign_returns_by("channel", "campaign"),
    ),
    BuiltinReport(
        "channel_roi",
        "Channel ROI",
        "Per marketing channel, this fiscal year: cost, leads, attributed pipeline and won revenue, "
        "CAC, ROI and ROAS.",
        _campaign_returns_by("channel"),
    ),
    BuiltinReport(
        "attribution_by_campaign",
        "Attribution by campaign",
        "The credit and won credit each campaign earns of the deals in your scope under an "
        "attribution model (parameter model: first_touch, last_touch, linear, u_shaped, w_shaped or "
        "time_decay; lookback_days, half_life_days), with the deals it shares in.",
        {
            "source": "attribution",
            "layout": "summation",
            "dimensions": [{"field": "campaign"}],
            "measures": [
                {"name": "credit", "title": "Credit", "aggregate": "sum", "field": "credit"},
                {"name": "won_credit", "title": "Won credit", "aggregate": "sum", "field": "won_credit"},
                {
                    "name": "deals",
                    "title": "Deals (credited share)",
                    "aggregate": "sum",
                    "field": "deal_share",
                },
                {"name": "touches", "title": "Touches", "aggregate": "sum", "field": "touches"},
            ],
            "sort": [{"by": "credit", "descending": True}],
            "parameters": {"model": "linear", "lookback_days": 90, "half_life_days": 7},
            "chart": {"kind": "bar", "measure": "credit", "compare_with": ["won_credit"]},
        },
    ),
)


def builtin(report_id: str) -> BuiltinReport | None:
    return next((r for r in BUILTIN_REPORTS if r.id == report_id), None)
