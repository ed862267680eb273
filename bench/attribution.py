"""Attribution and campaign ROI: the report engine's `attribution` and `campaign_performance`
sources against a naive computation over the same data, in the same run.

    python bench/attribution.py                                  # 1,000,000 touches, 100,000 deals
    python bench/attribution.py --touches 50000 --deals 5000 --runs 2

A throw-away PostgreSQL is started here with durable settings (PostgreSQL's defaults, not the test
fixture's fast ones); the schema comes from the reporting migrations (and tables.py for anything a
migration in progress does not create yet). Loaded directly with COPY, without events:

- `--users` users (one VP, managers of ten reps each), base currency EUR;
- `--campaigns` campaigns over five channels, half in EUR, a quarter each in USD and GBP, with
  cost entries every two weeks over the last year in the campaign's currency, and daily USD and
  GBP exchange rates to EUR for the last 400 days;
- one lead per deal (created 0-60 days before it, with its lead campaign), 1 % of them merged into
  another lead, and `--touches` touches spread over the leads (1-20 each, 0-120 days before the
  deal, so some fall outside the 90-day lookback);
- `--deals` deals created over the last year, 40 % won, 30 % lost, the rest open.

Timed, each `--runs` times, interleaved with the naive computation (one engine run, then one
naive run, so both see the same background load):

1. the built-in `attribution_by_campaign` for marketing (every deal), once per model; naive: one
   query per deal for its lead's (and merged leads') touches, and the model computed with a
   Fraction per touch, as the attribution module was first written (the reference the unit tests
   keep);
2. the built-in `campaign_roi` (period basis, linear, from one year ago to today) for an admin;
   naive: the naive attribution of the deals created or won in the window, plus one query per
   campaign for its costs and leads, converted with a rate looked up per cost entry.

Results are checked against the naive ones (credit and won revenue per campaign). p50 is the
median. The naive figure is the ceiling to beat, not a target; nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

import salesplane_reporting.migrations
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.identity import ROLE_MARKETING, Identity
from salesplane_platform.migrations import upgrade_to_head
from salesplane_platform.money import Money, convert_minor
from salesplane_reporting.adapters import tables
from salesplane_reporting.adapters.report_engine import EngineOutput, RunContext, SqlReportEngine
from salesplane_reporting.domain.attribution import Model
from salesplane_reporting.domain.builtin_reports import builtin
from salesplane_reporting.domain.definition import ReportSpec, parse_definition
from salesplane_reporting.domain.report import RowKind
from salesplane_testing import bench_results
from salesplane_testing.bench_harness import run_cleanly

BASE = "EUR"
CHANNELS = ("email", "paid_search", "social", "events", "webinar")
LOOKBACK = timedelta(days=90)
HALF_LIFE = timedelta(days=7)
ADMIN = Identity("admin", frozenset({"admin"}))
MARKETING = Identity("marketer", frozenset({ROLE_MARKETING}))


def log(message: str) -> None:
    print(f"# {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- the data


def load(connection: Any, options: argparse.Namespace, now: datetime) -> dict[str, int]:
    rng = random.Random(options.seed)
    since = now - timedelta(days=400)
    users = ["vp"] + [f"m{i}" for i in range(max(1, options.users // 11))]
    managers = list(users)
    reps = [f"r{i}" for i in range(options.users - len(users))]
    manager_of = {"vp": None, **{m: "vp" for m in managers[1:]}}
    manager_of.update(
        {r: managers[1 + i % (len(managers) - 1)] if len(managers) > 1 else "vp" for i, r in enumerate(reps)}
    )
    campaigns = [f"c{i:04d}" for i in range(options.campaigns)]
    currency_of = {c: ("EUR", "EUR", "USD", "GBP")[i % 4] for i, c in enumerate(campaigns)}
    counts: dict[str, int] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO fiscal_settings (id, fiscal_year_start_month, currency_code, ranges, version) "
            "VALUES (1, 1, %s, '', 1)",
            (BASE,),
        )
        with cursor.copy(
            "COPY org_users (user_id, display_name, manager_user_id, roles, active, version, update_time) "
            "FROM STDIN"
        ) as copy:
            for user, manager in manager_of.items():
                copy.write_row((user, user.upper(), manager, "rep", True, 1, since))
        with cursor.copy(
            "COPY org_closure (ancestor_user_id, descendant_user_id, distance, valid_from) FROM STDIN"
        ) as copy:
            for user in manager_of:
                chain, current, distance = [], user, 0
                while current is not None:
                    chain.append((current, user, distance))
                    current, distance = manager_of[current], distance + 1
                for row in chain:
                    copy.write_row((*row, since))
        with cursor.copy(
            "COPY campaign_view (id, name, lead_source_id, channel, currency, budget_minor, "
            "expected_cost_minor, expected_revenue_minor, actual_cost_minor, start_date, end_date, version) "
            "FROM STDIN"
        ) as copy:
            for i, campaign in enumerate(campaigns):
                budget = rng.randrange(1_000_00, 100_000_00)
                copy.write_row(
                    (
                        campaign,
                        campaign,
                        f"src{i % 20}",
                        CHANNELS[i % len(CHANNELS)],
                        currency_of[campaign],
                        budget,
                        budget,
                        3 * budget,
                        0,
                        since.date(),
                        None,
                        1,
                    )
                )
        with cursor.copy(
            "COPY exchange_rate_view (currency, effective_from, rate, base_currency) FROM STDIN"
        ) as copy:
            for day in range(401):
                on = since.date() + timedelta(days=day)
                copy.write_row(("USD", on, f"0.{9000 + rng.randrange(-300, 300)}", BASE))
                copy.write_row(("GBP", on, f"1.{1500 + rng.randrange(-300, 300)}", BASE))
        costs = 0
        with cursor.copy(
            "COPY campaign_costs (campaign_id, cost_id, incurred_on, amount_minor, currency) FROM STDIN"
        ) as copy:
            for campaign in campaigns:
                for week in range(0, 52, 2):
                    copy.write_row(
                        (
                            campaign,
                            f"{campaign}-{week}",
                            (now - timedelta(weeks=week)).date(),
                            rng.randrange(100_00, 5_000_00),
                            currency_of[campaign],
                        )
                    )
                    costs += 1
        counts["cost entries"] = costs
        # Deals and their leads.
        leads: list[tuple[str, datetime]] = []
        with cursor.copy(
            "COPY opportunity_current (opportunity_id, version, owner_user_id, name, account_name, "
            "sales_stage, "
            "stage_order, probability, status, amount_minor, currency, amount_base_minor, "
            "weighted_base_minor, "
            "best_base_minor, worst_base_minor, base_currency, expected_close_date, lead_source_id, "
            "campaign_id, "
            "lead_id, close_reason, next_step, create_time, update_time, close_time, stage_entered_at, "
            "push_count, "
            "max_stage_order) FROM STDIN"
        ) as copy:
            for i in range(options.deals):
                created = now - timedelta(seconds=rng.randrange(365 * 86_400))
                roll = rng.random()
                status = "won" if roll < 0.4 else "lost" if roll < 0.7 else "open"
                closed = (
                    min(now, created + timedelta(days=rng.randrange(1, 120))) if status != "open" else None
                )
                amount = rng.randrange(1_000_00, 200_000_00)
                lead = f"l{i:07d}"
                campaign = campaigns[rng.randrange(len(campaigns))] if rng.random() < 0.3 else ""
                copy.write_row(
                    (
                        f"o{i:07d}",
                        1,
                        reps[rng.randrange(len(reps))] if reps else "vp",
                        f"Deal {i}",
                        "Acme",
                        "Prospecting",
                        0,
                        10,
                        status,
                        amount,
                        BASE,
                        amount,
                        amount // 10,
                        amount,
                        amount,
                        BASE,
                        (closed or created + timedelta(days=60)).date(),
                        "",
                        campaign,
                        lead,
                        "",
                        "",
                        created,
                        closed or created,
                        closed,
                        created,
                        0,
                        0,
                    )
                )
                leads.append((lead, created))
        counts["deals"] = options.deals
        merged_into: dict[str, str] = {}
        for index, (lead, _) in enumerate(leads):
            if rng.random() < 0.01 and index:
                merged_into[lead] = leads[rng.randrange(index)][0]
        with cursor.copy(
            "COPY lead_view (id, status, lead_source_id, campaign_id, assigned_user_id, company, score, "
            "qualified, "
            "converted_opportunity_id, create_time, convert_time, version, merged_into_lead_id) FROM STDIN"
        ) as copy:
            for i, (lead, created) in enumerate(leads):
                lead_created = created - timedelta(days=rng.randrange(60))
                copy.write_row(
                    (
                        lead,
                        "converted",
                        "",
                        campaigns[i % len(campaigns)],
                        "vp",
                        "Acme",
                        0,
                        rng.random() < 0.5,
                        f"o{i:07d}",
                        lead_created,
                        created,
                        1,
                        merged_into.get(lead, ""),
                    )
                )
        counts["merged leads"] = len(merged_into)
        per_lead = [rng.randrange(1, 21) for _ in leads]
        scale = options.touches / max(1, sum(per_lead))
        written = 0
        with cursor.copy(
            "COPY lead_touch_view (touch_id, lead_id, campaign_id, kind, touch_time) FROM STDIN"
        ) as copy:
            for (lead, created), wanted in zip(leads, per_lead, strict=True):
                for _ in range(max(1, round(wanted * scale))):
                    if written >= options.touches:
                        break
                    at = created - timedelta(seconds=rng.randrange(120 * 86_400))
                    copy.write_row(
                        (f"t{written:08d}", lead, campaigns[rng.randrange(len(campaigns))], "email_click", at)
                    )
                    written += 1
        counts["touches"] = written
    connection.execute("VACUUM (ANALYZE)")
    connection.execute("CHECKPOINT")
    return counts


# ----------------------------------------------------------------------------- the naive computation


def naive_shares(
    model: Model, touches: list[tuple[str, datetime]], created: datetime, campaign: str
) -> list[tuple[str, Fraction]]:
    """The models with a Fraction per touch, as first written."""
    points = [(c, at) for c, at in sorted(touches, key=lambda t: t[1]) if created - LOOKBACK <= at <= created]
    if model is Model.W_SHAPED:
        anchor = campaign or (points[-1][0] if points else "")
        if anchor:
            points.append((anchor, created))
    n = len(points)
    if not n:
        return [(campaign, Fraction(1))]

    def anchored(anchors: list[Fraction], middle: Fraction) -> list[Fraction]:
        if n <= len(anchors):
            present = anchors[:n] if n > 1 else [Fraction(1)]
            return [a / sum(present) for a in present]
        return [anchors[0]] + [middle / (n - len(anchors))] * (n - len(anchors)) + anchors[1:]

    if model is Model.FIRST_TOUCH:
        shares = [Fraction(1)] + [Fraction(0)] * (n - 1)
    elif model is Model.LAST_TOUCH:
        shares = [Fraction(0)] * (n - 1) + [Fraction(1)]
    elif model is Model.LINEAR:
        shares = [Fraction(1, n)] * n
    elif model is Model.U_SHAPED:
        shares = anchored([Fraction(2, 5)] * 2, Fraction(1, 5))
    elif model is Model.W_SHAPED:
        shares = anchored([Fraction(3, 10)] * 3, Fraction(1, 10))
    else:
        decay = [Fraction(0.5 ** ((created - at) / HALF_LIFE)) for _, at in points]
        shares = [d / sum(decay) for d in decay]
    return [(c, s) for (c, _), s in zip(points, shares, strict=True)]


def naive_credits(
    model: Model, touches: list[tuple[str, datetime]], created: datetime, campaign: str, amount: int
) -> dict[str, int]:
    per: dict[str, Fraction] = defaultdict(Fraction)
    for name, share in naive_shares(model, touches, created, campaign):
        per[name or "unattributed"] += share
    names = [n for n, s in per.items() if s]
    exact = [amount * per[n] for n in names]
    floors = [int(e) for e in exact]
    order = sorted(range(len(names)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[: amount - sum(floors)]:
        floors[i] += 1
    return dict(zip(names, floors, strict=True))


def naive_attribution(
    cursor: Any, model: Model, deals: Sequence[tuple[Any, ...]]
) -> dict[str, tuple[int, int]]:
    """(credit, won credit) per campaign: one touch query per deal."""
    # A lead merged into another counts for the last lead of the chain, with every lead merged in.
    cursor.execute("SELECT id, merged_into_lead_id FROM lead_view WHERE merged_into_lead_id <> ''")
    parent = dict(cursor.fetchall())

    def root(lead: str) -> str:
        seen = {lead}
        while lead in parent and parent[lead] not in seen:
            lead = parent[lead]
            seen.add(lead)
        return lead

    members: dict[str, list[str]] = defaultdict(list)
    for lead in parent:
        members[root(lead)].append(lead)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for _, amount, created, lead, campaign, status in deals:
        top = root(lead)
        cursor.execute(
            "SELECT campaign_id, touch_time FROM lead_touch_view WHERE lead_id = ANY(%s) "
            "ORDER BY touch_time, lead_id, touch_id",
            ([top, *members.get(top, [])],),
        )
        for name, credit in naive_credits(model, cursor.fetchall(), created, campaign, amount).items():
            totals[name][0] += credit
            totals[name][1] += credit if status == "won" else 0
    return {k: (v[0], v[1]) for k, v in totals.items()}


def deals_of(cursor: Any, where: str = "TRUE", parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    cursor.execute(
        f"SELECT opportunity_id, amount_base_minor, create_time, lead_id, campaign_id, status FROM "
        f"opportunity_current WHERE {where}",
        parameters,
    )
    return list(cursor.fetchall())


def naive_roi(cursor: Any, start: datetime, end: datetime) -> dict[str, tuple[int, int]]:
    """(cost, won revenue) per campaign."""
    cursor.execute("SELECT id FROM campaign_view")
    result: dict[str, tuple[int, int]] = {}
    for (campaign,) in cursor.fetchall():
        cursor.execute(
            "SELECT incurred_on, amount_minor, currency FROM campaign_costs WHERE campaign_id = %s AND "
            "incurred_on BETWEEN %s AND %s",
            (campaign, start.date(), (end - timedelta(microseconds=1)).date()),
        )
        cost = 0
        for on, amount, currency in cursor.fetchall():
            if currency == BASE:
                cost += amount
                continue
            cursor.execute(
                "SELECT rate FROM exchange_rate_view WHERE currency = %s AND effective_from <= %s ORDER "
                "BY effective_from DESC LIMIT 1",
                (currency, on),
            )
            cost += convert_minor(amount, currency, cursor.fetchone()[0], BASE)
        result[campaign] = (cost, 0)
    won_deals = [
        d for d in deals_of(cursor, "status = 'won' AND close_time >= %s AND close_time < %s", (start, end))
    ]
    for name, (_, won) in naive_attribution(cursor, Model.LINEAR, won_deals).items():
        cost, _ = result.get(name, (0, 0))
        result[name] = (cost, won)
    return result


# ----------------------------------------------------------------------------- timing


def engine_totals(output: EngineOutput, *measures: str) -> dict[str, tuple[int, ...]]:
    names = [c.name for c in output.columns]
    key = names.index("campaign_id")
    index = [names.index(m) for m in measures]
    found: dict[str, tuple[int, ...]] = {}
    for row in output.rows:
        if row.kind is RowKind.GROUP:
            values = [row.cells[i] for i in index]
            found[str(row.cells[key])] = tuple(v.amount_minor if isinstance(v, Money) else 0 for v in values)
    return found


def close(found: dict[str, tuple[int, ...]], naive: dict[str, tuple[int, int]], slack: int) -> bool:
    keys = {k for k, v in {**found, **naive}.items() if any(v)}
    return all(
        abs(a - b) <= slack
        for k in keys
        for a, b in zip(found.get(k, (0, 0)), naive.get(k, (0, 0)), strict=True)
    )


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def run(options: argparse.Namespace, stack: contextlib.ExitStack) -> None:
    from salesplane_testing.postgres_server import DURABLE_SETTINGS, PostgresServer

    now = datetime.now(UTC).replace(microsecond=0)
    log("starting PostgreSQL (durable settings)")
    postgres = stack.enter_context(PostgresServer(settings=DURABLE_SETTINGS))
    url = postgres.create_database("bench_attribution")
    engine = make_engine(url)
    stack.callback(engine.dispose)
    upgrade_to_head(engine, Path(salesplane_reporting.migrations.__file__).parent, lock_name="reporting")
    tables.metadata.create_all(engine)
    log(f"loading {options.deals:,} deals and {options.touches:,} touches")
    started = time.perf_counter()
    with postgres.connect("bench_attribution") as connection:
        counts = load(connection, options, now)
    log(
        f"loaded in {time.perf_counter() - started:.1f} s: "
        + ", ".join(f"{v:,} {k}" for k, v in counts.items())
    )
    sessions: sessionmaker[Session] = make_session_factory(engine)

    def engine_run(spec: ReportSpec, caller: Identity) -> EngineOutput:
        with sessions() as session:
            return SqlReportEngine(session).run(spec, RunContext(caller, now))

    report = builtin("attribution_by_campaign")
    roi_report = builtin("campaign_roi")
    assert report is not None and roi_report is not None
    naive_connection = stack.enter_context(postgres.connect("bench_attribution"))
    cursor = naive_connection.cursor()
    figures: list[tuple[str, list[float], list[float], bool]] = []
    for model in Model:
        spec = parse_definition({**report.document, "parameters": {"model": model.value}})
        engine_times, naive_times, agrees = [], [], True
        for _ in range(options.runs):
            seconds, output = timed(lambda spec=spec: engine_run(spec, MARKETING))
            engine_times.append(seconds)
            seconds, naive = timed(lambda model=model: naive_attribution(cursor, model, deals_of(cursor)))
            naive_times.append(seconds)
            # Time decay's weights are doubles in both: a campaign may differ by a cent a deal.
            slack = options.deals if model is Model.TIME_DECAY else 0
            found = engine_totals(output, "credit", "won_credit")
            agrees = agrees and close(found, naive, slack)
            if not close(found, naive, slack) and options.verbose:
                log(f"differs: {sorted(set(found.items()) ^ set(naive.items()))[:6]}")
        figures.append(
            (f"attribution_by_campaign, {model.value}, marketing", engine_times, naive_times, agrees)
        )
        log(
            f"{model.value}: engine {statistics.median(engine_times):.2f} s, naive "
            f"{statistics.median(naive_times):.2f} s"
        )
    start = now - timedelta(days=365)
    roi_spec = parse_definition(
        {**roi_report.document, "parameters": {"from": start.isoformat(), "to": now.isoformat()}}
    )
    engine_times, naive_times, agrees = [], [], True
    for _ in range(options.runs):
        seconds, output = timed(lambda: engine_run(roi_spec, ADMIN))
        engine_times.append(seconds)
        seconds, naive = timed(lambda: naive_roi(cursor, start, now))
        naive_times.append(seconds)
        found = engine_totals(output, "cost", "won_revenue")
        agrees = agrees and all(found.get(k, (0, 0)) == v for k, v in naive.items() if v != (0, 0))
    figures.append(("campaign_roi (period, linear, 1 year), admin", engine_times, naive_times, agrees))

    print(
        f"\nattribution over {counts['touches']:,} touches, {counts['deals']:,} deals, "
        f"{options.campaigns:,} campaigns; runs: {options.runs}"
    )
    print(f"{'figure':<52} {'engine p50':>11} {'naive p50':>10} {'speed-up':>9}  agrees")
    for label, engine_times, naive_times, agrees in figures:
        e, n = statistics.median(engine_times), statistics.median(naive_times)
        print(f"{label:<52} {e:>9.2f} s {n:>8.2f} s {n / e:>8.1f}x  {'yes' if agrees else 'NO'}")
    record(figures, counts, options)


def record(
    figures: Sequence[tuple[str, list[float], list[float], bool]],
    counts: dict[str, int],
    options: argparse.Namespace,
) -> None:
    """Each figure's engine p50 beside the naive p50 (the ceiling to beat; no target is set)."""
    bench_results.record(
        "attribution",
        [
            bench_results.Figure(
                name=f"{label} p50",
                value=statistics.median(engine_times),
                unit="s",
                ceiling_name="naive p50",
                ceiling=statistics.median(naive_times),
                lower_is_better=True,
            )
            for label, engine_times, naive_times, _ in figures
        ],
        notes=[
            f"{counts['touches']:,} touches, {counts['deals']:,} deals, {options.campaigns:,} campaigns, "
            f"{options.runs} runs; PostgreSQL with durable settings",
            *(f"engine and naive differ: {label}" for label, _, _, agrees in figures if not agrees),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--touches", type=int, default=1_000_000)
    parser.add_argument("--campaigns", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3, help="timed runs per figure")
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--verbose", action="store_true", help="log where the engine and naive differ")
    options = parser.parse_args()
    if options.users < 12 or options.deals < 1 or options.campaigns < 1 or options.runs < 1:
        parser.error("need at least 12 users, one deal, one campaign and one run")

    run_cleanly(lambda stack: run(options, stack))


if __name__ == "__main__":
    main()
