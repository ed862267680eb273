"""Rollup rows and tracked contributions in SQL: incremental upserts, reads, and a full rebuild."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from salesplane_forecasting.adapters.tables import rollups, tracked_opportunities
from salesplane_forecasting.domain.contributions import Contribution, RollupDelta, RollupKey
from salesplane_platform.db import as_utc, upsert_statement


@dataclass(frozen=True)
class RollupRow:
    currency: str
    opportunity_count: int
    amount_minor: int
    weighted_percent_minor: int
    updated_at: datetime


def load_contributions(session: Session, opportunity_ids: Iterable[str]) -> dict[str, Contribution | None]:
    ids = list(opportunity_ids)
    found: dict[str, Contribution | None] = {}
    c = tracked_opportunities.c
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(tracked_opportunities).where(c.opportunity_id.in_(ids[start : start + 500]))
        )
        for row in rows:
            found[row.opportunity_id] = (
                None
                if row.owner_user_id is None
                else Contribution(
                    row.owner_user_id, row.period_id, row.currency, row.amount_minor, row.probability
                )
            )
    return found


def save_contributions(session: Session, current: Mapping[str, tuple[Contribution | None, int]]) -> None:
    if not current:
        return
    rows = [
        {
            "opportunity_id": opportunity_id,
            "owner_user_id": contribution.owner_user_id if contribution else None,
            "period_id": contribution.period_id if contribution else None,
            "currency": contribution.currency if contribution else None,
            "amount_minor": contribution.amount_minor if contribution else 0,
            "probability": contribution.probability if contribution else 0,
            "version": version,
        }
        for opportunity_id, (contribution, version) in current.items()
    ]
    columns = ["owner_user_id", "period_id", "currency", "amount_minor", "probability", "version"]
    session.execute(upsert_statement(session, tracked_opportunities, ["opportunity_id"], columns), rows)


def apply_deltas(session: Session, deltas: Mapping[RollupKey, RollupDelta]) -> None:
    """Add each delta to its rollup row atomically (INSERT ... ON CONFLICT DO UPDATE SET x = x + d).

    Keys are applied in sorted order so concurrent consumers lock rows in the same order."""
    if not deltas:
        return
    now = datetime.now(UTC)
    dialect = session.get_bind().dialect.name
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(rollups)
    statement = statement.on_conflict_do_update(
        index_elements=[rollups.c.user_id, rollups.c.period_id, rollups.c.currency],
        set_={
            "opportunity_count": rollups.c.opportunity_count + statement.excluded.opportunity_count,
            "amount_minor": rollups.c.amount_minor + statement.excluded.amount_minor,
            "weighted_percent_minor": rollups.c.weighted_percent_minor
            + statement.excluded.weighted_percent_minor,
            "updated_at": statement.excluded.updated_at,
        },
    )
    session.execute(
        statement,
        [
            {
                "user_id": user_id,
                "period_id": period_id,
                "currency": currency,
                "opportunity_count": delta.opportunity_count,
                "amount_minor": delta.amount_minor,
                "weighted_percent_minor": delta.weighted_percent_minor,
                "updated_at": now,
            }
            for (user_id, period_id, currency), delta in sorted(deltas.items())
        ],
    )


def read_rollup(session: Session, user_id: str, period_id: str) -> list[RollupRow]:
    c = rollups.c
    rows = session.execute(
        select(rollups)
        .where(c.user_id == user_id, c.period_id == period_id, c.opportunity_count != 0)
        .order_by(c.currency)
    )
    return [
        RollupRow(
            r.currency,
            r.opportunity_count,
            r.amount_minor,
            r.weighted_percent_minor,
            as_utc(r.updated_at),
        )
        for r in rows
    ]


def rebuild_rollups(session: Session) -> int:
    """Recompute every rollup from the tracked contributions (admin command and test oracle)."""
    t = tracked_opportunities.c
    now = datetime.now(UTC)
    session.execute(delete(rollups))
    recomputed = (
        select(
            t.owner_user_id,
            t.period_id,
            t.currency,
            func.count(),
            func.sum(t.amount_minor),
            func.sum(t.amount_minor * t.probability),
            literal(now, rollups.c.updated_at.type),
        )
        .where(t.owner_user_id.is_not(None))
        .group_by(t.owner_user_id, t.period_id, t.currency)
    )
    result = session.execute(
        insert(rollups).from_select(
            [
                "user_id",
                "period_id",
                "currency",
                "opportunity_count",
                "amount_minor",
                "weighted_percent_minor",
                "updated_at",
            ],
            recomputed,
        )
    )
    return result.rowcount or 0
