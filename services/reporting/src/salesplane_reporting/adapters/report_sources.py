"""Each report source as one SQL selectable whose columns are the catalogue's fields.

A money field `x` comes with a column `x__currency`. The caller's scope is applied here, inside
the source, because a source may need it in more than one place (pipeline movement asks whether
the owner was in scope at each end)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    FromClause,
    Select,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)

from salesplane_platform.errors import FieldViolation, InvalidArgument
from salesplane_reporting.adapters import tables
from salesplane_reporting.adapters.funnel_source import lead_funnel
from salesplane_reporting.adapters.pipeline_rollup import NO_CLOSE_MONTH
from salesplane_reporting.adapters.source_context import CURRENCY, SourceContext, in_scope, select_source
from salesplane_reporting.domain.catalogue import Source
from salesplane_reporting.domain.definition import ReportSpec
from salesplane_reporting.domain.relative_dates import (
    RelativeDate,
    parse_date_value,
    period_of,
    point_instant,
    start_instant,
)


def _held(closure: Any, instant: datetime | None) -> ColumnElement[bool]:
    """The closure pairs of the organisation now, or as it was at `instant`."""
    if instant is None:
        return and_(closure.valid_to.is_(None))
    return and_(closure.valid_from <= instant, or_(closure.valid_to.is_(None), closure.valid_to > instant))


def _team_of(owner: ColumnElement[Any], context: SourceContext) -> tuple[FromClause, ColumnElement[Any]]:
    """A subquery to outer-join on the owner, and the team expression it gives."""
    closure = tables.org_closure.c
    below = tables.org_closure.alias("viewpoint_reports")
    direct_reports = select(below.c.descendant_user_id).where(
        below.c.ancestor_user_id == context.viewpoint,
        below.c.distance == 1,
        _held(below.c, context.org_instant),
    )
    team = (
        select(closure.descendant_user_id.label("member"), closure.ancestor_user_id.label("head"))
        .where(_held(closure, context.org_instant), closure.ancestor_user_id.in_(direct_reports))
        .subquery("team")
    )
    return team, func.coalesce(team.c.head, owner)


def _opportunity_columns(o: Any) -> dict[str, ColumnElement[Any]]:
    c = o.c
    return {
        "opportunity_id": c.opportunity_id,
        "name": c.name,
        "account_name": c.account_name,
        "owner": c.owner_user_id,
        "sales_stage": c.sales_stage,
        "stage_order": c.stage_order,
        "probability": c.probability,
        "status": c.status,
        "amount": c.amount_minor,
        "amount" + CURRENCY: c.currency,
        "currency": c.currency,
        "amount_base": c.amount_base_minor,
        "amount_base" + CURRENCY: c.base_currency,
        "weighted_amount": c.weighted_base_minor,
        "weighted_amount" + CURRENCY: c.base_currency,
        "best_case": c.best_base_minor,
        "best_case" + CURRENCY: c.base_currency,
        "worst_case": c.worst_base_minor,
        "worst_case" + CURRENCY: c.base_currency,
        "expected_close_date": c.expected_close_date,
        "lead_source": c.lead_source_id,
        "campaign": c.campaign_id,
        "close_reason": c.close_reason,
        "next_step": c.next_step,
        "create_time": c.create_time,
        "update_time": c.update_time,
        "close_time": c.close_time,
        "cycle_days": c.cycle_seconds,
        "stage_entered_at": c.stage_entered_at,
        "push_count": c.push_count,
        "max_stage_order": c.max_stage_order,
    }


def _held_at(instant: datetime) -> ColumnElement[bool]:
    v = tables.opportunity_versions.c
    return and_(
        v.valid_from <= instant, or_(v.valid_to.is_(None), v.valid_to > instant), v.deleted.is_(False)
    )


def _with_team(
    columns: dict[str, ColumnElement[Any]], base: FromClause, context: SourceContext
) -> tuple[dict[str, ColumnElement[Any]], FromClause]:
    if "team" not in context.used:
        return {**columns, "team": columns["owner"]}, base
    team, expression = _team_of(columns["owner"], context)
    return {**columns, "team": expression}, base.outerjoin(team, team.c.member == columns["owner"])


def opportunities(spec: ReportSpec, context: SourceContext) -> FromClause:
    if spec.as_of is None:
        base: FromClause = tables.opportunity_current
        columns = _opportunity_columns(tables.opportunity_current)
        where = []
    else:
        base = tables.opportunity_versions
        columns = _opportunity_columns(tables.opportunity_versions)
        instant = min(point_instant(spec.as_of, context.today, context.calendar), context.now)
        where = [_held_at(instant)]
    columns, base = _with_team(columns, base, context)
    return select_source(columns, base, in_scope(columns["owner"], context), *where)


def opportunity_history(spec: ReportSpec, context: SourceContext) -> FromClause:
    v = tables.opportunity_versions
    columns = {
        **_opportunity_columns(v),
        "version": v.c.version,
        "valid_from": v.c.valid_from,
        "valid_to": v.c.valid_to,
        "change_kind": v.c.change_kind,
        "stage_entry": v.c.stage_entry,
        "stage_days": v.c.stage_seconds,
    }
    columns, base = _with_team(columns, v, context)
    return select_source(columns, base, in_scope(columns["owner"], context))


def _period_parameter(value: object, context: SourceContext, path: str) -> tuple[str, date, date]:
    """A period id ("2026-Q4", "2026-11") or a relative period, as (label, first day, last day)."""
    if isinstance(value, str):
        known = context.calendar.period_range(value)
        if known is not None:
            return value, known[0], known[1]
        relative = parse_date_value(value)
        if isinstance(relative, RelativeDate):
            first, last = period_of(relative, context.today, context.calendar)
            if "quarter" in value:
                label = context.calendar.quarter_id(first)
            elif "month" in value:
                label = f"{first.year:04d}-{first.month:02d}"
            else:
                label = f"{first}..{last}"
            return label, first, last
    raise InvalidArgument(
        FieldViolation(path, f"must be a period id (2026-Q4, 2026-11) or a relative period, got {value!r}")
    )


def parameter_interval(spec: ReportSpec, context: SourceContext) -> tuple[datetime, datetime]:
    """The instants of parameters `from` and `to`: from the start of the first day ("last_30_days":
    30 days ago at midnight UTC; a date: that day's midnight) to the end of the last day (never
    after now), or the instants given."""
    start_value = spec.parameters["from"]
    if isinstance(start_value, RelativeDate):
        start_at = start_instant(period_of(start_value, context.today, context.calendar)[0])
    elif isinstance(start_value, datetime):
        start_at = start_value
    else:
        start_at = start_instant(start_value)  # type: ignore[arg-type]
    end_at = min(point_instant(spec.parameters["to"], context.today, context.calendar), context.now)  # type: ignore[arg-type]
    return start_at, end_at


def pipeline_movement(spec: ReportSpec, context: SourceContext) -> FromClause:
    """Per deal, how its contribution to the pipeline of a close-date window changed between two
    instants: a `start` row (its amount then, if it was in), an `end` row (its amount at the end, if
    in) and one movement row whose change is end minus start, so the bars always add up from start
    to end. A deal is in the pipeline when it is open, its close date is in the window and its
    owner is in the caller's scope. Deals created and closed between the two instants appear in
    neither total and move nothing."""
    start_at, end_at = parameter_interval(spec, context)
    window = spec.parameters.get("window")
    if window is None:
        first, last = context.calendar.quarter_range(end_at.date())
    else:
        _, first, last = _period_parameter(window, context, "parameters.window")
    v = tables.opportunity_versions.c
    # One scan of the versions held at either instant, folded into one row per deal with its state
    # at each end (at most one version of a deal holds at an instant): no self-join of the history.
    held_start, held_end = _held_at(start_at), _held_at(end_at)
    fields = {
        "name": v.name,
        "owner": v.owner_user_id,
        "amount": v.amount_base_minor,
        "currency": v.base_currency,
        "close": v.expected_close_date,
        "stage": v.sales_stage,
        "status": v.status,
    }
    ends = [(held_start, "1"), (held_end, "2")]
    # Only deals in the pipeline at either end move it: found through the close-date index first.
    in_window = select(v.opportunity_id).where(
        or_(held_start, held_end),
        v.status == "open",
        v.expected_close_date >= first,
        v.expected_close_date <= last,
        in_scope(v.owner_user_id, context),
    )
    per_deal = (
        select(
            v.opportunity_id.label("id"),
            *(func.max(case((held, 1), else_=0)).label(f"exists{end}") for held, end in ends),
            *(
                func.max(case((held, column), else_=None)).label(f"{name}{end}")
                for held, end in ends
                for name, column in fields.items()
            ),
        )
        .where(or_(held_start, held_end), v.opportunity_id.in_(in_window))
        .group_by(v.opportunity_id)
        .cte("per_deal")
    )
    d = per_deal.c

    def in_pipeline(end: str) -> ColumnElement[bool]:
        return and_(
            d[f"exists{end}"] == 1,
            d[f"status{end}"] == "open",
            d[f"close{end}"] >= first,
            d[f"close{end}"] <= last,
            in_scope(d[f"owner{end}"], context),
        )

    was_in, is_in = in_pipeline("1"), in_pipeline("2")
    amount_from = case((was_in, d.amount1), else_=0)
    amount_to = case((is_in, d.amount2), else_=0)
    category = case(
        (and_(was_in, is_in, d.amount2 > d.amount1), "increased"),
        (and_(was_in, is_in), "decreased"),
        (and_(was_in, d.exists2 == 0), "removed"),
        (and_(was_in, d.status2 == "won"), "won"),
        (and_(was_in, d.status2 == "lost"), "lost"),
        (and_(was_in, ~in_scope(d.owner2, context)), "reassigned_out"),
        (and_(was_in, d.close2 > last), "pushed_out"),
        (was_in, "moved_earlier"),
        (d.exists1 == 0, "new"),
        (d.status1 != "open", "reopened"),
        (~in_scope(d.owner1, context), "reassigned_in"),
        (d.close1 > last, "pulled_in"),
        else_="pushed_in",
    )
    common = {
        "opportunity_id": d.id,
        "name": func.coalesce(d.name2, d.name1),
        "owner": func.coalesce(d.owner2, d.owner1),
        "amount_from": d.amount1,
        "amount_from" + CURRENCY: d.currency1,
        "amount_to": d.amount2,
        "amount_to" + CURRENCY: d.currency2,
        "stage_from": d.stage1,
        "stage_to": d.stage2,
        "close_date_from": d.close1,
        "close_date_to": d.close2,
        "change" + CURRENCY: func.coalesce(d.currency2, d.currency1),
    }
    joined = per_deal

    def part(label: Any, change: Any, *where: ColumnElement[bool]) -> Select[Any]:
        columns = {"category": label, "change": change, **common, "team": common["owner"]}
        return select(*(e.label(n) for n, e in columns.items())).select_from(joined).where(*where)

    moved = and_(or_(was_in, is_in), or_(~and_(was_in, is_in), d.amount1 != d.amount2))
    return union_all(
        part(literal("start"), amount_from, was_in),
        part(category, amount_to - amount_from, moved),
        part(literal("end"), amount_to, is_in),
    ).subquery("src")


def _is_latest(commit: Any) -> ColumnElement[bool]:
    """No later commit of the same user, period and kind exists."""
    newer = tables.forecast_commits.alias("newer")
    return ~exists().where(
        newer.c.user_id == commit.c.user_id,
        newer.c.period_id == commit.c.period_id,
        newer.c.kind == commit.c.kind,
        newer.c.sequence > commit.c.sequence,
    )


def _latest_commits() -> Any:
    c = tables.forecast_commits
    return select(c).where(_is_latest(c)).subquery("latest")


def period_performance(spec: ReportSpec, context: SourceContext) -> FromClause:
    """Per user in scope and one period: their quota, latest commit (their manager commit when they
    manage a team, else their rep commit), and what their deals (a manager's whole subtree) are
    worth now: closed won, open pipeline, and the live forecast (won plus weighted open)."""
    label, first, last = _period_parameter(
        spec.parameters.get("period", "this_fiscal_quarter"), context, "parameters.period"
    )
    users = tables.org_users
    o = tables.opportunity_current.c
    closure = tables.org_closure.c
    deals = (
        select(
            closure.ancestor_user_id.label("user_id"),
            func.sum(case((o.status == "won", o.amount_base_minor), else_=0)).label("won"),
            func.sum(case((o.status == "open", o.amount_base_minor), else_=0)).label("open"),
            func.sum(case((o.status == "open", o.weighted_base_minor), else_=0)).label("weighted"),
        )
        .select_from(
            tables.opportunity_current.join(
                tables.org_closure,
                and_(closure.descendant_user_id == o.owner_user_id, closure.valid_to.is_(None)),
            )
        )
        .where(o.expected_close_date >= first, o.expected_close_date <= last)
        .group_by(closure.ancestor_user_id)
        .subquery("deals")
    )
    reports = tables.org_users.alias("reports")
    has_reports = exists().where(reports.c.manager_user_id == users.c.user_id)
    quota = tables.quota_view
    latest = _latest_commits()
    base = (
        users.outerjoin(deals, deals.c.user_id == users.c.user_id)
        .outerjoin(
            quota,
            and_(quota.c.user_id == users.c.user_id, quota.c.period_id == label, quota.c.kind == "assigned"),
        )
        .outerjoin(
            latest,
            and_(
                latest.c.user_id == users.c.user_id,
                latest.c.period_id == label,
                latest.c.kind == case((has_reports, "manager"), else_="rep"),
            ),
        )
    )
    won = func.coalesce(deals.c.won, 0)
    currency = literal(context.base_currency)
    columns: dict[str, ColumnElement[Any]] = {
        "user": users.c.user_id,
        "period_id": literal(label),
        "quota": quota.c.amount_minor,
        "committed_likely": latest.c.likely_minor,
        "committed_best": latest.c.best_minor,
        "committed_worst": latest.c.worst_minor,
        "live_pipeline": func.coalesce(deals.c.open, 0),
        "live_weighted": func.coalesce(deals.c.weighted, 0),
        "live_forecast": won + func.coalesce(deals.c.weighted, 0),
        "closed_won": won,
        "has_reports": has_reports,
    }
    for money in ("quota", "committed_likely", "committed_best", "committed_worst"):
        columns[money + CURRENCY] = func.coalesce(
            quota.c.currency if money == "quota" else latest.c.currency, currency
        )
    for money in ("live_pipeline", "live_weighted", "live_forecast", "closed_won"):
        columns[money + CURRENCY] = currency
    return select_source(columns, base, in_scope(users.c.user_id, context))


def forecast_accuracy(spec: ReportSpec, context: SourceContext) -> FromClause:
    """Per user, ended period and commit kind: the latest commit's likely against what closed won
    in the period (their own deals for a rep commit, their subtree's for a manager commit), with the
    absolute percentage error and signed bias in basis points, each rounded half away from zero
    once per row."""
    periods = sorted(
        p for (p,) in context.session.execute(select(tables.forecast_commits.c.period_id).distinct()) if p
    )
    ended = []
    for period_id in periods:
        known = context.calendar.period_range(period_id)
        if known is not None and known[1] < context.today:
            ended.append((period_id, known[0], known[1]))
    latest = _latest_commits()
    o = tables.opportunity_current.c
    closure = tables.org_closure.c
    period_rows: Any
    if not ended:
        period_rows = select(
            literal("").label("period_id"),
            literal(date(1, 1, 1)).label("first"),
            literal(date(1, 1, 1)).label("last"),
        ).where(false())
    else:
        period_rows = union_all(
            *(
                select(literal(p).label("period_id"), literal(a).label("first"), literal(b).label("last"))
                for p, a, b in ended
            )
        )
    span = period_rows.subquery("ended")
    actual = (
        select(func.coalesce(func.sum(o.amount_base_minor), 0))
        .select_from(
            tables.opportunity_current.join(
                tables.org_closure,
                and_(closure.descendant_user_id == o.owner_user_id, closure.valid_to.is_(None)),
            )
        )
        .where(
            closure.ancestor_user_id == latest.c.user_id,
            or_(latest.c.kind == "manager", closure.distance == 0),
            o.status == "won",
            o.expected_close_date >= span.c.first,
            o.expected_close_date <= span.c.last,
        )
        .scalar_subquery()
    )
    base = latest.join(span, span.c.period_id == latest.c.period_id)
    inner = (
        select(
            latest.c.user_id.label("user"),
            latest.c.period_id.label("period_id"),
            latest.c.kind.label("kind"),
            latest.c.likely_minor.label("committed_likely"),
            actual.label("actual"),
            latest.c.currency.label("currency"),
        )
        .select_from(base)
        .where(in_scope(latest.c.user_id, context))
        .subquery("accuracy")
    )
    a, f = inner.c.actual, inner.c.committed_likely
    difference = a - f

    def basis_points(numerator: ColumnElement[Any]) -> ColumnElement[Any]:
        # |n| x 10,000 / A rounded half up, with n's sign: integer arithmetic in both dialects.
        magnitude = (func.abs(numerator) * 20000 + a) // (2 * a)
        return case((a <= 0, null()), (numerator < 0, -magnitude), else_=magnitude)

    columns: dict[str, ColumnElement[Any]] = {
        "user": inner.c.user,
        "period_id": inner.c.period_id,
        "kind": inner.c.kind,
        "committed_likely": f,
        "actual": a,
        "error": difference,
        "abs_error": func.abs(difference),
        "ape": basis_points(func.abs(difference)),
        "bias": basis_points(f - a),
    }
    for money in ("committed_likely", "actual", "error", "abs_error"):
        columns[money + CURRENCY] = inner.c.currency
    return select_source(columns, inner)


def forecast_commits(spec: ReportSpec, context: SourceContext) -> FromClause:
    c = tables.forecast_commits
    latest = _is_latest(c)
    columns: dict[str, ColumnElement[Any]] = {
        "user": c.c.user_id,
        "period_id": c.c.period_id,
        "kind": c.c.kind,
        "sequence": c.c.sequence,
        "latest": latest,
        "likely": c.c.likely_minor,
        "best": c.c.best_minor,
        "worst": c.c.worst_minor,
        "closed_won": c.c.closed_won_minor,
        "quota": c.c.quota_minor,
        "author": c.c.author_user_id,
        "commit_time": c.c.commit_time,
    }
    for money in ("likely", "best", "worst", "closed_won", "quota"):
        columns[money + CURRENCY] = c.c.currency
    return select_source(columns, c, in_scope(c.c.user_id, context))


def quotas(spec: ReportSpec, context: SourceContext) -> FromClause:
    q = tables.quota_view.c
    columns: dict[str, ColumnElement[Any]] = {
        "user": q.user_id,
        "period_id": q.period_id,
        "kind": q.kind,
        "amount": q.amount_minor,
        "amount" + CURRENCY: q.currency,
        "commit_time": q.commit_time,
    }
    return select_source(columns, tables.quota_view, in_scope(q.user_id, context))


def leads(spec: ReportSpec, context: SourceContext) -> FromClause:
    lead = tables.lead_view.c
    columns: dict[str, ColumnElement[Any]] = {
        "lead_id": lead.id,
        "status": lead.status,
        "lead_source": lead.lead_source_id,
        "campaign": lead.campaign_id,
        "assigned_user": lead.assigned_user_id,
        "company": lead.company,
        "score": lead.score,
        "qualified": lead.qualified,
        "converted": (lead.converted_opportunity_id != "").cast(Boolean),
        "create_time": lead.create_time,
        "convert_time": lead.convert_time,
    }
    return select_source(columns, tables.lead_view, in_scope(lead.assigned_user_id, context))


def campaigns(spec: ReportSpec, context: SourceContext) -> FromClause:
    c = tables.campaign_view.c
    columns: dict[str, ColumnElement[Any]] = {
        "campaign": c.id,
        "lead_source": c.lead_source_id,
        "channel": c.channel,
        "budget": c.budget_minor,
        "expected_cost": c.expected_cost_minor,
        "expected_revenue": c.expected_revenue_minor,
        "actual_cost": c.actual_cost_minor,
        "start_date": c.start_date,
        "end_date": c.end_date,
    }
    for money in ("budget", "expected_cost", "expected_revenue", "actual_cost"):
        columns[money + CURRENCY] = c.currency
    # Campaigns belong to no user: the engine lets only marketing and admins read them.
    return select_source(columns, tables.campaign_view)


def attribution(spec: ReportSpec, context: SourceContext) -> FromClause:
    # Imported here: the computed sources build on this module's helpers.
    from salesplane_reporting.adapters.attribution_source import attribution

    return attribution(spec, context)


def campaign_performance(spec: ReportSpec, context: SourceContext) -> FromClause:
    from salesplane_reporting.adapters.campaign_performance_source import campaign_performance

    return campaign_performance(spec, context)


BUILDERS: dict[Source, Callable[[ReportSpec, SourceContext], FromClause]] = {
    Source.OPPORTUNITIES: opportunities,
    Source.OPPORTUNITY_HISTORY: opportunity_history,
    Source.PIPELINE_MOVEMENT: pipeline_movement,
    Source.PERIOD_PERFORMANCE: period_performance,
    Source.FORECAST_ACCURACY: forecast_accuracy,
    Source.FORECAST_COMMITS: forecast_commits,
    Source.QUOTAS: quotas,
    Source.LEADS: leads,
    Source.CAMPAIGNS: campaigns,
    Source.ATTRIBUTION: attribution,
    Source.CAMPAIGN_PERFORMANCE: campaign_performance,
    Source.LEAD_FUNNEL: lead_funnel,
}


ROLLUP_DEALS = "__deals"


def pipeline_rollup(
    context: SourceContext, *, per: str | None, caller_is_manager: bool, caller: str
) -> FromClause:
    """The opportunities source read from the pipeline rollup instead of the deals: the same fields
    (those the rollup keeps) and ROLLUP_DEALS, the number of deals each row stands for. `per` is
    "team", "owner" or None (one total for the caller's scope)."""
    r = tables.pipeline_rollup.c
    close = case((r.close_month == NO_CLOSE_MONTH, None), else_=r.close_month)
    base: dict[str, ColumnElement[Any]] = {
        "sales_stage": r.sales_stage,
        "status": r.status,
        "expected_close_date": close,
        "amount_base": r.amount_base_minor,
        "weighted_amount": r.weighted_base_minor,
        "best_case": r.best_base_minor,
        "worst_case": r.worst_base_minor,
        ROLLUP_DEALS: r.deals,
    }
    for money in ("amount_base", "weighted_amount", "best_case", "worst_case"):
        base[money + CURRENCY] = r.base_currency
    if per == "team":
        below = tables.org_closure.alias("viewpoint_reports")
        direct_reports = select(below.c.descendant_user_id).where(
            below.c.ancestor_user_id == context.viewpoint, below.c.distance == 1, below.c.valid_to.is_(None)
        )
        where = or_(
            and_(r.own.is_(False), r.user_id.in_(direct_reports)),
            and_(r.own.is_(True), r.user_id == context.viewpoint),
        )
        columns = {**base, "team": r.user_id}
    elif per == "owner" or context.visible_users is None:
        where = and_(r.own.is_(True), in_scope(r.user_id, context))
        columns = {**base, "owner": r.user_id}
    else:
        # One row per cell for the whole scope: a manager's team rows, a rep's own.
        where = and_(r.user_id == caller, r.own.is_(not caller_is_manager))
        columns = base
    # A cell every deal has left keeps its row at zero until the next rebuild: not a group.
    return select_source(columns, tables.pipeline_rollup, where, r.deals != 0)
