"""SQL storage of deals: the opportunities table, their stage history and the idempotency keys of
creates. Nothing here commits; the unit of work does."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from salesplane_opportunities.adapters import tables
from salesplane_opportunities.adapters.configuration_store import CATALOG_REVISION, SqlSalesStageStore
from salesplane_opportunities.adapters.opportunity_listing import list_statement
from salesplane_opportunities.adapters.opportunity_rows import from_row, row_values
from salesplane_opportunities.adapters.seen_aggregates import SeenByUnitOfWork
from salesplane_opportunities.domain.listing import OpportunityQuery
from salesplane_opportunities.domain.opportunity import Opportunity, OpportunityStatus
from salesplane_opportunities.domain.stage_history import StageVisit
from salesplane_platform.db import as_utc, upsert_statement
from salesplane_platform.errors import Conflict
from salesplane_platform.identity import Identity
from salesplane_platform.org_replica import Reach

_c = tables.opportunities.c
_ACTOR_LENGTH = 255
# Built once: the hot write path then skips building and hashing a statement per call.
_INSERT = insert(tables.opportunities)
_SAVE = update(tables.opportunities).where(
    _c.id == bindparam("match_id"), _c.version == bindparam("match_version")
)
_GET = select(tables.opportunities).where(_c.id == bindparam("match_id"))
_GET_FOR_CHANGE = (
    select(tables.opportunities, CATALOG_REVISION.scalar_subquery().label("catalog_revision"))
    .where(_c.id == bindparam("match_id"))
    .with_for_update(of=tables.opportunities)
)
_history = tables.stage_history
_LEAVE_STAGE = (
    update(_history)
    .where(_history.c.opportunity_id == bindparam("match_id"), _history.c.left_at.is_(None))
    .values(left_at=bindparam("at"))
)
_ENTER_STAGE = insert(_history)


class SqlOpportunityRepository:
    """Notes every deal it hands out or is given in `seen`, for the unit of work to collect their
    events on commit."""

    def __init__(
        self, session: Session, reach: Reach, stages: SqlSalesStageStore, seen: SeenByUnitOfWork
    ) -> None:
        self._session = session
        self._reach = reach
        self._stages = stages
        self._seen = seen

    def add(self, opportunity: Opportunity) -> None:
        self._session.execute(_INSERT, row_values(opportunity))
        self._seen.add(opportunity)

    def get(self, opportunity_id: str, *, for_update: bool = False) -> Opportunity | None:
        if not for_update:
            row = self._session.execute(_GET, {"match_id": opportunity_id}).one_or_none()
            return None if row is None else self._handed_out(from_row(row))
        # A deal about to change needs the stage catalog too: its revision comes along in the same
        # round trip (the write path's cost is mostly round trips).
        row = self._session.execute(_GET_FOR_CHANGE, {"match_id": opportunity_id}).one_or_none()
        if row is None:
            return None
        self._stages.observe_revision(row.catalog_revision)
        return self._handed_out(from_row(row))

    def save(self, opportunity: Opportunity, *, read_version: int) -> None:
        values = row_values(opportunity)
        del values["id"], values["created_at"]
        # The version condition catches a concurrent writer even where rows are not locked on read.
        # An UPDATE executes as a CursorResult (it has the row count); Session.execute is typed Result.
        result = cast(
            CursorResult[Any],
            self._session.execute(
                _SAVE, {**values, "match_id": opportunity.id, "match_version": read_version}
            ),
        )
        if result.rowcount != 1:
            raise Conflict(f"opportunity {opportunity.id} was changed concurrently; read it again")
        self._seen.add(opportunity)

    def remove(self, opportunity: Opportunity, *, read_version: int) -> None:
        # A DELETE executes as a CursorResult (it has the row count); Session.execute is typed Result.
        result = cast(
            CursorResult[Any],
            self._session.execute(
                delete(tables.opportunities).where(_c.id == opportunity.id, _c.version == read_version)
            ),
        )
        if result.rowcount != 1:
            raise Conflict(f"opportunity {opportunity.id} was changed concurrently; read it again")
        self._session.execute(
            delete(tables.stage_history).where(tables.stage_history.c.opportunity_id == opportunity.id)
        )
        self._seen.add(opportunity)

    def list(self, query: OpportunityQuery, caller: Identity) -> list[Opportunity]:
        statement = list_statement(query, self._reach.visible_users(caller))
        return self._all_handed_out([from_row(row) for row in self._session.execute(statement)])

    def count_in_stages(self, stage_names: Sequence[str]) -> dict[str, int]:
        rows = self._session.execute(
            select(_c.sales_stage, func.count())
            .where(_c.sales_stage.in_(list(stage_names)))
            .group_by(_c.sales_stage)
        )
        return {name: count for name, count in rows}

    # builtins.list: in the class body after list() above, `list` is that method.
    def open_following_stages(self, stage_names: Sequence[str]) -> builtins.list[Opportunity]:
        rows = self._session.execute(
            select(tables.opportunities)
            .where(
                _c.sales_stage.in_(list(stage_names)),
                _c.status == OpportunityStatus.OPEN.value,
                _c.probability_manual.is_(False),
            )
            .order_by(_c.id)
        )
        return self._all_handed_out([from_row(row) for row in rows])

    def in_currency_closing(self, currency: str, start: date, end: date | None) -> builtins.list[Opportunity]:
        statement = select(tables.opportunities).where(
            _c.currency == currency, _c.expected_close_date >= start
        )
        if end is not None:
            statement = statement.where(_c.expected_close_date < end)
        return self._all_handed_out(
            [from_row(row) for row in self._session.execute(statement.order_by(_c.id))]
        )

    def open_owned_by(self, owner_user_id: str, *, limit: int) -> builtins.list[Opportunity]:
        rows = self._session.execute(
            select(tables.opportunities)
            .where(_c.owner_user_id == owner_user_id, _c.status == OpportunityStatus.OPEN.value)
            .order_by(_c.id)
            .limit(limit)
            .with_for_update(of=tables.opportunities)
        )
        return self._all_handed_out([from_row(row) for row in rows])

    def _handed_out(self, opportunity: Opportunity) -> Opportunity:
        self._seen.add(opportunity)
        return opportunity

    def _all_handed_out(self, opportunities: builtins.list[Opportunity]) -> builtins.list[Opportunity]:
        self._seen.add_all(opportunities)
        return opportunities


class SqlStageHistory:
    def __init__(self, session: Session) -> None:
        self._session = session

    def visits(self, opportunity_id: str) -> list[StageVisit]:
        history = tables.stage_history
        rows = self._session.execute(
            select(history)
            .where(history.c.opportunity_id == opportunity_id)
            .order_by(history.c.entered_at, history.c.id)
        )
        return [
            StageVisit(
                sales_stage=row.sales_stage,
                entered_at=as_utc(row.entered_at),
                left_at=as_utc(row.left_at) if row.left_at is not None else None,
                actor=row.actor,
            )
            for row in rows
        ]

    def enter(self, opportunity_id: str, stage: str, at: datetime, actor: str, *, first: bool) -> None:
        """Leave the current stage (none when `first`, for a new deal) and enter `stage`."""
        if not first:
            self._session.execute(_LEAVE_STAGE, {"match_id": opportunity_id, "at": at})
        self._session.execute(
            _ENTER_STAGE,
            {
                "opportunity_id": opportunity_id,
                "sales_stage": stage,
                "entered_at": at,
                "actor": actor[:_ACTOR_LENGTH],
            },
        )


class SqlCreateRequestLog:
    def __init__(self, session: Session) -> None:
        self._session = session

    def find(self, caller: str, request_id: str) -> str | None:
        requests = tables.create_requests
        return self._session.execute(
            select(requests.c.opportunity_id).where(
                requests.c.caller == caller, requests.c.request_id == request_id
            )
        ).scalar_one_or_none()

    def claim(self, caller: str, request_id: str, opportunity_id: str, at: datetime) -> bool:
        # On PostgreSQL a concurrent insert of the same key makes this wait for that transaction;
        # if it commits, nothing is inserted. RETURNING yields a row only for an inserted key, so no
        # read-back is needed (psycopg reports no row count for INSERT ... ON CONFLICT DO NOTHING).
        requests = tables.create_requests
        statement = upsert_statement(self._session, requests, ["caller", "request_id"], [])
        inserted = self._session.execute(
            statement.values(
                caller=caller, request_id=request_id, opportunity_id=opportunity_id, created_at=at
            ).returning(requests.c.opportunity_id)
        ).first()
        return inserted is not None
