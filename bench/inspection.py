"""Pipeline inspection: `inspect_team` and `inspect_rep_deals` (InspectTeam / InspectRep) on
PostgreSQL with the data of the rollup benchmark, beside the reads they cannot beat, in the same run.

    python bench/inspection.py                                 # 200,000 events, 50,000 deals, 5,000 users
    python bench/inspection.py --users 1000 --events 40000 --deals 10000 --runs 10
    python bench/inspection.py --profile                       # + cProfile of two inspections

Targets (the issue): a first-line manager's inspection p50 <= 100 ms; the VP's over every user
<= 1 s (judged here at p50 too; p95 and max are printed beside).

The data is forecast_rollups.py's, built by its own functions: the organisation (`--users`, six
levels, an even fan-out: 1 -> 5 -> 25 -> 125 -> 625 -> 4,219 for 5,000 users, so a first-line
manager has 6 or 7 reps there; the one whose count is nearest 8 is inspected and the count is
printed) written straight into a fresh forecasting database, and `--events` OpportunityChanged
envelopes over `--deals` deals closing across the four quarters of 2026, produced onto a topic of a
real Kafka broker. The service's own ConsumerRunner and OpportunityRollupHandler consume them in
this process (every version, so the deal facts the inspection reads are folded too; their row count
is printed). Then, through the service's own use cases: the assigned quota of the VP (an
administrator's set_quota) and every manager's quota plan for `--period` (each direct report's
assigned quota and the manager's direct one: save_quota_draft + commit_quota_plan), and a forecast
commit (commit_forecast) by every manager and by `--commit-share` of the reps for `--period` and
each 2026 quarter before it, so the rows' "since commit" and the past periods' bias have data.
Then ANALYZE, as autovacuum would have run by the time anyone inspects.

Timed in this process, on one warm pooled connection, `--runs` times after a warm-up (`--vp-runs`
for the VP), each run followed by the three ceilings for the same user so both see the same load:
  * inspect_team of the VP, of a level-2 manager and of a first-line manager, each called by
    themselves, and inspect_rep_deals of one of that first-line manager's reps, called by the manager;
  * ceiling "rollup": rollup_store.read_rollup (the one primary-key row a rollup read costs);
  * ceiling "deals(P)": the user's subtree (a recursive CTE), then its tracked deals of the period;
  * ceiling "one pass": the subtree, its tracked deals closing in the period and in the trailing
    periods the inspection looks at, and its open deal facts closing from the period's start:
    three SQL statements fetched as rows, no domain objects. Everything an inspection reads about
    deals; the ratio is inspection p50 / one-pass p50.
Then once more each with a SQLAlchemy before_cursor_execute listener counting the SQL statements
and with the repository functions wrapped (calls, rows returned, time), the key diagnostic; and the
same inspections through gRPC on a forecasting API process (InspectTeam / InspectRep with the same
callers' tokens). `--profile` adds cProfile of the VP's and the first-line manager's inspection
(top 25 by cumulative time).

PostgreSQL runs with the test settings (fsync=off, synchronous_commit=off) as in the rollup
benchmark: reads are what is measured here. The default run takes about 7 minutes on 2 cores, most
of it loading (consuming 200,000 events, then some 11,600 forecast commits through the use cases).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import importlib
import inspect
import io
import os
import pstats
import random
import statistics
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import grpc
from forecast_rollups import (
    SUBTREE,
    Org,
    build_org,
    fresh_database,
    in_process_consumer,
    log,
    make_workload,
    newest_versions_applied,
    next_batch,
    percentile,
    produce,
)
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from salesplane.forecasting.v1 import inspection_pb2, inspection_pb2_grpc
from salesplane_forecasting.adapters import (
    rollup_store,
    tables,
    user_store,
)
from salesplane_forecasting.adapters.sql_unit_of_work import SqlForecastingUnitOfWork
from salesplane_forecasting.domain.inspection.thresholds import InspectionThresholds
from salesplane_forecasting.domain.periods import FiscalCalendar
from salesplane_forecasting.domain.quotas import AllocationInput, QuotaKind
from salesplane_forecasting.domain.worksheets import SnapshotKind
from salesplane_forecasting.entrypoints.main import DEFINITION, TOPIC
from salesplane_forecasting.entrypoints.opportunity_consumer import OPPORTUNITIES_TOPIC
from salesplane_forecasting.service_layer import inspection, quotas, worksheets
from salesplane_platform.db import make_session_factory
from salesplane_platform.identity import ROLE_MANAGER, Identity, issue_token
from salesplane_platform.kafka_transport import ensure_topics
from salesplane_platform.money import MoneyInput
from salesplane_platform.settings import DEV_AUTH_SECRET, ServiceSettings
from salesplane_platform.unit_of_work import OutboxContext
from salesplane_testing import bench_results
from salesplane_testing.bench_harness import run_cleanly
from salesplane_testing.processes import ServiceHandle

CURRENCY = "USD"
ADMIN = Identity("bench-admin", frozenset({"admin"}))
FIRST_LINE_TARGET = 0.100
VP_TARGET = 1.0
UowFactory = Callable[[], SqlForecastingUnitOfWork]


def manager(user_id: str) -> Identity:
    return Identity(user_id, frozenset({ROLE_MANAGER}))


def rep(user_id: str) -> Identity:
    return Identity(user_id, frozenset({"rep"}))


# ----------------------------------------------------------------------------- loading


def consume(engine: Engine, bootstrap: str, topic: str, total: int) -> tuple[float, int]:
    """The whole topic through the service's ConsumerRunner in this process; (seconds, events)."""
    # This process's environment: the settings refuse to load without token verification keys, and
    # the benchmark runs as a development deployment (run_cleanly) so the development ones apply.
    max_batch = ServiceSettings.from_env(
        DEFINITION.name, default_grpc_port=0, default_metrics_port=0, environ=dict(os.environ)
    ).consumer_max_batch
    runner, subscriber = in_process_consumer(engine, bootstrap, topic, f"bench-inspection-{topic}", max_batch)
    consumed = 0
    started = time.perf_counter()
    last_report = started
    try:
        records = next_batch(subscriber, max_batch, 60)
        while records:
            runner.process(records)
            subscriber.commit(records)
            consumed += len(records)
            if consumed >= total:
                break
            if time.perf_counter() - last_report > 15:
                log(f"{consumed:,} events consumed")
                last_report = time.perf_counter()
            records = next_batch(subscriber, max_batch, 30)
    finally:
        subscriber.close()
    return time.perf_counter() - started, consumed


def children_of(org: Org) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for row in org.rows:
        if row["manager_user_id"] is not None:
            found[row["manager_user_id"]].append(row["user_id"])
    return found


def commit_quotas(make_uow: UowFactory, org: Org, period_id: str, seed: int) -> int:
    """Every user's assigned quota and every manager's direct one for the period, through the use
    cases: the VP's set by an administrator, the rest by each manager's committed quota plan. A
    manager's assigned quota is the sum of their reports' plus their direct one."""
    rng = random.Random(seed)
    children = children_of(org)
    assigned: dict[str, int] = {}
    direct: dict[str, int] = {}
    for level in reversed(org.levels):
        for user_id in level:
            if user_id in children:
                direct[user_id] = rng.randrange(2_000_000, 8_000_000)
                assigned[user_id] = direct[user_id] + sum(assigned[c] for c in children[user_id])
            else:
                assigned[user_id] = rng.randrange(10_000_000, 40_000_000)
    vp = org.levels[0][0]
    quotas.set_quota(
        user_id=vp,
        period_id=period_id,
        amount=MoneyInput(CURRENCY, assigned[vp]),
        caller=ADMIN,
        uow=make_uow(),
        base_currency=CURRENCY,
    )
    written = 1
    for user_id in org.managers:
        allocations = [
            AllocationInput(c, QuotaKind.ASSIGNED, MoneyInput(CURRENCY, assigned[c]))
            for c in children[user_id]
        ]
        allocations.append(AllocationInput(user_id, QuotaKind.DIRECT, MoneyInput(CURRENCY, direct[user_id])))
        caller = manager(user_id)
        quotas.save_quota_draft(
            manager_user_id=user_id,
            period_id=period_id,
            allocations=allocations,
            caller=caller,
            uow=make_uow(),
            base_currency=CURRENCY,
        )
        quotas.commit_quota_plan(
            manager_user_id=user_id,
            period_id=period_id,
            caller=caller,
            uow=make_uow(),
            base_currency=CURRENCY,
        )
        written += len(allocations)
    return written


def commit_forecasts(
    make_uow: UowFactory, org: Org, period_ids: Sequence[str], share: float, seed: int
) -> tuple[int, set[str]]:
    """A forecast commit by every manager (their team's) and by `share` of the reps (their own),
    for each period: reps first, then the managers bottom-up, as a forecast call would go."""
    rng = random.Random(seed)
    committing_reps = [r for r in org.reps if rng.random() < share]
    count = 0
    for period_id in period_ids:
        for user_id in committing_reps:
            worksheets.commit_forecast(
                user_id=user_id,
                period_id=period_id,
                kind=SnapshotKind.REP,
                note="bench",
                caller=rep(user_id),
                uow=make_uow(),
                base_currency=CURRENCY,
            )
            count += 1
        for level in reversed(org.levels[:-1]):
            for user_id in level:
                worksheets.commit_forecast(
                    user_id=user_id,
                    period_id=period_id,
                    kind=SnapshotKind.MANAGER,
                    note="bench",
                    caller=manager(user_id),
                    uow=make_uow(),
                    base_currency=CURRENCY,
                )
                count += 1
        log(f"{count:,} forecast commits written ({period_id} done)")
    return count, set(committing_reps)


def past_period_ids(period_id: str) -> list[str]:
    """The trailing periods the inspection looks at under the default settings, oldest first."""
    calendar = FiscalCalendar()
    periods: list[str] = []
    day = calendar.period(period_id).start
    for _ in range(InspectionThresholds().trailing_periods):
        past = calendar.period(calendar.quarter_of(date.fromordinal(day.toordinal() - 1)))
        periods.append(past.period_id)
        day = past.start
    return list(reversed(periods))


def table_counts(engine: Engine) -> dict[str, int]:
    names = ["tracked_opportunities", "deal_facts", "won_stage_stays", "quotas", "forecast_snapshots"]
    found = {}
    with engine.connect() as connection:
        for name in names:
            table = tables.metadata.tables.get(name)
            if table is not None:
                found[name] = int(connection.execute(select(func.count()).select_from(table)).scalar_one())
    return found


# ----------------------------------------------------------------------------- the ceilings


# The subtree's user ids, then its tracked deals closing in the periods (what the inspection's
# deals_of calls return) and its open deal facts closing from the period's start (what its
# facts_of_owners calls return), by owner arrays: joined to the recursive CTE instead, the planner
# (which guesses ~200 rows for any subtree) hashes every tracked deal even for a rep's.
SUBTREE_IDS = text(f"{SUBTREE}SELECT user_id FROM subtree")
DEALS_OF = text(
    "SELECT * FROM tracked_opportunities "
    "WHERE owner_user_id = ANY(:owners) AND period_id = ANY(:periods) AND status <> 'deleted'"
)
FACTS_OF = text(
    "SELECT * FROM deal_facts WHERE owner_user_id = ANY(:owners) AND status = 'open' AND close_date >= :start"
)
SUBTREE_SIZE = text(f"{SUBTREE}SELECT count(*) FROM subtree")


@dataclass(frozen=True)
class Ceilings:
    session: Session
    period_id: str
    past: list[str]
    start: date

    def rollup(self, user_id: str) -> object:
        return rollup_store.read_rollup(self.session, user_id, self.period_id)

    def _owners(self, user_id: str) -> list[str]:
        return list(self.session.execute(SUBTREE_IDS, {"root": user_id}).scalars())

    def period_deals(self, user_id: str) -> list[Any]:
        """Two statements: the subtree, its deals of the period."""
        owners = self._owners(user_id)
        return list(self.session.execute(DEALS_OF, {"owners": owners, "periods": [self.period_id]}).all())

    def one_pass(self, user_id: str) -> tuple[list[Any], list[Any]]:
        """Three statements: the subtree, its deals of the period and the trailing ones, its facts."""
        owners = self._owners(user_id)
        periods = [*self.past, self.period_id]
        deals = self.session.execute(DEALS_OF, {"owners": owners, "periods": periods}).all()
        facts = self.session.execute(FACTS_OF, {"owners": owners, "start": self.start}).all()
        return list(deals), list(facts)


# ----------------------------------------------------------------------------- counting


class StatementCounter:
    """SQL statements sent on the engine while `counting` is on (before_cursor_execute)."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self._on = False
        event.listen(engine, "before_cursor_execute", self._executed)

    def _executed(self, *args: Any) -> None:
        if self._on:
            self.count += 1

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        self.count, self._on = 0, True
        try:
            yield
        finally:
            self._on = False


@dataclass
class Tally:
    calls: int = 0
    rows: int = 0
    seconds: float = 0.0


# The repository modules: every public function of each is wrapped (the unit of work's stores look
# each up at every call), so whichever an inspection calls shows, however the use case is written.
REPOSITORY_MODULES = [
    "user_store",
    "hierarchy",
    "settings_store",
    "inspection_settings_store",
    "deal_facts_store",
    "rollup_store",
    "quota_store",
    "snapshot_store",
    "adjustment_store",
    "risk_state_store",
    "figure_record_store",
]


def repository_functions() -> list[tuple[object, str, str]]:
    """(owner, attribute, label) of every function to wrap: the access check's subtree test, then
    the public functions defined in each repository module that exists."""
    found: list[tuple[object, str, str]] = [
        (user_store.reporting_lines, "is_in_subtree", "user_store.reporting_lines.is_in_subtree")
    ]
    for name in REPOSITORY_MODULES:
        try:
            module = importlib.import_module(f"salesplane_forecasting.adapters.{name}")
        except ImportError:
            continue
        for attribute, value in sorted(vars(module).items()):
            if (
                not attribute.startswith("_")
                and inspect.isfunction(value)
                and value.__module__ == module.__name__
            ):
                found.append((module, attribute, f"{name}.{attribute}"))
    return found


def _size(result: object) -> int:
    if result is None or isinstance(result, bool):
        return int(bool(result))
    try:
        return len(result)  # type: ignore[arg-type]
    except TypeError:
        return 1


@contextlib.contextmanager
def repository_tallies() -> Iterator[dict[str, Tally]]:
    """Calls, rows returned and seconds per repository function while inside; restored after."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    restore: list[tuple[object, str, Any]] = []
    for owner, attribute, label in repository_functions():
        original = getattr(owner, attribute)

        def counted(*args: Any, _original: Any = original, _label: str = label, **kwargs: Any) -> Any:
            started = time.perf_counter()
            result = _original(*args, **kwargs)
            tally = tallies[_label]
            tally.seconds += time.perf_counter() - started
            tally.calls += 1
            tally.rows += _size(result)
            return result

        restore.append((owner, attribute, original))
        setattr(owner, attribute, counted)
    try:
        yield tallies
    finally:
        for owner, attribute, original in reversed(restore):
            setattr(owner, attribute, original)


# ----------------------------------------------------------------------------- the subjects


@dataclass
class Subject:
    label: str
    user_id: str
    caller: str
    reports: int
    subtree: int
    runs: int
    target: float | None
    call: Callable[[], object]
    grpc_call: Callable[[Any, list[tuple[str, str]]], object]
    # Filled in by the run.
    deals_in_period: int = 0
    one_pass_rows: int = 0
    inspection: list[float] = field(default_factory=list)
    rollup: list[float] = field(default_factory=list)
    period_deals: list[float] = field(default_factory=list)
    one_pass: list[float] = field(default_factory=list)
    grpc: list[float] = field(default_factory=list)
    statements: int = 0
    tallies: dict[str, Tally] = field(default_factory=dict)
    flagged_rows: int = 0


def pick_subjects(
    org: Org, make_uow: UowFactory, session: Session, period_id: str, options: argparse.Namespace
) -> list[Subject]:
    """The VP, a level-2 manager and the first-line manager nearest 8 reports, each inspecting their
    own team, and one of that manager's reps, drilled into by the manager."""
    children = children_of(org)
    first_line = min(org.levels[-2], key=lambda m: (abs(len(children[m]) - 8), -len(children[m]), m))

    def team(label: str, user_id: str, runs: int, target: float | None) -> Subject:
        def call() -> object:
            return inspection.inspect_team(
                manager_user_id=user_id,
                period_id=period_id,
                caller=manager(user_id),
                uow=make_uow(),
                base_currency=CURRENCY,
            )

        def grpc_call(channel: Any, metadata: list[tuple[str, str]]) -> object:
            request = inspection_pb2.InspectTeamRequest(manager_user_id=user_id, period_id=period_id)
            stub = inspection_pb2_grpc.InspectionServiceStub(channel)
            return stub.InspectTeam(request, metadata=tuple(metadata), timeout=60)

        subtree = int(session.execute(SUBTREE_SIZE, {"root": user_id}).scalar_one())
        reports = len(children[user_id])
        return Subject(label, user_id, user_id, reports, subtree, runs, target, call, grpc_call)

    the_rep = children[first_line][0]

    def rep_call() -> object:
        return inspection.inspect_rep_deals(
            user_id=the_rep,
            period_id=period_id,
            caller=manager(first_line),
            uow=make_uow(),
            base_currency=CURRENCY,
        )

    def rep_grpc_call(channel: Any, metadata: list[tuple[str, str]]) -> object:
        request = inspection_pb2.InspectRepRequest(user_id=the_rep, period_id=period_id)
        stub = inspection_pb2_grpc.InspectionServiceStub(channel)
        return stub.InspectRep(request, metadata=tuple(metadata), timeout=60)

    return [
        team("VP (every user)", org.levels[0][0], options.vp_runs, VP_TARGET),
        team("level-2 manager", org.levels[2][0], options.runs, None),
        team("first-line manager", first_line, options.runs, FIRST_LINE_TARGET),
        Subject(
            "rep (inspect_rep_deals)", the_rep, first_line, 0, 1, options.runs, None, rep_call, rep_grpc_call
        ),
    ]


def time_in_process(subject: Subject, ceilings: Ceilings, warmup: int) -> None:
    """Inspection, then each ceiling for the same user, once per round: all see the same load."""
    user_id = subject.user_id
    steps: list[tuple[Callable[[], object], list[float]]] = [
        (subject.call, subject.inspection),
        (lambda: ceilings.rollup(user_id), subject.rollup),
        (lambda: ceilings.period_deals(user_id), subject.period_deals),
        (lambda: ceilings.one_pass(user_id), subject.one_pass),
    ]
    for _ in range(warmup):
        for call, _latencies in steps:
            call()
    for _ in range(subject.runs):
        for call, latencies in steps:
            started = time.perf_counter()
            call()
            latencies.append(time.perf_counter() - started)
    subject.deals_in_period = len(ceilings.period_deals(user_id))
    deals, facts = ceilings.one_pass(user_id)
    subject.one_pass_rows = len(deals) + len(facts)


def count_once(subject: Subject, counter: StatementCounter) -> None:
    with counter.counting():
        subject.call()
    subject.statements = counter.count
    with repository_tallies() as tallies:
        result = subject.call()
    subject.tallies = dict(tallies)
    if isinstance(result, inspection.TeamInspection):
        subject.flagged_rows = sum(1 for row in result.rows if row.inspection.flags)
    elif isinstance(result, inspection.RepDeals):
        subject.flagged_rows = len(result.deals)


def time_grpc(env: dict[str, str], scratch: Path, subjects: Sequence[Subject], warmup: int) -> None:
    api = ServiceHandle("forecasting", {**env, "SALESPLANE_ROLES": "api"}, scratch)
    api.start()
    try:
        with grpc.insecure_channel(api.target) as channel:
            for subject in subjects:
                token = issue_token(DEV_AUTH_SECRET, subject.caller, [ROLE_MANAGER])
                metadata = [("authorization", f"Bearer {token}")]
                for _ in range(warmup):
                    subject.grpc_call(channel, metadata)
                for _ in range(subject.runs):
                    started = time.perf_counter()
                    subject.grpc_call(channel, metadata)
                    subject.grpc.append(time.perf_counter() - started)
    finally:
        api.stop()


def profile(subject: Subject, calls: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        subject.call()
    profiler.disable()
    out = io.StringIO()
    out.write(
        f"--- cProfile: {subject.label} ({subject.user_id}), {calls} call(s), top 25 by cumulative ---\n"
    )
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
    return out.getvalue()


# ----------------------------------------------------------------------------- main


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def target_of(subject: Subject, p50: float) -> tuple[str, str]:
    if subject.target is None:
        return "", ""
    limit = f"{subject.target:g} s" if subject.target >= 1 else f"{subject.target * 1000:g} ms"
    return f"p50 <= {limit}", "yes" if p50 <= subject.target else "NO"


def run(options: argparse.Namespace, stack: contextlib.ExitStack) -> None:
    from salesplane_testing.kafka_broker import KafkaBroker
    from salesplane_testing.postgres_server import PostgresServer

    scratch = Path(stack.enter_context(tempfile.TemporaryDirectory()))
    load_before = os.getloadavg()[0]
    log("starting PostgreSQL and Kafka")
    postgres = stack.enter_context(PostgresServer())
    broker = stack.enter_context(KafkaBroker())
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    topic = f"{prefix}{OPPORTUNITIES_TOPIC}"
    org = build_org(options.users)
    engine = fresh_database(postgres, org, "bench_inspection")
    stack.callback(engine.dispose)
    log(f"organisation: {len(org.rows):,} users, levels {[len(level) for level in org.levels]}")

    deals = min(options.deals, options.events)
    workload = make_workload(org, options.events, deals, options.seed)
    ensure_topics(broker.bootstrap_servers, [topic])
    produce_seconds = produce(broker.bootstrap_servers, topic, workload.records)
    log(f"{len(workload.records):,} envelopes produced onto {topic} in {produce_seconds:.1f} s")
    consume_seconds, consumed = consume(engine, broker.bootstrap_servers, topic, len(workload.records))
    applied = newest_versions_applied(engine, workload)
    log(f"{consumed:,} events consumed in {consume_seconds:.1f} s; {applied:,}/{deals:,} at their newest")

    env = {
        "SALESPLANE_DATABASE_URL": postgres.url("bench_inspection"),
        "SALESPLANE_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "SALESPLANE_TOPIC_PREFIX": prefix,
        "SALESPLANE_DATA_DIR": str(scratch),
        "SALESPLANE_LOG_LEVEL": "WARNING",
        "SALESPLANE_SHUTDOWN_GRACE_SECONDS": "5",
    }
    settings = ServiceSettings.from_env(
        DEFINITION.name, default_grpc_port=0, default_metrics_port=0, environ={**os.environ, **env}
    )
    # As the service's: the use cases' events go to the outbox (no relay runs, nothing is published).
    outbox = OutboxContext(tables.platform, DEFINITION.name, settings.topic(TOPIC), threading.Event())
    sessions: sessionmaker[Session] = make_session_factory(engine)

    def make_uow() -> SqlForecastingUnitOfWork:
        return SqlForecastingUnitOfWork(sessions, outbox)

    period_id = options.period
    past = past_period_ids(period_id)
    started = time.perf_counter()
    quota_rows = commit_quotas(make_uow, org, period_id, options.seed)
    quota_seconds = time.perf_counter() - started
    log(f"{quota_rows:,} quotas committed for {period_id} in {quota_seconds:.1f} s")
    commit_periods = [p for p in past if p.startswith("2026-")] + [period_id]
    started = time.perf_counter()
    commits, _ = commit_forecasts(make_uow, org, commit_periods, options.commit_share, options.seed)
    commit_seconds = time.perf_counter() - started
    # The statistics autovacuum would have gathered by the time anyone inspects: without them the
    # planner guesses row counts of a table loaded a minute ago (deal_facts' status filter, say).
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    counts = table_counts(engine)
    if counts.get("deal_facts", 0) == 0:
        raise RuntimeError("no deal_facts rows: the consumer kept no deal history, nothing to inspect")

    counter = StatementCounter(engine)
    calendar = FiscalCalendar()
    with Session(engine) as ceiling_session:
        ceilings = Ceilings(ceiling_session, period_id, past, calendar.period(period_id).start)
        subjects = pick_subjects(org, make_uow, ceiling_session, period_id, options)
        for subject in subjects:
            log(f"timing {subject.label} ({subject.user_id}), {subject.runs} runs")
            time_in_process(subject, ceilings, options.warmup)
            count_once(subject, counter)
        ceiling_session.rollback()
    log("timing InspectTeam / InspectRep through gRPC")
    time_grpc(env, scratch, subjects, options.warmup)
    profiles = []
    if options.profile:
        log("profiling")
        profiles = [profile(subjects[0], 1), profile(subjects[2], 10)]
    load_after = os.getloadavg()[0]

    levels = " -> ".join(f"{len(level):,}" for level in org.levels)
    print("backend:       postgresql (test settings: fsync off) + kafka, all on this machine")
    print(
        f"machine:       {os.cpu_count()} CPUs; load average (1 min) {load_before:.2f} before the run, "
        f"{load_after:.2f} at the end (anything else running skews these figures)"
    )
    print(f"organisation:  {len(org.rows):,} users, {len(org.levels)} levels ({levels})")
    print(
        f"events:        {len(workload.records):,} over {deals:,} deals closing across 2026, consumed in "
        f"this process by the service's ConsumerRunner in {consume_seconds:.1f} s "
        f"({consumed / consume_seconds:,.0f} events/s); {applied:,}/{deals:,} deals at their newest version"
    )
    print("rows:          " + ", ".join(f"{name} {n:,}" for name, n in counts.items()))
    print(
        f"written:       {quota_rows:,} committed quotas for {period_id} (quota plans) in "
        f"{quota_seconds:.1f} s; "
        f"{commits:,} forecast commits ({options.commit_share:.0%} of reps, every manager) for "
        f"{', '.join(commit_periods)} in {commit_seconds:.1f} s"
    )
    print(f"inspected:     {period_id}; trailing periods {', '.join(past)}")
    print(
        "in process, one warm pooled connection; each run: the inspection, then the ceilings for the same "
        "user; ratio = inspection p50 / one-pass p50"
    )
    header = (
        f"  {'figure':<26}{'user':<12}{'reports':>7}{'subtree':>8}{'deals':>7}{'runs':>5}"
        f"{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}  {'target':<15}{'met':<5}{'SQL':>6}"
        f"{'rollup ms':>10}{'deals(P) ms':>12}{'one-pass ms':>12}{'ratio':>7}"
    )
    print(header)
    for s in subjects:
        p50 = statistics.median(s.inspection)
        target, met = target_of(s, p50)
        print(
            f"  {s.label:<26}{s.user_id:<12}{s.reports:>7}{s.subtree:>8,}{s.deals_in_period:>7,}{s.runs:>5}"
            f"{ms(p50):>10}{ms(percentile(s.inspection, 0.95)):>10}{ms(max(s.inspection)):>10}  "
            f"{target:<15}{met:<5}{s.statements:>6}"
            f"{statistics.median(s.rollup) * 1000:>10.2f}{ms(statistics.median(s.period_deals)):>12}"
            f"{ms(statistics.median(s.one_pass)):>12}{p50 / statistics.median(s.one_pass):>6.0f}x"
        )
    print("through gRPC (a forecasting API process, the same callers' tokens, sequential calls):")
    print(f"  {'call':<60}{'runs':>5}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}  target")
    for s in subjects:
        p50 = statistics.median(s.grpc)
        target, met = target_of(s, p50)
        method = "InspectRep" if s.reports == 0 else "InspectTeam"
        print(
            f"  {method + ' ' + s.label:<60}{s.runs:>5}{ms(p50):>10}{ms(percentile(s.grpc, 0.95)):>10}"
            f"{ms(max(s.grpc)):>10}  {target:<15}{met}"
        )
    print("repository calls per inspection (one more call each, functions wrapped; rows returned, time):")
    # The functions any inspection called, in first-call order (a wrapped function calling another
    # public one of its module counts in both).
    labels = list(dict.fromkeys(label for s in subjects for label in s.tallies))
    print(f"  {'function':<52}" + "".join(f"{s.label[:24]:>26}" for s in subjects))
    for label in labels:
        cells = []
        for s in subjects:
            t = s.tallies.get(label)
            cells.append(f"{t.calls:>5} x {t.rows:>7,} r {t.seconds * 1000:>6.1f} ms" if t else f"{'-':>26}")
        print(f"  {label:<52}" + "".join(f"{c:>26}" for c in cells))
    print(
        f"  {'SQL statements (before_cursor_execute)':<52}" + "".join(f"{s.statements:>26}" for s in subjects)
    )
    print(f"  {'rows with a flag / flagged deals':<52}" + "".join(f"{s.flagged_rows:>26}" for s in subjects))
    for text_block in profiles:
        print(text_block)
    record(subjects, org, period_id)


def record(subjects: Sequence[Subject], org: Org, period_id: str) -> None:
    """Each inspection's p50, in process and through gRPC, beside the one-pass read of the same user
    (what it reads about deals, as rows); the targets are the issue's, judged at p50 as printed."""
    figures = []
    for s in subjects:
        target = bench_results.Target() if s.target is None else bench_results.Target(at_most=s.target * 1000)
        ceiling = statistics.median(s.one_pass) * 1000
        for where, latencies in (("in process", s.inspection), ("gRPC", s.grpc)):
            figures.append(
                bench_results.Figure(
                    name=f"{s.label} p50, {where}",
                    value=statistics.median(latencies) * 1000,
                    unit="ms",
                    target=target,
                    ceiling_name="one-pass read p50",
                    ceiling=ceiling,
                    lower_is_better=True,
                )
            )
    bench_results.record(
        "inspection",
        figures,
        notes=[
            f"{len(org.rows):,} users, {len(org.levels)} levels; inspected {period_id}; "
            "PostgreSQL with the test settings (fsync off): reads are measured"
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--deals", type=int, default=50_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=30, help="timed runs per inspection (not the VP's)")
    parser.add_argument("--vp-runs", type=int, default=10, help="timed runs of the VP's inspection")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs before each figure")
    parser.add_argument("--period", default="2026-Q4", help="the inspected quarter (deals close in 2026)")
    parser.add_argument("--commit-share", type=float, default=0.5, help="share of reps who commit")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the VP's and a first-line inspection"
    )
    options = parser.parse_args()
    if options.users < 40:
        parser.error("--users must be at least 40 (six levels)")
    if options.runs < 1 or options.vp_runs < 1 or not 0 <= options.commit_share <= 1:
        parser.error("--runs and --vp-runs must be positive, --commit-share within 0..1")
    run_cleanly(lambda stack: run(options, stack))


if __name__ == "__main__":
    main()
