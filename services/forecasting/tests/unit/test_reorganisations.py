"""Reorganisations: a new manager moves the user's whole team in every rollup at once, or on the
date it takes effect; the incremental rollups always equal a rebuild."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from salesplane.common.v1.common_pb2 import Date
from salesplane.forecasting.v1 import forecasting_pb2, forecasting_pb2_grpc, org_pb2, org_pb2_grpc
from salesplane_forecasting.adapters.rollup_store import rebuild_rollups
from salesplane_forecasting.adapters.sql_unit_of_work import SqlForecastingUnitOfWork, SqlRollupStores
from salesplane_forecasting.adapters.tables import rollup_totals
from salesplane_forecasting.domain.deals import Deal
from salesplane_forecasting.entrypoints.main import DEFINITION
from salesplane_forecasting.service_layer import org
from salesplane_forecasting.service_layer.rollups import apply_deal_states
from salesplane_testing.in_process import running_service


@pytest.fixture
def forecasting(tmp_path):
    with running_service(DEFINITION, tmp_path) as service:
        yield service.process, service.channel, service.bearer("root", "admin")


def upsert(channel, admin, user_id: str, manager: str = "", effective: date | None = None) -> org_pb2.User:
    request = org_pb2.UpsertUserRequest(
        user=org_pb2.User(
            user_id=user_id, display_name=user_id, roles=["manager"], manager_user_id=manager, active=True
        )
    )
    if effective is not None:
        request.manager_effective_date.CopyFrom(
            Date(year=effective.year, month=effective.month, day=effective.day)
        )
    return org_pb2_grpc.OrgServiceStub(channel).UpsertUser(request, metadata=admin)


def deal(opportunity_id: str, owner: str, amount: int, probability: int) -> Deal:
    return Deal(
        opportunity_id=opportunity_id,
        version=1,
        owner_user_id=owner,
        status="open",
        close_date=date(2026, 11, 20),
        currency="USD",
        amount_minor=amount,
        probability=probability,
        name=opportunity_id,
        account_name="",
        sales_stage="Proposal",
        likely_minor=amount,
        best_minor=amount,
        worst_minor=amount,
    )


def rows(session) -> set[tuple]:
    """(user, period, own and team measures) of every rollup row, all-zero rows left out."""
    columns = [c for c in rollup_totals.c if c.name != "updated_at"]
    return {tuple(r) for r in session.execute(select(*columns)) if any(r[2:])}


def team_pipeline(channel, admin, user_id: str) -> int:
    stub = forecasting_pb2_grpc.ForecastingServiceStub(channel)
    reply = stub.GetRollup(
        forecasting_pb2.GetRollupRequest(user_id=user_id, period_id="2026-Q4"), metadata=admin
    )
    return reply.team.pipeline.amount_minor


def test_moving_a_manager_moves_their_whole_team_and_every_rollup_equals_a_rebuild(forecasting):
    process, channel, admin = forecasting
    for user_id, manager in [("vp", ""), ("east", "vp"), ("west", "vp"), ("lead", "east"), ("rep", "lead")]:
        upsert(channel, admin, user_id, manager)
    sessions = process.context.session_factory
    with sessions() as session, session.begin():
        apply_deal_states(
            SqlRollupStores(session), {"d1": deal("d1", "rep", 1_000, 80), "d2": deal("d2", "lead", 500, 50)}
        )
    assert [team_pipeline(channel, admin, u) for u in ("lead", "east", "west", "vp")] == [
        1_500,
        1_500,
        0,
        1_500,
    ]

    upsert(channel, admin, "lead", "west")

    assert [team_pipeline(channel, admin, u) for u in ("lead", "east", "west", "vp")] == [
        1_500,
        0,
        1_500,
        1_500,
    ]
    with sessions() as session:
        incremental = rows(session)
        rebuild_rollups(session, recompute_contributions=False)
        assert rows(session) == incremental
        session.rollback()


def test_a_move_dated_in_the_future_waits_for_its_date_then_moves_the_team(forecasting):
    process, channel, admin = forecasting
    for user_id, manager in [("vp", ""), ("east", "vp"), ("west", "vp"), ("rep", "east")]:
        upsert(channel, admin, user_id, manager)
    with process.context.session_factory() as session, session.begin():
        apply_deal_states(SqlRollupStores(session), {"d1": deal("d1", "rep", 2_000, 90)})
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)

    scheduled = upsert(channel, admin, "rep", "west", effective=tomorrow)

    assert scheduled.manager_user_id == "east" and scheduled.scheduled_manager_user_id == "west"
    assert (scheduled.scheduled_manager_date.year, scheduled.scheduled_manager_date.day) == (
        tomorrow.year,
        tomorrow.day,
    )
    assert org.apply_due_moves(today=tomorrow - timedelta(days=1), uow=forecasting_unit_of_work(process)) == 0
    assert team_pipeline(channel, admin, "east") == 2_000

    assert org.apply_due_moves(today=tomorrow, uow=forecasting_unit_of_work(process)) == 1

    moved = org_pb2_grpc.OrgServiceStub(channel).GetUser(
        org_pb2.GetUserRequest(user_id="rep"), metadata=admin
    )
    assert moved.manager_user_id == "west" and not moved.HasField("scheduled_manager_date")
    assert (team_pipeline(channel, admin, "east"), team_pipeline(channel, admin, "west")) == (0, 2_000)
    assert org.apply_due_moves(today=tomorrow, uow=forecasting_unit_of_work(process)) == 0


def test_naming_the_current_manager_cancels_a_scheduled_move(forecasting):
    _, channel, admin = forecasting
    for user_id, manager in [("vp", ""), ("east", "vp"), ("west", "vp"), ("rep", "east")]:
        upsert(channel, admin, user_id, manager)
    upsert(channel, admin, "rep", "west", effective=datetime.now(UTC).date() + timedelta(days=30))
    cancelled = upsert(channel, admin, "rep", "east")
    assert cancelled.manager_user_id == "east" and not cancelled.scheduled_manager_user_id
    assert not cancelled.HasField("scheduled_manager_date")


def forecasting_unit_of_work(process):
    """Forecasting's unit of work, built as its composition root builds it."""
    return SqlForecastingUnitOfWork(process.context.session_factory, process.context.outbox)
