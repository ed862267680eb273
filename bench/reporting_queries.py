"""Reporting queries: built-in and user-defined reports through the report engine against naive SQL
over the same data, and read-model ingestion against the decode-only ceiling, in the same run.

    python bench/reporting_queries.py              # 5,000 users, 200,000 deals, 1,000,000 versions
    python bench/reporting_queries.py --users 500 --deals 20000 --versions 100000 --events 5000

A throw-away PostgreSQL is started here with durable settings (fsync, synchronous_commit and
full_page_writes on: PostgreSQL's defaults, not the test fixture's fast ones). The reporting schema
comes from its migrations. Loaded directly, without events:

- the organisation (`--users` in six levels: one VP, four levels of managers with an even fan-out
  -- the largest leaving at least 8 reps per first-line manager, 4 for 5,000 users: 1 -> 4 -> 16 ->
  64 -> 256 -> 4,659 -- and every other user a rep under the first-line managers) into org_users
  and the current rows of org_closure (closure_of, as ingestion computes it), fiscal_settings
  (calendar fiscal year, USD) and the default sales stages;
- `--versions` opportunity versions over `--deals` deals (at least one each, about five on
  average), created over the last year, each living one to seven months: stages advance, amounts
  and close dates change, some close dates are pushed, some deals are reassigned, most old deals
  end won or lost, a few are deleted. OpportunityVersion objects are generated, derive_history
  computes the derived columns and the reporting store's own row mapping gives the rows, so every
  derived column is what ingestion would store; opportunity_versions and opportunity_current are
  written with COPY. pipeline_rollup, a projection of those rows and the closure, is then built
  by the service's own rebuild (as an organisation change builds it). Then VACUUM ANALYZE (so
  autovacuum's insert-triggered run does not start in the middle of the timings) and a CHECKPOINT.

Timed, each `--runs` times after `--warmups` warm-ups, interleaved with a naive query over the same
data (one engine run, then one naive run, so both see the same background load):

1. the built-in `pipeline_by_stage` for the VP; naive: the same grouping over opportunity_versions,
   DISTINCT ON for each deal's newest version and a recursive CTE for the VP's subtree;
2. a user-defined summation (sales_stage x expected close month; count, sum of amount_base, average
   probability) for the VP and for a first-line manager; naive: the same over the raw versions;
3. the built-in `pipeline_movement` between two instants 90 days apart, the second one now (given
   as RFC 3339 instants; window: the fiscal quarter of today) for the VP; naive: both as-of
   states fetched with plain queries, classified in Python.

An engine run is what a request costs below gRPC: a session from the pool, SqlReportEngine.run
(every query it issues) and the session closed; the definition is parsed once beforehand. Results
are checked against the naive ones. p50 is the median, p95 interpolated (statistics.quantiles,
inclusive). Targets are compared with the p50; nothing is asserted.

4. Ingestion: `--events` serialized OpportunityChanged envelopes over `--ingest-deals` fresh deals
   (new deals and their updates, interleaved as a live stream) through ConsumerRunner.process with
   ReadModelProjector in batches of `--batch`, on the loaded database, after the query timings.
   Beside it: the decode-only rate of the same records (decode_envelope + unpack_payload) as the
   ceiling, and the forecasting rollup handler (OpportunityRollupHandler) through the same
   ConsumerRunner.process over the same records on a forecasting database in the same server.
   The rows ingestion wrote are compared with what the direct load would have written for the
   same versions, and the pipeline rollup the projector kept with its rebuild.

`--explain missed` (the default) prints EXPLAIN (ANALYZE, BUFFERS) of every statement the engine
issues for each figure that missed its target; `all` for every figure, `none` to skip.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, sessionmaker

import salesplane_reporting.migrations
from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.opportunities.v1 import events_pb2, opportunities_pb2
from salesplane_platform import topics
from salesplane_platform.consumer_runner import ConsumerRunner
from salesplane_platform.db import make_engine, make_session_factory
from salesplane_platform.event_transport import IncomingRecord
from salesplane_platform.events import build_envelope, decode_envelope, unpack_payload
from salesplane_platform.identity import ROLE_MANAGER, Identity
from salesplane_platform.migrations import upgrade_to_head
from salesplane_reporting.adapters import pipeline_rollup, tables
from salesplane_reporting.adapters.read_model_store import _current_row, _version_row
from salesplane_reporting.adapters.report_engine import EngineOutput, RunContext, SqlReportEngine
from salesplane_reporting.domain.builtin_reports import builtin
from salesplane_reporting.domain.definition import ReportSpec, parse_definition
from salesplane_reporting.domain.fiscal_calendar import FiscalCalendar
from salesplane_reporting.domain.opportunity_history import (
    HistoryRow,
    OpportunityState,
    OpportunityVersion,
    derive_history,
    weighted_minor,
)
from salesplane_reporting.domain.org_closure import closure_of
from salesplane_reporting.domain.report import RowKind
from salesplane_reporting.domain.sales_stages import DEFAULT_STAGE_ORDER
from salesplane_reporting.entrypoints.read_model_consumer import ReadModelProjector
from salesplane_testing import bench_results
from salesplane_testing.bench_harness import run_cleanly

LEVELS = 6  # the VP, four levels of managers, the reps
MIN_REPS_PER_FIRST_LINE = 8
DAY = 86_400
EUR_RATE = Decimal("1.085")
BASE_CURRENCY = "USD"
PROBABILITY = {
    "Prospecting": 10,
    "Qualification": 20,
    "Needs Analysis": 25,
    "Value Proposition": 30,
    "Id. Decision Makers": 40,
    "Perception Analysis": 50,
    "Proposal/Price Quote": 65,
    "Negotiation/Review": 80,
    "Closed Won": 100,
    "Closed Lost": 0,
}
OPEN_STAGES = DEFAULT_STAGE_ORDER[:8]
STAGE_ORDERS = {name: position for position, name in enumerate(DEFAULT_STAGE_ORDER)}
MOVEMENT_DAYS = 90
TARGETS_MS = {"pipeline": 50.0, "report_vp": 500.0, "report_manager": 50.0, "movement": 1000.0}
STATUS_PB = {
    "open": opportunities_pb2.OPPORTUNITY_STATUS_OPEN,
    "won": opportunities_pb2.OPPORTUNITY_STATUS_WON,
    "lost": opportunities_pb2.OPPORTUNITY_STATUS_LOST,
}
KIND_PB = {
    "created": events_pb2.CHANGE_KIND_CREATED,
    "updated": events_pb2.CHANGE_KIND_UPDATED,
    "deleted": events_pb2.CHANGE_KIND_DELETED,
    "closed": events_pb2.CHANGE_KIND_CLOSED,
    "reassigned": events_pb2.CHANGE_KIND_REASSIGNED,
}
USER_DEFINED_REPORT = {
    "source": "opportunities",
    "layout": "summation",
    "dimensions": [{"field": "sales_stage"}, {"field": "expected_close_date", "grain": "month"}],
    "measures": [
        {"name": "deals", "title": "Deals", "aggregate": "count"},
        {"name": "amount", "title": "Amount", "aggregate": "sum", "field": "amount_base"},
        {"name": "probability", "title": "Average probability", "aggregate": "avg", "field": "probability"},
    ],
}


def log(message: str) -> None:
    print(f"# {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def p95(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[94] if len(values) > 1 else values[0]


# ----------------------------------------------------------------------------- the organisation


@dataclass(frozen=True)
class Org:
    levels: list[list[str]]  # user ids per level, the VP first
    managers: dict[str, str | None]  # user -> manager

    @property
    def vp(self) -> str:
        return self.levels[0][0]

    @property
    def reps(self) -> list[str]:
        return self.levels[-1]

    @property
    def first_line(self) -> list[str]:
        return self.levels[-2]

    def reports_of(self, user_id: str) -> list[str]:
        return [u for u, m in self.managers.items() if m == user_id]


def build_org(total: int) -> Org:
    def manager_count(fanout: int) -> int:
        return sum(fanout**k for k in range(LEVELS - 1))

    fanout = 1
    while (total - manager_count(fanout + 1)) >= MIN_REPS_PER_FIRST_LINE * (fanout + 1) ** (LEVELS - 2):
        fanout += 1
    levels: list[list[str]] = [["vp-0"]]
    for depth in range(1, LEVELS - 1):
        levels.append([f"mgr{depth}-{i}" for i in range(len(levels[-1]) * fanout)])
    levels.append([f"rep-{i}" for i in range(total - manager_count(fanout))])
    managers: dict[str, str | None] = {}
    for depth, level in enumerate(levels):
        above = levels[depth - 1] if depth else []
        for index, user_id in enumerate(level):
            managers[user_id] = above[index % len(above)] if above else None
    return Org(levels, managers)


def load_org(connection: Any, org: Org, since: datetime) -> int:
    """org_users, the current org_closure rows, fiscal_settings and the sales stages (psycopg)."""
    reps = set(org.reps)
    with connection.cursor() as cursor:
        with cursor.copy(
            "COPY org_users (user_id, display_name, manager_user_id, roles, active, version, update_time) "
            "FROM STDIN"
        ) as copy:
            for user_id, manager in org.managers.items():
                roles = "rep" if user_id in reps else ROLE_MANAGER
                copy.write_row((user_id, user_id.upper(), manager, roles, True, 1, since))
        pairs = sorted(closure_of(org.managers))
        with cursor.copy(
            "COPY org_closure (ancestor_user_id, descendant_user_id, distance, valid_from, valid_to) "
            "FROM STDIN"
        ) as copy:
            for ancestor, descendant, distance in pairs:
                copy.write_row((ancestor, descendant, distance, since, None))
        cursor.execute(
            "INSERT INTO fiscal_settings (id, fiscal_year_start_month, currency_code, ranges, version) "
            "VALUES (1, 1, %s, 'pipeline:0:49;upside:50:89;commit:90:100', 1)",
            (BASE_CURRENCY,),
        )
        cursor.executemany(
            "INSERT INTO sales_stage_view (name, position, probability, won, lost, revision) "
            "VALUES (%s, %s, %s, %s, %s, 1)",
            [
                (name, position, PROBABILITY[name], name == "Closed Won", name == "Closed Lost")
                for name, position in STAGE_ORDERS.items()
            ],
        )
    return len(pairs)


# ----------------------------------------------------------------------------- the deals


def version_counts(rng: random.Random, deals: int, versions: int) -> list[int]:
    counts = [1] * deals
    for _ in range(max(0, versions - deals)):
        counts[rng.randrange(deals)] += 1
    return counts


def deal_history(
    rng: random.Random, deal_id: str, index: int, count: int, org: Org, now: datetime, age_days: int
) -> list[OpportunityVersion]:
    """One deal's versions: created up to `age_days` ago, living one to seven months."""
    created = now - timedelta(seconds=rng.randrange(DAY // 2, age_days * DAY))
    life = rng.randrange(30 * DAY, 210 * DAY)
    span = max(count, int((min(now, created + timedelta(seconds=life)) - created).total_seconds()))
    times = [created] + [
        created + timedelta(seconds=s) for s in sorted(rng.sample(range(1, span), count - 1))
    ]
    ended = created + timedelta(seconds=life) <= now
    managers = [u for level in org.levels[1:-1] for u in level]
    owner = rng.choice(managers) if rng.random() < 0.07 else rng.choice(org.reps)
    currency = "EUR" if rng.random() < 0.3 else "USD"
    amount = rng.randrange(100_000, 50_000_000)
    stage = rng.choice((0, 0, 0, 1, 1, 2))
    close = created.date() + timedelta(days=rng.randint(30, 150))
    outcome = "open"
    if count >= 2:
        roll = rng.random()
        if ended:
            outcome = (
                "won" if roll < 0.40 else "lost" if roll < 0.75 else "deleted" if roll < 0.77 else "open"
            )
        else:
            outcome = (
                "won" if roll < 0.08 else "lost" if roll < 0.14 else "deleted" if roll < 0.15 else "open"
            )
    history: list[OpportunityVersion] = []
    state: OpportunityState | None = None
    for number, at in enumerate(times, start=1):
        kind = "created" if number == 1 else "updated"
        last = number == count
        if state is not None and last and outcome == "deleted":
            history.append(
                OpportunityVersion(deal_id, number, at, True, "deleted", replace(state, update_time=at))
            )
            break
        if number > 1:
            if rng.random() < 0.45:
                stage = min(len(OPEN_STAGES) - 1, stage + (2 if rng.random() < 0.1 else 1))
            if rng.random() < 0.3:
                amount = max(10_000, int(amount * rng.uniform(0.75, 1.3)))
            roll = rng.random()
            if roll < 0.2:
                close += timedelta(days=rng.randint(14, 75))
            elif roll < 0.25:
                close -= timedelta(days=rng.randint(7, 30))
            if rng.random() < 0.03:
                owner, kind = rng.choice(org.reps), "reassigned"
        stage_name, status, close_time, reason, close_date = OPEN_STAGES[stage], "open", None, "", close
        if last and outcome in ("won", "lost"):
            stage_name = "Closed Won" if outcome == "won" else "Closed Lost"
            status, close_time, kind, close_date = outcome, at, "closed", at.date()
            reason = (
                "Price accepted"
                if outcome == "won"
                else rng.choice(("Competitor", "No budget", "No decision"))
            )
        probability = PROBABILITY[stage_name]
        base = int((amount * EUR_RATE).to_integral_value()) if currency == "EUR" else amount
        state = OpportunityState(
            owner_user_id=owner,
            name=f"Deal {index}",
            account_name=f"Account {index % 4999}",
            sales_stage=stage_name,
            stage_order=STAGE_ORDERS[stage_name],
            probability=probability,
            status=status,
            amount_minor=amount,
            currency=currency,
            amount_base_minor=base,
            weighted_base_minor=weighted_minor(base, probability),
            best_base_minor=base * 5 // 4,
            worst_base_minor=base * 3 // 5,
            base_currency=BASE_CURRENCY,
            expected_close_date=close_date,
            lead_source_id="",
            campaign_id="",
            lead_id="",
            close_reason=reason,
            next_step="",
            create_time=created,
            update_time=at,
            close_time=close_time,
        )
        history.append(OpportunityVersion(deal_id, number, at, False, kind, state))
    return history


def generate(
    seed: int, prefix: str, deals: int, versions: int, org: Org, now: datetime, age_days: int
) -> Iterator[list[OpportunityVersion]]:
    rng = random.Random(seed)
    counts = version_counts(rng, deals, versions)
    for index, count in enumerate(counts):
        yield deal_history(rng, f"{prefix}{index:07d}", index, count, org, now, age_days)


@dataclass
class LoadFigures:
    generate_seconds: float = 0.0
    copy_seconds: float = 0.0
    commit_seconds: float = 0.0
    vacuum_seconds: float = 0.0
    checkpoint_seconds: float = 0.0
    rollup_seconds: float = 0.0
    versions: int = 0
    current: int = 0
    closure_rows: int = 0

    @property
    def total(self) -> float:
        return self.generate_seconds + self.copy_seconds + self.commit_seconds


def load_deals(
    connection: Any, histories: Iterator[list[OpportunityVersion]], chunk: int, figures: LoadFigures
) -> None:
    """Derive and COPY `chunk` deals at a time, in one transaction."""
    version_columns: list[str] | None = None
    current_columns: list[str] | None = None
    done = False
    with connection.transaction(), connection.cursor() as cursor:
        while not done:
            started = time.perf_counter()
            version_rows: list[dict[str, Any]] = []
            current_rows: list[dict[str, Any]] = []
            for _ in range(chunk):
                history = next(histories, None)
                if history is None:
                    done = True
                    break
                derived = derive_history(history)
                version_rows.extend(_version_row(row) for row in derived)
                if not derived[-1].version.deleted:
                    current_rows.append(_current_row(derived[-1]))
            figures.generate_seconds += time.perf_counter() - started
            if not version_rows:
                break
            started = time.perf_counter()
            version_columns = version_columns or list(version_rows[0])
            with cursor.copy(f"COPY opportunity_versions ({', '.join(version_columns)}) FROM STDIN") as copy:
                for row in version_rows:
                    copy.write_row([row[c] for c in version_columns])
            if current_rows:
                current_columns = current_columns or list(current_rows[0])
                with cursor.copy(
                    f"COPY opportunity_current ({', '.join(current_columns)}) FROM STDIN"
                ) as copy:
                    for row in current_rows:
                        copy.write_row([row[c] for c in current_columns])
            figures.copy_seconds += time.perf_counter() - started
            figures.versions += len(version_rows)
            figures.current += len(current_rows)
            if figures.versions % 200_000 < len(version_rows):
                log(f"{figures.versions:,} versions loaded")
        started = time.perf_counter()
    figures.commit_seconds = time.perf_counter() - started


def rollup_matches_rebuild(session_factory: sessionmaker[Session]) -> bool:
    """After ingestion: the rollup the projector kept by deltas against a rebuild (rolled back)."""

    def rows(session: Session) -> set[tuple[Any, ...]]:
        return {tuple(r) for r in session.execute(tables.pipeline_rollup.select()) if r.deals}

    with session_factory() as session:
        kept = rows(session)
        pipeline_rollup.rebuild(session)
        rebuilt = rows(session)
        session.rollback()
    return kept == rebuilt


# ----------------------------------------------------------------------------- timing


@dataclass
class Figure:
    key: str
    label: str
    engine: list[float]
    naive: list[float]
    target_ms: float
    agrees: bool
    note: str = ""

    @property
    def p50(self) -> float:
        return statistics.median(self.engine) * 1000

    @property
    def met(self) -> bool:
        return self.p50 <= self.target_ms


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def interleaved(
    engine_call: Callable[[], Any], naive_call: Callable[[], Any], runs: int, warmups: int
) -> tuple[list[float], list[float]]:
    for _ in range(warmups):
        engine_call()
        naive_call()
    engine_times: list[float] = []
    naive_times: list[float] = []
    for _ in range(runs):
        engine_times.append(timed(engine_call))
        naive_times.append(timed(naive_call))
    return engine_times, naive_times


class EngineRunner:
    """engine.run as a request does it: a pooled session, the run, the session closed."""

    def __init__(self, session_factory: sessionmaker[Session], now: datetime) -> None:
        self._session_factory = session_factory
        self._now = now

    def __call__(self, spec: ReportSpec, caller: Identity) -> EngineOutput:
        with self._session_factory() as session:
            return SqlReportEngine(session).run(spec, RunContext(caller=caller, now=self._now))


class StatementRecorder:
    """The statements (and parameters) the engine sends while recording."""

    def __init__(self, engine: Engine) -> None:
        self.statements: list[tuple[str, Any]] = []
        self.recording = False
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if self.recording:
            self.statements.append((statement, parameters))

    @contextlib.contextmanager
    def capture(self) -> Iterator[list[tuple[str, Any]]]:
        self.statements = []
        self.recording = True
        try:
            yield self.statements
        finally:
            self.recording = False


def explain(engine: Engine, statements: Sequence[tuple[str, Any]]) -> str:
    out: list[str] = []
    with engine.connect() as connection:
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            plan = connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS, VERBOSE OFF, SETTINGS) " + statement, parameters
            ).all()
            shown = repr(parameters)
            shown = shown if len(shown) <= 300 else shown[:300] + f"... ({len(parameters)} parameters)"
            out.append(f"-- statement (parameters {shown}):\n{statement}\n")
            out.extend(row[0] for row in plan)
            out.append("")
        connection.rollback()
    return "\n".join(out)


# ----------------------------------------------------------------------------- naive queries

SUBTREE = """
WITH RECURSIVE subtree(user_id) AS (
    SELECT user_id FROM org_users WHERE user_id = :root
    UNION ALL
    SELECT u.user_id FROM org_users u JOIN subtree s ON u.manager_user_id = s.user_id
)"""
NEWEST = """
newest AS (
    SELECT DISTINCT ON (v.opportunity_id)
        v.opportunity_id, v.deleted, v.owner_user_id, v.sales_stage, v.status, v.amount_base_minor,
        v.weighted_base_minor, v.probability, v.expected_close_date
    FROM opportunity_versions v
    ORDER BY v.opportunity_id, v.version DESC
)"""
NAIVE_PIPELINE = text(
    SUBTREE
    + ","
    + NEWEST
    + """
SELECT n.sales_stage, count(*), sum(n.amount_base_minor), sum(n.weighted_base_minor)
FROM newest n JOIN subtree s ON s.user_id = n.owner_user_id
WHERE NOT n.deleted AND n.status = 'open'
GROUP BY n.sales_stage"""
)
NAIVE_REPORT = text(
    SUBTREE
    + ","
    + NEWEST
    + """
SELECT n.sales_stage, CAST(date_trunc('month', CAST(n.expected_close_date AS timestamp)) AS date),
       count(*), sum(n.amount_base_minor), sum(n.probability), count(n.probability)
FROM newest n JOIN subtree s ON s.user_id = n.owner_user_id
WHERE NOT n.deleted
GROUP BY 1, 2"""
)
NAIVE_SUBTREE_USERS = text(SUBTREE + " SELECT user_id FROM subtree")
NAIVE_AS_OF = text(
    """
SELECT opportunity_id, name, owner_user_id, amount_base_minor, expected_close_date, sales_stage, status
FROM opportunity_versions
WHERE valid_from <= :at AND (valid_to IS NULL OR valid_to > :at) AND NOT deleted"""
)


def naive_movement(
    connection: Any, root: str, start_at: datetime, end_at: datetime, first: date, last: date
) -> dict[str, tuple[int, int]]:
    """category -> (deals, change), classified in Python as the pipeline_movement source does."""
    scope = {u for (u,) in connection.execute(NAIVE_SUBTREE_USERS, {"root": root})}
    before = {r[0]: r for r in connection.execute(NAIVE_AS_OF, {"at": start_at})}
    after = {r[0]: r for r in connection.execute(NAIVE_AS_OF, {"at": end_at})}

    def in_pipeline(state: Any) -> bool:
        return state is not None and state[6] == "open" and first <= state[4] <= last and state[2] in scope

    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])

    def add(category: str, change: int) -> None:
        totals[category][0] += 1
        totals[category][1] += change

    ids = {i for i, s in before.items() if in_pipeline(s)} | {i for i, s in after.items() if in_pipeline(s)}
    for deal_id in ids:
        a, b = before.get(deal_id), after.get(deal_id)
        was_in, is_in = in_pipeline(a), in_pipeline(b)
        amount_from = a[3] if was_in else 0
        amount_to = b[3] if is_in else 0
        if was_in:
            add("start", amount_from)
        if is_in:
            add("end", amount_to)
        if was_in and is_in and a[3] == b[3]:
            continue
        if was_in and is_in:
            category = "increased" if b[3] > a[3] else "decreased"
        elif was_in:
            if b is None:
                category = "removed"
            elif b[6] in ("won", "lost"):
                category = b[6]
            elif b[2] not in scope:
                category = "reassigned_out"
            elif b[4] > last:
                category = "pushed_out"
            else:
                category = "moved_earlier"
        elif a is None:
            category = "new"
        elif a[6] != "open":
            category = "reopened"
        elif a[2] not in scope:
            category = "reassigned_in"
        elif a[4] > last:
            category = "pulled_in"
        else:
            category = "pushed_in"
        add(category, amount_to - amount_from)
    return {k: (v[0], v[1]) for k, v in totals.items()}


def engine_groups(output: EngineOutput, keys: int, measures: int) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """GROUP rows of a summation: dimension cells -> measure cells (money as minor units); the
    empty detail cells of a summation with details left out."""
    groups = {}
    for row in output.rows:
        if row.kind is RowKind.GROUP:
            cells = [getattr(c, "amount_minor", c) for c in row.cells]
            groups[tuple(cells[:keys])] = tuple(cells[keys : keys + measures])
    return groups


def agrees_pipeline(output: EngineOutput, naive: Sequence[Any]) -> bool:
    expected = {(r[0],): (int(r[1]), int(r[2]), int(r[3])) for r in naive}
    return engine_groups(output, 1, 3) == expected


def agrees_report(output: EngineOutput, naive: Sequence[Any], scale: int) -> bool:
    found = engine_groups(output, 2, 3)
    expected = {(r[0], f"{r[1].year}-{r[1].month:02d}"): r for r in naive}
    if found.keys() != expected.keys():
        return False
    tolerance = Fraction(1, 10**scale)
    for key, (deals, amount, average) in found.items():
        r = expected[key]
        if (deals, amount) != (int(r[2]), int(r[3])):
            return False
        if abs(Fraction(str(average)) - Fraction(int(r[4]), int(r[5]))) > tolerance / 2:
            return False
    return True


def agrees_movement(output: EngineOutput, naive: dict[str, tuple[int, int]]) -> bool:
    return {k[0]: v for k, v in engine_groups(output, 1, 2).items()} == naive


# ----------------------------------------------------------------------------- ingestion


class NoSubscriber:
    """ConsumerRunner.process never polls; the records are handed to it."""

    def poll(self, max_records: int, timeout_seconds: float) -> list[IncomingRecord]:
        return []

    def commit(self, records: Sequence[IncomingRecord]) -> None:
        pass

    def rewind(self, records: Sequence[IncomingRecord]) -> None:
        pass

    def close(self) -> None:
        pass


def envelope_bytes(version: OpportunityVersion) -> bytes:
    """The OpportunityChanged envelope the opportunities service would publish for this version."""
    s = version.state
    message = opportunities_pb2.Opportunity(
        id=version.opportunity_id,
        name=s.name,
        owner_user_id=s.owner_user_id,
        amount=Money(currency_code=s.currency, amount_minor=s.amount_minor),
        sales_stage=s.sales_stage,
        probability=s.probability,
        version=version.version,
        status=STATUS_PB[s.status],
        account_name=s.account_name,
        amount_base=Money(currency_code=s.base_currency, amount_minor=s.amount_base_minor),
        exchange_rate=str(EUR_RATE) if s.currency == "EUR" else "1",
        best_case_base=Money(currency_code=s.base_currency, amount_minor=s.best_base_minor),
        worst_case_base=Money(currency_code=s.base_currency, amount_minor=s.worst_base_minor),
        close_reason=s.close_reason,
        next_step=s.next_step,
    )
    if s.expected_close_date is not None:
        day = s.expected_close_date
        message.expected_close_date.CopyFrom(Date(year=day.year, month=day.month, day=day.day))
    message.create_time.FromDatetime(s.create_time)
    message.update_time.FromDatetime(s.update_time)
    if s.close_time is not None:
        message.close_time.FromDatetime(s.close_time)
    envelope = build_envelope(
        payload=events_pb2.OpportunityChanged(opportunity=message, kind=KIND_PB[version.change_kind]),
        aggregate_type="opportunity",
        aggregate_id=version.opportunity_id,
        aggregate_version=version.version,
        producer="opportunities",
        actor="bench",
        occurred_at=version.valid_from,
    )
    return envelope.SerializeToString()


@dataclass
class Ingestion:
    histories: dict[str, list[OpportunityVersion]]
    batches: list[list[IncomingRecord]]

    @property
    def events(self) -> int:
        return sum(len(b) for b in self.batches)


def make_ingestion(seed: int, org: Org, now: datetime, events: int, deals: int, batch: int) -> Ingestion:
    """Fresh deals (none of them loaded), their versions interleaved at random as a live stream
    would bring them: each deal's versions in order, partitioned by key over six partitions."""
    deals = min(deals, events)
    histories = {h[0].opportunity_id: h for h in generate(seed, "new-", deals, events, org, now, 60)}
    rng = random.Random(seed + 1)
    order = [deal_id for deal_id, history in histories.items() for _ in history]
    rng.shuffle(order)
    taken: Counter[str] = Counter()
    offsets: Counter[int] = Counter()
    records: list[IncomingRecord] = []
    for deal_id in order:
        version = histories[deal_id][taken[deal_id]]
        taken[deal_id] += 1
        key = deal_id.encode()
        partition = zlib.crc32(key) % 6
        records.append(
            IncomingRecord(topics.OPPORTUNITIES, partition, offsets[partition], key, envelope_bytes(version))
        )
        offsets[partition] += 1
    return Ingestion(histories, [records[i : i + batch] for i in range(0, len(records), batch)])


def run_batches(
    runner: ConsumerRunner, batches: Sequence[Sequence[IncomingRecord]]
) -> tuple[float, list[float]]:
    per_batch: list[float] = []
    started = time.perf_counter()
    for records in batches:
        per_batch.append(timed(lambda r=records: runner.process(r)))
    return time.perf_counter() - started, per_batch


def decode_only(batches: Sequence[Sequence[IncomingRecord]]) -> float:
    started = time.perf_counter()
    for records in batches:
        for record in records:
            unpack_payload(decode_envelope(record.value), events_pb2.OpportunityChanged)
    return time.perf_counter() - started


def ingested_as_loaded(engine: Engine, ingestion: Ingestion) -> tuple[int, int]:
    """Deals whose stored versions and current row equal what the direct load writes for them."""
    expected_versions: dict[tuple[str, int], dict[str, Any]] = {}
    expected_current: dict[str, dict[str, Any]] = {}
    for deal_id, history in ingestion.histories.items():
        derived: list[HistoryRow] = derive_history(history)
        for row in derived:
            expected_versions[(deal_id, row.version.version)] = _version_row(row)
        if not derived[-1].version.deleted:
            expected_current[deal_id] = _current_row(derived[-1])
    bad: set[str] = set()
    with engine.connect() as connection:
        v, c = tables.opportunity_versions, tables.opportunity_current
        stored = {
            (r.opportunity_id, r.version): dict(r._mapping)
            for r in connection.execute(v.select().where(v.c.opportunity_id.like("new-%")))
        }
        for key in expected_versions.keys() | stored.keys():
            found, wanted = stored.get(key), expected_versions.get(key)
            if found is None or wanted is None or any(found[k] != value for k, value in wanted.items()):
                bad.add(key[0])
        current = {
            r.opportunity_id: dict(r._mapping)
            for r in connection.execute(c.select().where(c.c.opportunity_id.like("new-%")))
        }
        for deal_id in expected_current.keys() | current.keys():
            found, wanted = current.get(deal_id), expected_current.get(deal_id)
            if found is None or wanted is None or any(found[k] != value for k, value in wanted.items()):
                bad.add(deal_id)
    return len(ingestion.histories) - len(bad), len(ingestion.histories)


def forecasting_rate(
    postgres: Any, org: Org, batches: Sequence[Sequence[IncomingRecord]]
) -> tuple[float, list[float]]:
    """The forecasting rollup handler through the same ConsumerRunner.process, same records."""
    from salesplane_forecasting.adapters import tables as forecasting_tables
    from salesplane_forecasting.entrypoints.main import DEFINITION
    from salesplane_forecasting.entrypoints.opportunity_consumer import OpportunityRollupHandler

    engine = make_engine(postgres.create_database("bench_forecasting"))
    try:
        upgrade_to_head(engine, DEFINITION.migrations, lock_name=DEFINITION.name)
        reps = set(org.reps)
        now = datetime.now(UTC)
        with engine.begin() as connection:
            connection.execute(
                forecasting_tables.users.insert(),
                [
                    {
                        "user_id": u,
                        "display_name": u,
                        "email": f"{u}@bench.example",
                        "roles": "rep" if u in reps else "manager",
                        "manager_user_id": m,
                        "active": True,
                        "version": 1,
                        "updated_at": now,
                    }
                    for u, m in org.managers.items()
                ],
            )
        runner = ConsumerRunner(
            make_session_factory(engine),
            forecasting_tables.platform,
            NoSubscriber(),
            OpportunityRollupHandler(BASE_CURRENCY),
        )
        return run_batches(runner, batches)
    finally:
        engine.dispose()


# ----------------------------------------------------------------------------- main


def pick_first_line_manager(org: Org) -> str:
    """A first-line manager with a typical number of reps (the median), preferably 8 to 20."""
    sized = sorted((len(org.reports_of(m)), m) for m in org.first_line)
    fitting = [s for s in sized if 8 <= s[0] <= 20] or sized
    return fitting[len(fitting) // 2][1]


def server_settings(engine: Engine) -> str:
    names = (
        "server_version",
        "fsync",
        "synchronous_commit",
        "full_page_writes",
        "shared_buffers",
        "work_mem",
    )
    with engine.connect() as connection:
        values = [f"{n}={connection.execute(text(f'SHOW {n}')).scalar()}" for n in names]
    return ", ".join(values)


def relation_sizes(engine: Engine) -> str:
    query = text(
        "SELECT relname, pg_size_pretty(pg_table_size(oid)), pg_size_pretty(pg_indexes_size(oid)) "
        "FROM pg_class WHERE relname IN ('opportunity_versions', 'opportunity_current', 'org_closure') "
        "ORDER BY relname"
    )
    with engine.connect() as connection:
        return "; ".join(f"{n} {t} + {i} indexes" for n, t, i in connection.execute(query))


def run(options: argparse.Namespace, stack: contextlib.ExitStack) -> None:
    from salesplane_testing.postgres_server import DURABLE_SETTINGS, PostgresServer

    load_before = os.getloadavg()[0]
    now = datetime.now(UTC).replace(microsecond=0)
    log("starting PostgreSQL (durable settings)")
    postgres = stack.enter_context(PostgresServer(settings=DURABLE_SETTINGS))
    url = postgres.create_database("bench_reporting")
    engine = make_engine(url)
    stack.callback(engine.dispose)
    upgrade_to_head(engine, Path(salesplane_reporting.migrations.__file__).parent, lock_name="reporting")
    org = build_org(options.users)
    levels = " -> ".join(f"{len(level):,}" for level in org.levels)
    log(f"organisation: {len(org.managers):,} users, levels {levels}")

    figures = LoadFigures()
    with postgres.connect("bench_reporting") as connection:
        figures.closure_rows = load_org(connection, org, now - timedelta(days=400))
        log(f"loading {options.versions:,} versions of {options.deals:,} deals")
        histories = generate(options.seed, "opp-", options.deals, options.versions, org, now, 365)
        load_deals(connection, histories, options.chunk, figures)
    # The pipeline rollup is a projection of the current rows and the closure: built as an
    # organisation change builds it (ingestion keeps it by deltas from then on).
    started = time.perf_counter()
    with make_session_factory(engine)() as session, session.begin():
        pipeline_rollup.rebuild(session)
    figures.rollup_seconds = time.perf_counter() - started
    log(f"pipeline rollup built in {figures.rollup_seconds:.1f} s")
    with postgres.connect("bench_reporting") as connection:
        started = time.perf_counter()
        connection.execute("VACUUM (ANALYZE)")
        figures.vacuum_seconds = time.perf_counter() - started
        started = time.perf_counter()
        connection.execute("CHECKPOINT")
        figures.checkpoint_seconds = time.perf_counter() - started
    log(f"loaded in {figures.total:.1f} s; VACUUM ANALYZE {figures.vacuum_seconds:.1f} s")
    sizes = relation_sizes(engine)

    with engine.connect() as connection:
        stats = connection.execute(
            text(
                "SELECT count(*) FILTER (WHERE status = 'open'), count(*) FILTER (WHERE status = 'won'), "
                "count(*) FILTER (WHERE status = 'lost'), count(*) FILTER (WHERE push_count > 0) "
                "FROM opportunity_current"
            )
        ).one()
    first_line = pick_first_line_manager(org)
    vp = Identity(org.vp, frozenset({ROLE_MANAGER}))
    manager = Identity(first_line, frozenset({ROLE_MANAGER}))
    with engine.connect() as connection:
        manager_deals = connection.execute(
            text(
                "SELECT count(*) FROM opportunity_current o JOIN org_closure c ON c.descendant_user_id = "
                "o.owner_user_id AND c.valid_to IS NULL WHERE c.ancestor_user_id = :m"
            ),
            {"m": first_line},
        ).scalar_one()

    session_factory = make_session_factory(engine)
    run_engine = EngineRunner(session_factory, now)
    recorder = StatementRecorder(engine)
    calendar = FiscalCalendar(1)
    pipeline_report, movement_report = builtin("pipeline_by_stage"), builtin("pipeline_movement")
    assert pipeline_report is not None and movement_report is not None
    pipeline_spec = pipeline_report.spec
    report_spec = parse_definition(USER_DEFINED_REPORT)
    # RFC 3339 instants, read as given whatever a day given as `from` or `to` would mean.
    start_at, end_at = now - timedelta(days=MOVEMENT_DAYS), now
    movement_document = dict(movement_report.document)
    movement_document["parameters"] = {"from": start_at.isoformat(), "to": end_at.isoformat()}
    movement_spec = parse_definition(movement_document)
    first, last = calendar.quarter_range(end_at.date())

    results: list[Figure] = []
    explained: dict[str, list[tuple[str, Any]]] = {}
    naive = engine.connect()
    stack.callback(naive.close)

    def measure(
        key: str,
        label: str,
        spec: ReportSpec,
        caller: Identity,
        naive_call: Callable[[], Any],
        check: Callable[[EngineOutput, Any], bool],
    ) -> None:
        log(f"timing {label}")
        with recorder.capture() as statements:
            output = run_engine(spec, caller)
        explained[key] = list(statements)
        agrees = check(output, naive_call())
        engine_times, naive_times = interleaved(
            lambda: run_engine(spec, caller), naive_call, options.runs, options.warmups
        )
        results.append(Figure(key, label, engine_times, naive_times, TARGETS_MS[key], agrees))

    measure(
        "pipeline",
        "1 pipeline_by_stage (built-in), VP",
        pipeline_spec,
        vp,
        lambda: naive.execute(NAIVE_PIPELINE, {"root": org.vp}).all(),
        agrees_pipeline,
    )
    scale = report_spec.measures[2].scale
    for key, label, caller in (
        ("report_vp", "2 stage x close month, 3 measures, VP", vp),
        ("report_manager", f"2 stage x close month, 3 measures, {first_line}", manager),
    ):
        measure(
            key,
            label,
            report_spec,
            caller,
            lambda c=caller: naive.execute(NAIVE_REPORT, {"root": c.subject}).all(),
            lambda output, rows: agrees_report(output, rows, scale),
        )
    measure(
        "movement",
        f"3 pipeline_movement ({MOVEMENT_DAYS} days), VP",
        movement_spec,
        vp,
        lambda: naive_movement(naive, org.vp, start_at, end_at, first, last),
        agrees_movement,
    )
    naive.rollback()

    log(f"ingestion: building {options.events:,} envelopes over {options.ingest_deals:,} fresh deals")
    ingestion = make_ingestion(
        options.seed + 7, org, now, options.events, options.ingest_deals, options.batch
    )
    decode_seconds = decode_only(ingestion.batches)
    log("ingestion: ConsumerRunner.process with ReadModelProjector")
    runner = ConsumerRunner(session_factory, tables.platform, NoSubscriber(), ReadModelProjector())
    ingest_seconds, ingest_batches = run_batches(runner, ingestion.batches)
    matching, fresh = ingested_as_loaded(engine, ingestion)
    rollup_ok = rollup_matches_rebuild(session_factory)
    forecast: tuple[float, list[float]] | None = None
    if not options.no_forecasting:
        log("ingestion: the forecasting rollup handler over the same records")
        forecast = forecasting_rate(postgres, org, ingestion.batches)
    load_after = os.getloadavg()[0]

    # ------------------------------------------------------------------------- report
    settings = server_settings(engine)
    print(f"backend:      PostgreSQL on this machine, {settings}")
    print(
        f"machine:      {os.cpu_count()} CPUs; load average (1 min) {load_before:.2f} before, "
        f"{load_after:.2f} after (anything else running skews these figures)"
    )
    print(
        f"organisation: {len(org.managers):,} users in {len(org.levels)} levels ({levels}); "
        f"{figures.closure_rows:,} org_closure rows"
    )
    print(
        f"deals:        {options.deals:,} deals, {figures.versions:,} versions; opportunity_current "
        f"{figures.current:,} rows ({stats[0]:,} open, {stats[1]:,} won, {stats[2]:,} lost, "
        f"{stats[3]:,} pushed at least once); now = {now.isoformat()}"
    )
    print(f"sizes:        {sizes} (before ingestion)")
    print(
        f"load:         {figures.total:.1f} s ({figures.versions / figures.total:,.0f} versions/s): "
        f"generate + derive_history {figures.generate_seconds:.1f} s, COPY {figures.copy_seconds:.1f} s "
        f"({figures.versions / figures.copy_seconds:,.0f} versions/s with their current rows), "
        f"commit {figures.commit_seconds:.1f} s; then pipeline_rollup.rebuild "
        f"{figures.rollup_seconds:.1f} s, VACUUM ANALYZE {figures.vacuum_seconds:.1f} s, "
        f"CHECKPOINT {figures.checkpoint_seconds:.1f} s"
    )
    print(
        f"first-line:   {first_line} ({len(org.reports_of(first_line))} reps, {manager_deals:,} current "
        f"deals in scope); movement {start_at:%Y-%m-%d %H:%M} -> {end_at:%Y-%m-%d %H:%M} UTC, "
        f"window {first} .. {last}"
    )
    print(
        f"\nqueries ({options.runs} runs after {options.warmups} warm-ups, engine and naive interleaved; "
        "ratio = naive p50 / engine p50; met: engine p50 <= target)"
    )
    header = (
        f"  {'figure':<46}{'p50':>10}{'p95':>10}{'naive p50':>12}{'naive p95':>12}{'ratio':>8}"
        f"{'target':>10}{'met':>5}  agrees"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for f in results:
        print(
            f"  {f.label:<46}{f.p50:>8.1f}ms{p95(f.engine) * 1000:>8.1f}ms"
            f"{statistics.median(f.naive) * 1000:>10.1f}ms{p95(f.naive) * 1000:>10.1f}ms"
            f"{statistics.median(f.naive) * 1000 / f.p50:>7.1f}x{f.target_ms:>8.0f}ms"
            f"{'yes' if f.met else 'NO':>5}  {'yes' if f.agrees else 'NO'}"
        )

    def rate(seconds: float) -> float:
        return ingestion.events / seconds

    ingest_ms = [s * 1000 for s in ingest_batches]
    print(
        f"\ningestion ({ingestion.events:,} OpportunityChanged events over {len(ingestion.histories):,} "
        f"fresh deals, {len(ingestion.batches)} batches of up to {options.batch}; one transaction per batch, "
        "durable commits)"
    )
    print(f"  {'figure':<66}{'events/s':>10}{'batch p50':>11}{'batch p95':>11}")
    print("  " + "-" * 98)
    print(
        f"  {'ConsumerRunner.process + ReadModelProjector (reporting)':<66}{rate(ingest_seconds):>10,.0f}"
        f"{statistics.median(ingest_ms):>9.1f}ms{p95(ingest_ms):>9.1f}ms"
    )
    print(
        f"  {'ceiling: decode_envelope + unpack_payload only, same records':<66}"
        f"{rate(decode_seconds):>10,.0f}"
    )
    if forecast is not None:
        forecast_ms = [s * 1000 for s in forecast[1]]
        print(
            f"  {'ConsumerRunner.process + OpportunityRollupHandler (forecasting)':<66}"
            f"{rate(forecast[0]):>10,.0f}{statistics.median(forecast_ms):>9.1f}ms{p95(forecast_ms):>9.1f}ms"
        )
    print(
        f"  reporting at {rate(ingest_seconds) / rate(decode_seconds):.0%} of the decode-only ceiling; "
        f"rows written equal the direct load's for {matching:,}/{fresh:,} deals; "
        f"pipeline_rollup equals its rebuild: {'yes' if rollup_ok else 'NO'}"
    )
    print(
        "  the forecasting consumer as its own benchmark measures it (a separate process reading "
        "Kafka, fsync off):\n    make bench-rollups BENCH_ARGS='--events 50000 --deals 10000 --users 5000'"
    )

    wanted = {
        f.key for f in results if options.explain == "all" or (options.explain == "missed" and not f.met)
    }
    for f in results:
        if f.key in wanted:
            print(f"\n--- EXPLAIN ANALYZE of the engine's statements: {f.label} ---")
            print(explain(engine, explained[f.key]))

    forecast_rate = None if forecast is None else rate(forecast[0])
    rates = IngestionRates(rate(ingest_seconds), rate(decode_seconds), forecast_rate)
    notes = [
        f"PostgreSQL {settings}",
        f"{options.deals:,} deals, {figures.versions:,} versions, {len(org.managers):,} users; "
        f"{options.runs} runs after {options.warmups} warm-ups",
        *(f"engine and naive differ: {f.label}" for f in results if not f.agrees),
    ]
    if matching != fresh or not rollup_ok:
        notes.append(f"ingestion: {matching:,}/{fresh:,} deals as loaded, rollup equals rebuild: {rollup_ok}")
    record(results, rates, notes)


@dataclass(frozen=True)
class IngestionRates:
    reporting: float
    decode_only: float
    forecasting: float | None


def record(results: Sequence[Figure], rates: IngestionRates, notes: Sequence[str]) -> None:
    """Each query's engine p50 beside the naive p50 against its target, and the ingestion rates
    beside the decode-only ceiling (no target is set for ingestion)."""
    figures = [
        bench_results.Figure(
            name=f"{f.label} p50",
            value=f.p50,
            unit="ms",
            target=bench_results.Target(at_most=f.target_ms),
            ceiling_name="naive SQL p50",
            ceiling=statistics.median(f.naive) * 1000,
            lower_is_better=True,
        )
        for f in results
    ]
    ingestion = [("reporting ingestion (ReadModelProjector)", rates.reporting)]
    if rates.forecasting is not None:
        ingestion.append(("forecasting ingestion (OpportunityRollupHandler)", rates.forecasting))
    figures.extend(
        bench_results.Figure(
            name=name,
            value=value,
            unit="events/s",
            ceiling_name="decode only",
            ceiling=rates.decode_only,
        )
        for name, value in ingestion
    )
    bench_results.record("reporting", figures, notes=notes)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--deals", type=int, default=200_000)
    parser.add_argument("--versions", type=int, default=1_000_000, help="opportunity versions in all")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per figure (>= 15)")
    parser.add_argument("--warmups", type=int, default=2)
    parser.add_argument("--events", type=int, default=50_000, help="ingestion: events")
    parser.add_argument("--ingest-deals", type=int, default=10_000, help="ingestion: fresh deals")
    parser.add_argument("--batch", type=int, default=1_000, help="ingestion: events per batch")
    parser.add_argument("--no-forecasting", action="store_true", help="skip the forecasting handler figure")
    parser.add_argument("--explain", choices=("missed", "all", "none"), default="missed")
    parser.add_argument("--chunk", type=int, default=5_000, help="deals per COPY round")
    parser.add_argument("--seed", type=int, default=20261201)
    options = parser.parse_args()
    if options.users < 40:
        parser.error("--users must be at least 40 (six levels)")
    if options.versions < options.deals:
        parser.error("--versions must be at least --deals (every deal has a version)")
    if options.runs < 2:
        parser.error("--runs must be at least 2")

    run_cleanly(lambda stack: run(options, stack))


if __name__ == "__main__":
    main()
