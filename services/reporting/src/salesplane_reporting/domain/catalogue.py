"""What each report source offers: its fields, their types, and what may be done with them.

Nothing outside a source's catalogue can be queried. The SQL behind each field lives in the
adapters; this is the vocabulary definitions are validated against."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from salesplane_reporting.domain.report import ColumnType


class Source(StrEnum):
    OPPORTUNITIES = "opportunities"
    OPPORTUNITY_HISTORY = "opportunity_history"
    PIPELINE_MOVEMENT = "pipeline_movement"
    PERIOD_PERFORMANCE = "period_performance"
    FORECAST_ACCURACY = "forecast_accuracy"
    FORECAST_COMMITS = "forecast_commits"
    QUOTAS = "quotas"
    LEADS = "leads"
    CAMPAIGNS = "campaigns"
    LEAD_FUNNEL = "lead_funnel"
    ATTRIBUTION = "attribution"
    CAMPAIGN_PERFORMANCE = "campaign_performance"


class Label(StrEnum):
    """Ids shown by a name looked up elsewhere."""

    USER = "user"
    LEAD_SOURCE = "lead_source"
    CAMPAIGN = "campaign"


@dataclass(frozen=True)
class Field:
    name: str
    title: str
    type: ColumnType
    label: Label | None = None
    # Stored in seconds, reported in days (DECIMAL, two places).
    seconds_as_days: bool = False
    # Stored in basis points, reported as a PERCENT fraction.
    basis_points: bool = False
    # Stored as a whole number of 10^-decimal_places (an exact decimal), reported as DECIMAL.
    decimal_places: int = 0
    # Values in this order sort first (e.g. the movement categories); others follow by value.
    order: tuple[str, ...] = ()
    groupable: bool = True

    @property
    def numeric(self) -> bool:
        return (
            self.type in (ColumnType.INTEGER, ColumnType.MONEY)
            or self.seconds_as_days
            or self.basis_points
            or self.decimal_places > 0
        )

    @property
    def temporal(self) -> bool:
        return self.type in (ColumnType.DATE, ColumnType.TIMESTAMP)

    @property
    def reported_type(self) -> ColumnType:
        if self.seconds_as_days:
            return ColumnType.DECIMAL
        if self.basis_points:
            return ColumnType.PERCENT
        if self.decimal_places:
            return ColumnType.DECIMAL
        return self.type

    @property
    def reported_scale(self) -> int:
        """Decimal places a value of this field is shown with."""
        return 2 if self.seconds_as_days else 4 if self.basis_points else self.decimal_places


def _f(name: str, title: str, type: ColumnType = ColumnType.STRING, **options: object) -> Field:
    return Field(name, title, type, **options)  # type: ignore[arg-type]


S, N, M, D, T, B = (
    ColumnType.STRING,
    ColumnType.INTEGER,
    ColumnType.MONEY,
    ColumnType.DATE,
    ColumnType.TIMESTAMP,
    ColumnType.BOOLEAN,
)

MOVEMENT_CATEGORIES = (
    "start",
    "new",
    "reassigned_in",
    "pulled_in",
    "reopened",
    "pushed_in",
    "increased",
    "decreased",
    "pushed_out",
    "moved_earlier",
    "reassigned_out",
    "won",
    "lost",
    "removed",
    "end",
)

_OPPORTUNITY_FIELDS = (
    _f("opportunity_id", "Opportunity id"),
    _f("name", "Opportunity"),
    _f("account_name", "Account"),
    _f("owner", "Owner", label=Label.USER),
    _f("team", "Team", label=Label.USER),
    _f("sales_stage", "Sales stage"),
    _f("stage_order", "Stage order", N),
    _f("probability", "Probability %", N),
    _f("status", "Status", order=("open", "won", "lost")),
    _f("amount", "Amount", M),
    _f("currency", "Currency"),
    _f("amount_base", "Amount (base)", M),
    _f("weighted_amount", "Weighted amount", M),
    _f("best_case", "Best case", M),
    _f("worst_case", "Worst case", M),
    _f("expected_close_date", "Expected close date", D),
    _f("lead_source", "Lead source", label=Label.LEAD_SOURCE),
    _f("campaign", "Campaign", label=Label.CAMPAIGN),
    _f("close_reason", "Close reason"),
    _f("next_step", "Next step"),
    _f("create_time", "Created", T),
    _f("update_time", "Last updated", T),
    _f("close_time", "Closed", T),
    _f("cycle_days", "Sales cycle (days)", N, seconds_as_days=True),
    _f("stage_entered_at", "In stage since", T),
    _f("push_count", "Close date pushes", N),
    _f("max_stage_order", "Furthest stage reached (order)", N),
)

_HISTORY_FIELDS = (
    *_OPPORTUNITY_FIELDS,
    _f("version", "Version", N),
    _f("valid_from", "Valid from", T),
    _f("valid_to", "Valid to", T),
    _f("change_kind", "Change"),
    _f("stage_entry", "Entered the stage", B),
    _f("stage_days", "Days in stage", N, seconds_as_days=True),
)

# One row per lead (duplicates merged into another lead left out): how far it went, and how long
# each step took. Each flag comes twice: as a boolean to filter or group by, and as 0 / 1 to sum.
_LEAD_FUNNEL_FIELDS = (
    _f("lead_id", "Lead id"),
    _f("status", "Status", order=("new", "assigned", "in_process", "converted", "recycled", "dead")),
    _f("lead_source", "Lead source", label=Label.LEAD_SOURCE),
    _f("campaign", "Campaign", label=Label.CAMPAIGN),
    _f("channel", "Channel"),
    _f("assigned_user", "Assigned to", label=Label.USER),
    _f("create_time", "Created", T),
    _f("qualified_time", "Qualified on", T),
    _f("convert_time", "Converted on", T),
    _f("won_time", "Won on", T),
    _f("qualified", "Qualified", B),
    _f("converted", "Converted", B),
    _f("won", "Won", B),
    _f("dead", "Dead", B),
    _f("recycled", "Recycled", B),
    _f("qualified_leads", "Qualified (1 or 0)", N),
    _f("converted_leads", "Converted (1 or 0)", N),
    _f("won_leads", "Won (1 or 0)", N),
    _f("dead_leads", "Dead (1 or 0)", N),
    _f("recycled_leads", "Recycled (1 or 0)", N),
    _f("days_to_qualify", "Days from created to qualified", N, seconds_as_days=True),
    _f("days_to_convert", "Days from qualified (or created) to converted", N, seconds_as_days=True),
    _f("days_to_win", "Days from converted to won", N, seconds_as_days=True),
)

# One row per (deal in scope, campaign it credits) under the chosen model; "unattributed" for a
# deal no touch and no campaign of its own credits. Credits are the deal's base amount split.
_ATTRIBUTION_FIELDS = (
    _f("opportunity_id", "Opportunity id"),
    _f("opportunity", "Opportunity"),
    _f("owner", "Owner", label=Label.USER),
    _f("campaign", "Campaign", label=Label.CAMPAIGN),
    _f("channel", "Channel"),
    _f("lead_source", "Lead source (of the campaign)", label=Label.LEAD_SOURCE),
    _f("status", "Deal status", order=("open", "won", "lost")),
    _f("sales_stage", "Sales stage"),
    _f("create_time", "Deal created", T),
    _f("close_date", "Close date", D),
    _f("credit", "Credit", M),
    _f("won_credit", "Won credit", M),
    _f("deal_share", "Credited deal share", N, decimal_places=6),
    _f("touches", "Touches counted", N),
)

# One row per campaign ("unattributed" too) over the window of parameters from / to.
_CAMPAIGN_PERFORMANCE_FIELDS = (
    _f("campaign", "Campaign", label=Label.CAMPAIGN),
    _f("channel", "Channel"),
    _f("lead_source", "Lead source", label=Label.LEAD_SOURCE),
    _f("cost", "Cost", M),
    _f("leads", "Leads", N),
    _f("qualified_leads", "Qualified leads", N),
    _f("cost_per_lead", "Cost per lead", M, groupable=False),
    _f("opportunities", "Opportunities (credited)", N, decimal_places=6),
    _f("pipeline_generated", "Pipeline generated", M),
    _f("won_deals", "Won deals (credited)", N, decimal_places=6),
    _f("won_revenue", "Won revenue", M),
    _f("cac", "Customer acquisition cost", M, groupable=False),
    _f("roi", "ROI", N, decimal_places=4, groupable=False),
    _f("roas", "ROAS", N, decimal_places=4, groupable=False),
    _f("budget", "Budget", M),
    _f("expected_revenue", "Expected revenue", M),
    _f("cost_to_date", "Actual cost to date", M),
    _f("budget_used", "Cost to date / budget", N, decimal_places=4, groupable=False),
)

CATALOGUE: dict[Source, tuple[Field, ...]] = {
    Source.OPPORTUNITIES: _OPPORTUNITY_FIELDS,
    Source.OPPORTUNITY_HISTORY: _HISTORY_FIELDS,
    Source.PIPELINE_MOVEMENT: (
        _f("category", "Movement", order=MOVEMENT_CATEGORIES),
        _f("opportunity_id", "Opportunity id"),
        _f("name", "Opportunity"),
        _f("owner", "Owner", label=Label.USER),
        _f("change", "Change", M),
        _f("amount_from", "Amount at start", M),
        _f("amount_to", "Amount at end", M),
        _f("stage_from", "Stage at start"),
        _f("stage_to", "Stage at end"),
        _f("close_date_from", "Close date at start", D),
        _f("close_date_to", "Close date at end", D),
    ),
    Source.PERIOD_PERFORMANCE: (
        _f("user", "User", label=Label.USER),
        _f("period_id", "Period"),
        _f("quota", "Quota", M),
        _f("committed_likely", "Committed likely", M),
        _f("committed_best", "Committed best", M),
        _f("committed_worst", "Committed worst", M),
        _f("live_pipeline", "Open pipeline", M),
        _f("live_weighted", "Open pipeline (weighted)", M),
        _f("live_forecast", "Live forecast (won + weighted open)", M),
        _f("closed_won", "Closed won", M),
        _f("has_reports", "Manages a team", B),
    ),
    Source.FORECAST_ACCURACY: (
        _f("user", "User", label=Label.USER),
        _f("period_id", "Period"),
        _f("kind", "Commit kind"),
        _f("committed_likely", "Committed likely", M),
        _f("actual", "Closed won", M),
        _f("error", "Actual - committed", M),
        _f("abs_error", "Absolute error", M),
        _f("ape", "Absolute % error", N, basis_points=True),
        _f("bias", "Signed bias", N, basis_points=True),
    ),
    Source.FORECAST_COMMITS: (
        _f("user", "User", label=Label.USER),
        _f("period_id", "Period"),
        _f("kind", "Kind"),
        _f("sequence", "Commit number", N),
        _f("latest", "Latest commit", B),
        _f("likely", "Likely", M),
        _f("best", "Best", M),
        _f("worst", "Worst", M),
        _f("closed_won", "Closed won at commit", M),
        _f("quota", "Quota at commit", M),
        _f("author", "Committed by", label=Label.USER),
        _f("commit_time", "Committed", T),
    ),
    Source.QUOTAS: (
        _f("user", "User", label=Label.USER),
        _f("period_id", "Period"),
        _f("kind", "Kind", order=("assigned", "direct")),
        _f("amount", "Quota", M),
        _f("commit_time", "Committed", T),
    ),
    Source.LEADS: (
        _f("lead_id", "Lead id"),
        _f("status", "Status", order=("new", "assigned", "in_process", "converted", "recycled", "dead")),
        _f("lead_source", "Lead source", label=Label.LEAD_SOURCE),
        _f("campaign", "Campaign", label=Label.CAMPAIGN),
        _f("assigned_user", "Assigned to", label=Label.USER),
        _f("company", "Company"),
        _f("score", "Score", N),
        _f("qualified", "Qualified", B),
        _f("converted", "Converted", B),
        _f("create_time", "Created", T),
        _f("convert_time", "Converted on", T),
    ),
    Source.CAMPAIGNS: (
        _f("campaign", "Campaign", label=Label.CAMPAIGN),
        _f("lead_source", "Lead source", label=Label.LEAD_SOURCE),
        _f("channel", "Channel"),
        _f("budget", "Budget", M),
        _f("expected_cost", "Expected cost", M),
        _f("expected_revenue", "Expected revenue", M),
        _f("actual_cost", "Actual cost", M),
        _f("start_date", "Start", D),
        _f("end_date", "End", D),
    ),
    Source.LEAD_FUNNEL: _LEAD_FUNNEL_FIELDS,
    Source.ATTRIBUTION: _ATTRIBUTION_FIELDS,
    Source.CAMPAIGN_PERFORMANCE: _CAMPAIGN_PERFORMANCE_FIELDS,
}

# Parameters a source needs (besides filters): movement compares two instants over a close-date
# window; performance and accuracy are per period.
SOURCE_PARAMETERS: dict[Source, tuple[str, ...]] = {
    Source.PIPELINE_MOVEMENT: ("from", "to", "window"),
    Source.PERIOD_PERFORMANCE: ("period",),
    Source.ATTRIBUTION: ("model", "lookback_days", "half_life_days"),
    Source.CAMPAIGN_PERFORMANCE: ("from", "to", "basis", "model", "lookback_days", "half_life_days"),
}
# Sources that read a past state with `as_of`.
AS_OF_SOURCES = frozenset({Source.OPPORTUNITIES})
# Sources about campaigns as a whole (their costs belong to no user): marketing and admins only.
MARKETING_ONLY_SOURCES = frozenset({Source.CAMPAIGNS, Source.CAMPAIGN_PERFORMANCE})


def fields_of(source: Source) -> dict[str, Field]:
    return {f.name: f for f in CATALOGUE[source]}
