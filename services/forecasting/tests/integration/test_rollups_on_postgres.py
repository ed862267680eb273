"""Forecasting on PostgreSQL: incremental rollup_totals equal a full rebuild, across a reorganisation,
and GetRollup serves them as the own and team totals."""

from __future__ import annotations

import random
import time

import grpc
import pytest
from sqlalchemy import select

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.forecasting.v1 import forecasting_pb2, forecasting_pb2_grpc, org_pb2, org_pb2_grpc
from salesplane.opportunities.v1 import events_pb2, opportunities_pb2
from salesplane_forecasting.adapters.rollup_store import rebuild_rollups
from salesplane_forecasting.adapters.tables import rollup_totals, tracked_opportunities
from salesplane_forecasting.domain.contributions import MEASURES
from salesplane_forecasting.entrypoints.main import DEFINITION
from salesplane_platform import topics
from salesplane_platform.event_transport import OutgoingRecord
from salesplane_platform.events import build_envelope
from salesplane_platform.identity import issue_token
from salesplane_platform.local_log import LocalLogPublisher
from salesplane_platform.service_process import ServiceProcess
from salesplane_platform.settings import ServiceSettings

pytestmark = pytest.mark.integration

# vp > m1 > (ann, bob), vp > m2 > cid; dan is in no organisation (his team is just himself).
ORG = [("vp", ""), ("m1", "vp"), ("m2", "vp"), ("ann", "m1"), ("bob", "m1"), ("cid", "m2")]
OWNERS = ["ann", "bob", "cid", "dan", "m1"]
STATUSES = [opportunities_pb2.OPPORTUNITY_STATUS_OPEN] * 3 + [
    opportunities_pb2.OPPORTUNITY_STATUS_WON,
    opportunities_pb2.OPPORTUNITY_STATUS_LOST,
]


def event(deal: str, version: int, rng: random.Random) -> OutgoingRecord:
    amount = rng.randint(0, 10**6)
    base = Money(currency_code="USD", amount_minor=amount * rng.choice([1, 2]))
    payload = events_pb2.OpportunityChanged(
        kind=events_pb2.CHANGE_KIND_DELETED if rng.random() < 0.05 else events_pb2.CHANGE_KIND_UPDATED,
        opportunity=opportunities_pb2.Opportunity(
            id=deal,
            owner_user_id=rng.choice(OWNERS),
            amount=Money(currency_code=rng.choice(["EUR", "USD"]), amount_minor=amount),
            amount_base=base,
            best_case_base=Money(currency_code="USD", amount_minor=base.amount_minor + rng.randint(0, 999)),
            worst_case_base=Money(currency_code="USD", amount_minor=base.amount_minor // 3),
            expected_close_date=Date(
                year=rng.choice([2026, 2027]), month=rng.choice([1, 3, 4, 11, 12]), day=1
            ),
            probability=rng.randint(0, 100),
            status=rng.choice(STATUSES),
            version=version,
        ),
    )
    envelope = build_envelope(
        payload=payload,
        aggregate_type="opportunity",
        aggregate_id=deal,
        aggregate_version=version,
        producer="t",
        actor="t",
    )
    return OutgoingRecord(topics.OPPORTUNITIES, deal.encode(), envelope.SerializeToString())


# A rollup row's measures: own (the user's deals) at [:WIDTH], team (their subtree) at [WIDTH:].
WIDTH = len(MEASURES)
MEASURE_COLUMNS = [f"{scope}_{name}" for scope in ("own", "team") for name in MEASURES]


def rows(session) -> dict:
    """rollup_totals without updated_at: (user, period) -> own then team measures, all-zero rows
    left out."""
    columns = [rollup_totals.c.user_id, rollup_totals.c.period_id]
    found = session.execute(select(*columns, *[rollup_totals.c[m] for m in MEASURE_COLUMNS])).all()
    return {(u, p): tuple(measures) for u, p, *measures in found if any(measures)}


def wait_applied(sessions, versions: dict[str, int]) -> None:
    wanted = {d: v for d, v in versions.items() if v}
    c = tracked_opportunities.c
    deadline = time.monotonic() + 60
    applied = None
    while time.monotonic() < deadline:
        with sessions() as session:
            applied = dict(session.execute(select(c.opportunity_id, c.version)).all())
        if applied == wanted:
            return
        time.sleep(0.1)
    raise AssertionError(f"not every version applied within 60 s: {applied} != {wanted}")


def upsert(stub, settings, user_id: str, manager: str) -> None:
    stub.UpsertUser(
        org_pb2.UpsertUserRequest(
            user=org_pb2.User(
                user_id=user_id,
                display_name=user_id,
                roles=["manager" if user_id in ("vp", "m1", "m2") else "rep"],
                manager_user_id=manager,
                active=True,
            )
        ),
        metadata=token(settings, "root", "admin"),
    )


def token(settings, subject: str, *roles: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {issue_token(settings.auth_secret, subject, list(roles))}")]


def as_served(measures: tuple[int, ...]) -> tuple[int, ...]:
    """A rollup row as GetRollup shows it (the weighted pipeline rounded half up to minor units)."""
    m = dict(zip(MEASURES, measures, strict=True))
    return (
        m["won_count"],
        m["won_minor"],
        m["open_count"],
        m["pipeline_minor"],
        (m["weighted_percent_minor"] + 50) // 100,
        m["included_count"],
        m["included_likely_minor"],
        m["included_best_minor"],
        m["included_worst_minor"],
        m["upside_count"],
        m["upside_likely_minor"],
        m["upside_best_minor"],
        m["upside_worst_minor"],
        m["won_minor"] + m["included_likely_minor"],
        m["won_minor"] + m["included_best_minor"],
        m["won_minor"] + m["included_worst_minor"],
    )


def served(totals: forecasting_pb2.ForecastTotals) -> tuple[int, ...]:
    return (
        totals.won_count,
        totals.closed_won.amount_minor,
        totals.open_count,
        totals.pipeline.amount_minor,
        totals.weighted_pipeline.amount_minor,
        totals.included_count,
        totals.included_likely.amount_minor,
        totals.included_best.amount_minor,
        totals.included_worst.amount_minor,
        totals.upside_count,
        totals.upside_likely.amount_minor,
        totals.upside_best.amount_minor,
        totals.upside_worst.amount_minor,
        totals.forecast_likely.amount_minor,
        totals.forecast_best.amount_minor,
        totals.forecast_worst.amount_minor,
    )


def test_incremental_rollups_equal_a_full_rebuild_and_are_served_by_get_rollup(
    postgres_database_url, tmp_path
):
    rng = random.Random(3)
    settings = ServiceSettings.from_env(
        "forecasting",
        default_grpc_port=0,
        default_metrics_port=0,
        environ={
            "SALESPLANE_ENV": "development",
            "SALESPLANE_DATABASE_URL": postgres_database_url,
            "SALESPLANE_DATA_DIR": str(tmp_path),
        },
    )
    publisher = LocalLogPublisher(settings.event_log_path)
    deals = [f"deal-{i}" for i in range(40)]
    versions = dict.fromkeys(deals, 0)

    def publish(count: int) -> None:
        batch = []
        for _ in range(count):
            deal = rng.choice(deals)
            versions[deal] += 1
            batch.append(event(deal, versions[deal], rng))
        publisher.publish(batch)

    process = ServiceProcess(DEFINITION, settings)
    process.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{process.grpc_port}")
    try:
        sessions = process.context.session_factory
        org = org_pb2_grpc.OrgServiceStub(channel)
        # Half the deals are consumed before anyone is in the organisation: adding a user carries
        # their totals up to their new managers.
        publish(150)
        wait_applied(sessions, versions)
        for user_id, manager in ORG:
            upsert(org, settings, user_id, manager)
        publish(150)
        # A reorganisation while the consumer works: bob's team totals move from m1 to m2.
        upsert(org, settings, "bob", "m2")
        publish(100)
        wait_applied(sessions, versions)

        with sessions() as session:
            incremental = rows(session)
        for recompute in (False, True):
            with sessions() as session:
                rebuild_rollups(session, recompute_contributions=recompute)
                rebuilt = rows(session)
                session.rollback()
            assert incremental == rebuilt, f"recompute_contributions={recompute}"
        assert any(any(row[:WIDTH]) for row in incremental.values())
        assert any(any(row[WIDTH:]) for row in incremental.values())
        # The team of vp is everyone in the organisation; dan counts only for himself.
        assert any(user == "vp" and any(row[WIDTH:]) for (user, _), row in incremental.items())
        assert not any(user == "vp" and any(row[:WIDTH]) for (user, _), row in incremental.items())
        with sessions() as session:
            assert rows(session) == incremental, "the rebuild was rolled back"

        stub = forecasting_pb2_grpc.ForecastingServiceStub(channel)
        zero = (0,) * (2 * WIDTH)
        periods = sorted({period for _, period in incremental})
        for user in ["vp", "m1", "m2", "bob", "dan", "nobody-at-all"]:
            for period in periods:
                reply = stub.GetRollup(
                    forecasting_pb2.GetRollupRequest(user_id=user, period_id=period),
                    metadata=token(settings, "root", "admin"),
                )
                assert reply.currency_code == "USD"
                row = incremental.get((user, period), zero)
                assert served(reply.own) == as_served(row[:WIDTH])
                assert served(reply.team) == as_served(row[WIDTH:])
                assert reply.has_reports == (user in ("vp", "m1", "m2"))

        # A rep reads their own rollup, not a peer's; a bad period is INVALID_ARGUMENT.
        rep = token(settings, "bob", "rep")
        mine = stub.GetRollup(
            forecasting_pb2.GetRollupRequest(user_id="bob", period_id=periods[0]), metadata=rep
        )
        assert served(mine.own) == as_served(incremental.get(("bob", periods[0]), zero)[:WIDTH])
        with pytest.raises(grpc.RpcError) as bad:
            stub.GetRollup(forecasting_pb2.GetRollupRequest(user_id="bob", period_id="Q4"), metadata=rep)
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as other:
            stub.GetRollup(
                forecasting_pb2.GetRollupRequest(user_id="ann", period_id=periods[0]), metadata=rep
            )
        assert other.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        channel.close()
        process.stop()
