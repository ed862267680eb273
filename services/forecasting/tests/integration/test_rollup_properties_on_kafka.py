"""Property: whatever deals do, whatever Kafka delivers and however the organisation is reshuffled
meanwhile, forecasting's incremental rollup_totals equal a full rebuild and an independent
recomputation from the final deals and the final organisation.

Each example runs its own forecasting (in this process, on a fresh PostgreSQL database, consuming
a fresh topic prefix on the real Kafka broker). Random creates, updates (amount, probability,
status, best/worst case), reassignments, close-date moves across months, quarters and years and
deletions become OpportunityChanged envelopes carrying the full state, versions increasing per deal;
they are published shuffled within a window, with old versions resent. Between publishes, users
are moved to other managers (or added, or moved to the top) through OrgService.UpsertUser on the
running service: reorganisations race the consumer, which the hierarchy lock must keep apart.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka import KafkaProducer
from sqlalchemy import select

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.forecasting.v1 import org_pb2, org_pb2_grpc
from salesplane.opportunities.v1 import events_pb2, opportunities_pb2
from salesplane_forecasting.adapters import hierarchy
from salesplane_forecasting.adapters.rollup_store import rebuild_rollups
from salesplane_forecasting.adapters.tables import rollup_totals, tracked_opportunities, users
from salesplane_forecasting.entrypoints.main import DEFINITION
from salesplane_platform import topics
from salesplane_platform.events import build_envelope
from salesplane_platform.identity import issue_token
from salesplane_platform.service_process import ServiceProcess
from salesplane_platform.settings import ServiceSettings

pytestmark = pytest.mark.integration

TOPIC = topics.OPPORTUNITIES
# The measures of a rollup_totals row, in order (spelled out here, not imported from the domain).
MEASURES = (
    "won_count",
    "won_minor",
    "open_count",
    "pipeline_minor",
    "weighted_percent_minor",
    "included_count",
    "included_likely_minor",
    "included_best_minor",
    "included_worst_minor",
    "upside_count",
    "upside_likely_minor",
    "upside_best_minor",
    "upside_worst_minor",
)
DEALS = [f"deal-{i}" for i in range(16)]
# m* and r* may be moved around; x0 owns deals but never joins the organisation.
MOVABLE = ["m0", "m1", "m2", "r0", "r1", "r2", "r3"]
OWNERS = [*MOVABLE, "x0"]
# vp > m0 > (m1 > (r0, r1), m2 > r2); r3 joins only if a reorganisation adds them.
INITIAL_ORG = [
    ("vp", None),
    ("m0", "vp"),
    ("m1", "m0"),
    ("m2", "m0"),
    ("r0", "m1"),
    ("r1", "m1"),
    ("r2", "m2"),
]
# Month, quarter and year boundaries.
CLOSE_DATES = [
    date(2026, 3, 31),
    date(2026, 4, 1),
    date(2026, 6, 30),
    date(2026, 11, 15),
    date(2026, 12, 31),
    date(2027, 1, 1),
]
STATUS_TO_PROTO = {
    "open": opportunities_pb2.OPPORTUNITY_STATUS_OPEN,
    "won": opportunities_pb2.OPPORTUNITY_STATUS_WON,
    "lost": opportunities_pb2.OPPORTUNITY_STATUS_LOST,
}


@dataclass(frozen=True)
class DealState:
    owner: str
    status: str
    close_date: date
    probability: int
    amount: int
    # None: not given in the event (forecasting then takes the amount).
    best: int | None
    worst: int | None
    deleted: bool = False


amounts = st.integers(0, 10**9)
deal_states = st.builds(
    DealState,
    owner=st.sampled_from(OWNERS),
    status=st.sampled_from(["open", "open", "won", "lost"]),
    close_date=st.sampled_from(CLOSE_DATES),
    probability=st.integers(0, 100),
    amount=amounts,
    best=st.none() | amounts,
    worst=st.none() | amounts,
)
changes = st.one_of(
    st.tuples(st.just("amount"), amounts),
    st.tuples(st.just("probability"), st.sampled_from([0, 39, 40, 69, 70, 100]) | st.integers(0, 100)),
    st.tuples(st.just("status"), st.sampled_from(["open", "won", "lost"])),
    st.tuples(st.just("owner"), st.sampled_from(OWNERS)),
    st.tuples(st.just("close_date"), st.sampled_from(CLOSE_DATES)),
    st.tuples(st.just("cases"), st.tuples(st.none() | amounts, st.none() | amounts)),
    st.tuples(st.just("delete"), st.none()),
)
# A change of a deal; `fresh` is the deal's state if it does not exist yet.
deal_steps = st.tuples(st.sampled_from(DEALS), changes, deal_states)
# (position among the deal steps, user, new manager or None for the top).
reorganisations = st.tuples(
    st.integers(0, 150), st.sampled_from(MOVABLE), st.sampled_from([None, "vp", *MOVABLE, "x0"])
)


def changed(state: DealState, change: tuple[str, object]) -> DealState:
    kind, value = change
    if kind == "cases":
        best, worst = value  # type: ignore[misc]
        return replace(state, best=best, worst=worst)
    if kind == "delete":
        return replace(state, deleted=True)
    return replace(state, **{kind: value})


def envelope_of(deal_id: str, version: int, state: DealState) -> bytes:
    def usd(amount: int) -> Money:
        return Money(currency_code="USD", amount_minor=amount)

    opportunity = opportunities_pb2.Opportunity(
        id=deal_id,
        owner_user_id=state.owner,
        name=deal_id,
        amount=Money(currency_code="EUR", amount_minor=state.amount),
        amount_base=usd(state.amount),
        expected_close_date=Date(
            year=state.close_date.year, month=state.close_date.month, day=state.close_date.day
        ),
        probability=state.probability,
        status=STATUS_TO_PROTO[state.status],
        version=version,
    )
    if state.best is not None:
        opportunity.best_case_base.CopyFrom(usd(state.best))
    if state.worst is not None:
        opportunity.worst_case_base.CopyFrom(usd(state.worst))
    if state.deleted:
        kind = events_pb2.CHANGE_KIND_DELETED
    else:
        kind = events_pb2.CHANGE_KIND_CREATED if version == 1 else events_pb2.CHANGE_KIND_UPDATED
    envelope = build_envelope(
        payload=events_pb2.OpportunityChanged(kind=kind, opportunity=opportunity),
        aggregate_type="opportunity",
        aggregate_id=deal_id,
        aggregate_version=version,
        producer="property-test",
        actor="property-test",
    )
    return envelope.SerializeToString()


# The independent recomputation: the rules written out again, from the final states alone.


def measures_of(state: DealState) -> tuple[int, ...] | None:
    if state.deleted or state.status == "lost":
        return None
    likely = state.amount
    if state.status == "won":
        return (1, likely, *([0] * 11))
    best = likely if state.best is None else state.best
    worst = likely if state.worst is None else state.worst
    included, upside = state.probability >= 70, 40 <= state.probability < 70
    return (
        0,
        0,
        1,
        likely,
        likely * state.probability,
        int(included),
        likely * included,
        best * included,
        worst * included,
        int(upside),
        likely * upside,
        best * upside,
        worst * upside,
    )


def recomputed(deals: dict[str, DealState], managers: dict[str, str | None]) -> dict:
    """(user, period) -> the own measures, then the team measures; all-zero rows left out."""
    width = len(MEASURES)
    sums: dict[tuple[str, str], list[int]] = {}
    for state in deals.values():
        measures = measures_of(state)
        if measures is None:
            continue
        day = state.close_date
        periods = (f"{day.year}-Q{(day.month - 1) // 3 + 1}", f"{day.year}-{day.month:02d}")
        team = [state.owner]
        while managers.get(team[-1]) is not None:
            team.append(managers[team[-1]])
        cells = [(state.owner, 0), *((user, width) for user in team)]  # own half, team half
        for period in periods:
            for user, offset in cells:
                row = sums.setdefault((user, period), [0] * (2 * width))
                for index, value in enumerate(measures):
                    row[offset + index] += value
    return {key: tuple(row) for key, row in sums.items() if any(row)}


def stored_rollups(session) -> dict:
    c = rollup_totals.c
    columns = [c[f"{scope}_{m}"] for scope in ("own", "team") for m in MEASURES]
    rows = session.execute(select(c.user_id, c.period_id, *columns)).all()
    return {(u, p): tuple(measures) for u, p, *measures in rows if any(measures)}


def differing(left: dict, right: dict) -> dict:
    """The first few rows that differ: key -> (left, right)."""
    keys = sorted(k for k in left.keys() | right.keys() if left.get(k) != right.get(k))
    return {k: (left.get(k), right.get(k)) for k in keys[:5]}


def expected_refusal(user: str, manager: str | None, org: dict[str, str | None]) -> grpc.StatusCode | None:
    """What UpsertUser must answer to moving user under manager, given the organisation before."""
    if manager == user:
        return grpc.StatusCode.INVALID_ARGUMENT
    if manager is not None and manager not in org:
        return grpc.StatusCode.NOT_FOUND
    current = manager
    while current is not None:
        if current == user:
            return grpc.StatusCode.FAILED_PRECONDITION
        current = org.get(current)
    return None


@contextmanager
def running_forecasting(kafka_broker, postgres_server) -> Iterator[tuple[ServiceProcess, str]]:
    """A fresh forecasting on a fresh database and topic prefix; yields it and its topic."""
    database = f"t_rollup_props_{uuid.uuid4().hex[:10]}"
    url = postgres_server.create_database(database)
    prefix = f"prop-{uuid.uuid4().hex[:10]}."
    data_dir = tempfile.mkdtemp(prefix="forecasting-props-")
    process = ServiceProcess(
        DEFINITION,
        ServiceSettings.from_env(
            "forecasting",
            default_grpc_port=0,
            default_metrics_port=0,
            environ={
                "SALESPLANE_ENV": "development",
                "SALESPLANE_DATABASE_URL": url,
                "SALESPLANE_KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
                "SALESPLANE_TOPIC_PREFIX": prefix,
                "SALESPLANE_DATA_DIR": data_dir,
                "SALESPLANE_SHUTDOWN_GRACE_SECONDS": "2",
            },
        ),
    )
    process.start()
    try:
        yield process, f"{prefix}{TOPIC}"
    finally:
        process.stop()
        postgres_server.drop_database(database)
        shutil.rmtree(data_dir, ignore_errors=True)


@settings(
    max_examples=8,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    steps=st.lists(deal_steps, min_size=30, max_size=150),
    moves=st.lists(reorganisations, min_size=2, max_size=12),
    window=st.integers(1, 8),
    resend_rate=st.sampled_from([0.0, 0.2, 0.5]),
    rng=st.randoms(use_true_random=False),
)
def test_incremental_rollups_equal_rebuild_and_recomputation_under_races(
    kafka_broker, postgres_server, steps, moves, window, resend_rate, rng
):
    with running_forecasting(kafka_broker, postgres_server) as (process, topic):
        admin = [("authorization", f"Bearer {issue_token(process.settings.auth_secret, 'root', ['admin'])}")]
        channel = grpc.insecure_channel(f"127.0.0.1:{process.grpc_port}")
        org_stub = org_pb2_grpc.OrgServiceStub(channel)
        producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap_servers, acks="all")
        org: dict[str, str | None] = {}

        def move(user: str, manager: str | None) -> None:
            refusal = expected_refusal(user, manager, org)
            request = org_pb2.UpsertUserRequest(
                user=org_pb2.User(
                    user_id=user,
                    display_name=user.upper(),
                    roles=["rep" if user.startswith("r") else "manager"],
                    manager_user_id=manager or "",
                    active=True,
                )
            )
            try:
                org_stub.UpsertUser(request, metadata=admin, timeout=30)
            except grpc.RpcError as error:
                assert error.code() == refusal, (user, manager, org, error.details())
                return
            assert refusal is None, (user, manager, org)
            org[user] = manager

        sent: list[tuple[str, bytes]] = []
        pending: list[tuple[str, bytes]] = []

        def publish() -> None:
            # Out of order within the window, and some records already sent come again.
            order = sorted(range(len(pending)), key=lambda i: i + rng.uniform(0, window))
            delivery = [pending[i] for i in order]
            for _ in range(int(len(delivery) * resend_rate) + (1 if sent and resend_rate else 0)):
                delivery.insert(rng.randint(0, len(delivery)), rng.choice(sent or delivery))
            for key, value in delivery:
                producer.send(topic, key=key.encode(), value=value)
            producer.flush()
            sent.extend(pending)
            pending.clear()

        try:
            for user, manager in INITIAL_ORG:
                move(user, manager)
            deals: dict[str, DealState] = {}
            versions: dict[str, int] = {}
            moves_at: dict[int, list[tuple[str, str | None]]] = {}
            for position, user, manager in moves:
                moves_at.setdefault(min(position, len(steps)), []).append((user, manager))
            for index in range(len(steps) + 1):
                if index in moves_at:
                    publish()  # the consumer is applying these while the organisation changes
                    for user, manager in moves_at[index]:
                        move(user, manager)
                if index == len(steps):
                    break
                deal_id, change, fresh = steps[index]
                current = deals.get(deal_id)
                if current is not None and current.deleted:
                    continue  # a deleted deal never changes again
                state = fresh if current is None else changed(current, change)
                versions[deal_id] = versions.get(deal_id, 0) + 1
                deals[deal_id] = state
                pending.append((deal_id, envelope_of(deal_id, versions[deal_id], state)))
            publish()
        finally:
            producer.close()
            channel.close()

        sessions = process.context.session_factory
        c = tracked_opportunities.c
        deadline = time.monotonic() + 60
        applied: dict[str, int] = {}
        while time.monotonic() < deadline:
            with sessions() as session:
                applied = dict(session.execute(select(c.opportunity_id, c.version)).all())
            if applied == versions:
                break
            time.sleep(0.1)
        assert applied == versions, "forecasting did not apply the newest version of every deal in 60 s"

        with sessions() as session:
            # Under the exclusive lock: a late duplicate cannot change anything while we compare.
            hierarchy.lock_hierarchy(session, exclusive=True)
            assert dict(session.execute(select(users.c.user_id, users.c.manager_user_id)).all()) == org
            incremental = stored_rollups(session)
            rebuild_rollups(session, recompute_contributions=False)
            rebuilt = stored_rollups(session)
            session.rollback()
        assert incremental == rebuilt, differing(incremental, rebuilt)
        expected = recomputed(deals, org)
        assert incremental == expected, differing(incremental, expected)
