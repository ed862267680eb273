"""Forecasting on PostgreSQL: incremental rollups equal the rebuild oracle, and GetRollup reads them."""

from __future__ import annotations

import random
import time

import grpc
import pytest
from sqlalchemy import select

from salesplane.common.v1.common_pb2 import Date, Money
from salesplane.forecasting.v1 import forecasting_pb2, forecasting_pb2_grpc
from salesplane.opportunities.v1 import events_pb2, opportunities_pb2
from salesplane_forecasting.adapters.rollup_store import rebuild_rollups
from salesplane_forecasting.adapters.tables import rollups, tracked_opportunities
from salesplane_forecasting.entrypoints.main import DEFINITION
from salesplane_platform.event_transport import OutgoingRecord
from salesplane_platform.events import build_envelope
from salesplane_platform.identity import issue_token
from salesplane_platform.local_log import LocalLogPublisher
from salesplane_platform.service_process import ServiceProcess
from salesplane_platform.settings import ServiceSettings

pytestmark = pytest.mark.integration


def event(deal: str, version: int, rng: random.Random) -> OutgoingRecord:
    payload = events_pb2.OpportunityChanged(
        kind=events_pb2.CHANGE_KIND_UPDATED,
        opportunity=opportunities_pb2.Opportunity(
            id=deal,
            owner_user_id=rng.choice(["ann", "bob"]),
            amount=Money(currency_code=rng.choice(["EUR", "USD"]), amount_minor=rng.randint(0, 10**6)),
            expected_close_date=Date(year=2026, month=rng.choice([10, 11, 12, 1]), day=1),
            probability=rng.randint(0, 100),
            status=rng.choice(
                [opportunities_pb2.OPPORTUNITY_STATUS_OPEN, opportunities_pb2.OPPORTUNITY_STATUS_LOST]
            ),
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
    return OutgoingRecord("salesplane.opportunities.v1", deal.encode(), envelope.SerializeToString())


def rows(session) -> set:
    return {
        tuple(r)
        for r in session.execute(select(*[c for c in rollups.c if c.name != "updated_at"])).all()
        if r[3]
    }


def test_incremental_rollups_equal_a_full_rebuild_and_are_served_by_get_rollup(
    postgres_database_url, tmp_path
):
    rng = random.Random(3)
    settings = ServiceSettings.from_env(
        "forecasting",
        default_grpc_port=0,
        default_metrics_port=0,
        environ={"SALESPLANE_DATABASE_URL": postgres_database_url, "SALESPLANE_DATA_DIR": str(tmp_path)},
    )
    publisher = LocalLogPublisher(settings.event_log_path)
    deals = [f"deal-{i}" for i in range(40)]
    versions = dict.fromkeys(deals, 0)
    batch = []
    for _ in range(300):
        deal = rng.choice(deals)
        versions[deal] += 1
        batch.append(event(deal, versions[deal], rng))
    publisher.publish(batch)
    process = ServiceProcess(DEFINITION, settings)
    process.start()
    try:
        sessions = process.context.session_factory
        with sessions() as session:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                applied = dict(
                    session.execute(
                        select(tracked_opportunities.c.opportunity_id, tracked_opportunities.c.version)
                    ).all()
                )
                if applied == {d: v for d, v in versions.items() if v}:
                    break
                session.rollback()
                time.sleep(0.1)
            incremental = rows(session)
            session.rollback()
        with sessions() as session, session.begin():
            rebuild_rollups(session)
            rebuilt = rows(session)
        assert incremental == rebuilt and incremental

        user, period = next((r[0], r[1]) for r in sorted(incremental))
        with grpc.insecure_channel(f"127.0.0.1:{process.grpc_port}") as channel:
            stub = forecasting_pb2_grpc.ForecastingServiceStub(channel)
            token = [("authorization", f"Bearer {issue_token(settings.auth_secret, user, ['rep'])}")]
            reply = stub.GetRollup(
                forecasting_pb2.GetRollupRequest(user_id=user, period_id=period), metadata=token
            )
            expected_lines = sorted(
                (r[2], r[3], r[4]) for r in incremental if r[0] == user and r[1] == period
            )
            assert (
                sorted(
                    (line.currency_code, line.opportunity_count, line.amount.amount_minor)
                    for line in reply.lines
                )
                == expected_lines
            )
            with pytest.raises(grpc.RpcError) as bad:
                stub.GetRollup(forecasting_pb2.GetRollupRequest(user_id=user, period_id="Q4"), metadata=token)
            assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            with pytest.raises(grpc.RpcError) as other:
                stub.GetRollup(
                    forecasting_pb2.GetRollupRequest(user_id="someone-else", period_id=period), metadata=token
                )
            assert other.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        process.stop()
