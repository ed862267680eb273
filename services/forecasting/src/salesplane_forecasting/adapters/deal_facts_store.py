"""The pipeline inspection's deal facts, won deals' stage stays and the sales-stage order in SQL."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.orm import Session

from salesplane_forecasting.adapters.deal_facts_mapping import facts_from_row, facts_to_json
from salesplane_forecasting.adapters.tables import deal_facts, sales_stage_orders, won_stage_stays
from salesplane_forecasting.domain.contributions import DealStatus
from salesplane_forecasting.domain.inspection.deal_history import DealFacts, StageStay
from salesplane_platform.bulk_writes import REPLACE, bulk_lookup, bulk_upsert

_COLUMNS = [c.name for c in deal_facts.c]
_UPDATED = [c for c in _COLUMNS if c != "opportunity_id"]


def load(session: Session, opportunity_ids: Iterable[str], *, for_update: bool) -> dict[str, DealFacts]:
    rows = bulk_lookup(
        session,
        deal_facts,
        keys=["opportunity_id"],
        values=[(i,) for i in sorted(set(opportunity_ids))],
        columns=_COLUMNS,
        for_update=for_update,
    )
    return {row.opportunity_id: _facts(row) for row in rows}


def save(session: Session, facts: Iterable[tuple[str, DealFacts]]) -> None:
    """(owner, facts) pairs; one per opportunity."""
    bulk_upsert(
        session,
        deal_facts,
        _COLUMNS,
        [
            (
                f.opportunity_id,
                f.version,
                owner,
                f.close_date,
                f.status.value,
                f.amount_minor,
                facts_to_json(f),
            )
            for owner, f in facts
        ],
        keys=["opportunity_id"],
        update=dict.fromkeys(_UPDATED, REPLACE),
    )


def facts_of_owners(
    session: Session, owners: Sequence[str] | Select[tuple[str]], *, closing_from: date
) -> list[tuple[str, DealFacts]]:
    """(owner, facts) of the owners' open deals closing on or after closing_from (what a period's
    inspection looks at: the deals in it and the ones pushed out of it), by owner and deal."""
    t = deal_facts.c
    rows = session.execute(
        select(deal_facts)
        .where(t.owner_user_id.in_(owners), t.close_date >= closing_from, t.status == DealStatus.OPEN.value)
        .order_by(t.owner_user_id, t.opportunity_id)
    )
    return [(row.owner_user_id, _facts(row)) for row in rows]


def replace_won_stays(session: Session, stays: Mapping[str, Sequence[StageStay]]) -> None:
    """Each deal's won stays replaced by these (an empty sequence removes them)."""
    if not stays:
        return
    session.execute(delete(won_stage_stays).where(won_stage_stays.c.opportunity_id.in_(sorted(stays))))
    rows = [
        {"opportunity_id": i, "position": n, "sales_stage": s.sales_stage, "seconds": s.seconds}
        for i in sorted(stays)
        for n, s in enumerate(stays[i])
    ]
    if rows:
        session.execute(insert(won_stage_stays), rows)


def won_durations(session: Session) -> dict[str, list[int]]:
    """{stage: seconds of every won deal's stay there}: stage_percentiles' input."""
    w = won_stage_stays.c
    found: dict[str, list[int]] = {}
    for stage, seconds in session.execute(select(w.sales_stage, w.seconds).order_by(w.sales_stage)):
        found.setdefault(stage, []).append(int(seconds))
    return found


def stage_percentiles(session: Session, *, percentile: int, min_samples: int) -> dict[str, int]:
    """{stage: seconds}: the nearest-rank percentile of the won deals' stays in each stage with at
    least min_samples of them, computed in the database (one row per stage comes back rather than
    every stay). Nearest rank: the ceil(p x n / 100)-th smallest, as stage_percentiles.nearest_rank."""
    if not 1 <= percentile <= 100:
        raise ValueError(f"percentile must be 1..100, got {percentile}")
    w = won_stage_stays.c
    ranked = select(
        w.sales_stage,
        w.seconds,
        func.row_number()
        .over(partition_by=w.sales_stage, order_by=(w.seconds, w.opportunity_id))
        .label("rank"),
        func.count().over(partition_by=w.sales_stage).label("samples"),
    ).subquery()
    wanted_rank = (ranked.c.samples * percentile + 99) // 100  # ceil(n x p / 100) in integers
    rows = session.execute(
        select(ranked.c.sales_stage, ranked.c.seconds).where(
            ranked.c.rank == wanted_rank, ranked.c.samples >= max(1, min_samples)
        )
    )
    return {stage: int(seconds) for stage, seconds in rows}


def stage_orders(session: Session) -> tuple[int, dict[str, int]]:
    """(catalogue revision, {stage: order}); (0, {}) before any catalogue was consumed."""
    s = sales_stage_orders.c
    rows = session.execute(select(s.sales_stage, s.stage_order, s.revision)).all()
    revision = max((row.revision for row in rows), default=0)
    return revision, {row.sales_stage: row.stage_order for row in rows}


def replace_stage_orders(session: Session, revision: int, orders: Mapping[str, int]) -> None:
    session.execute(delete(sales_stage_orders))
    if orders:
        session.execute(
            insert(sales_stage_orders),
            [
                {"sales_stage": name, "stage_order": order, "revision": revision}
                for name, order in orders.items()
            ],
        )


def _facts(row: Any) -> DealFacts:
    return facts_from_row(
        opportunity_id=row.opportunity_id,
        version=row.version,
        close_date=row.close_date,
        status=row.status,
        amount_minor=row.amount_minor,
        facts=row.facts,
    )
