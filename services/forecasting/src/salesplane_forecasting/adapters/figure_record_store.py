"""The inspection's daily figure records in SQL: written insert-if-absent (the first record of a
day stands, so two evaluators racing on one day write one row), read as of a day, pruned by age."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.orm import Session

from salesplane_forecasting.adapters.tables import inspection_figures
from salesplane_forecasting.domain.inspection.recorded_figures import FiguresKey, RecordedFigures
from salesplane_forecasting.domain.inspection.rep_figures import RepFigures
from salesplane_platform.db import as_utc, upsert_statement

_KEY = ["period_id", "user_id", "team", "day"]


def record(session: Session, records: Iterable[RecordedFigures]) -> None:
    rows = [_row(r) for r in records]
    if rows:
        session.execute(upsert_statement(session, inspection_figures, _KEY, ()), rows)


def as_of(session: Session, keys: Sequence[FiguresKey], day: date) -> dict[FiguresKey, RecordedFigures]:
    """Each key's newest record made on `day` or before (keys without one are left out)."""
    if not keys:
        return {}
    t = inspection_figures.c
    wanted = sorted({(k.period_id, k.user_id, k.team) for k in keys})
    newest = (
        select(t.period_id, t.user_id, t.team, func.max(t.day).label("day"))
        .where(tuple_(t.period_id, t.user_id, t.team).in_(wanted), t.day <= day)
        .group_by(t.period_id, t.user_id, t.team)
        .subquery()
    )
    rows = session.execute(
        select(inspection_figures).join(
            newest,
            (t.period_id == newest.c.period_id)
            & (t.user_id == newest.c.user_id)
            & (t.team == newest.c.team)
            & (t.day == newest.c.day),
        )
    )
    found = [_record(row) for row in rows]
    return {r.key: r for r in found}


def prune(session: Session, before: date) -> int:
    result = session.execute(delete(inspection_figures).where(inspection_figures.c.day < before))
    return int(getattr(result, "rowcount", 0) or 0)


def _row(recorded: RecordedFigures) -> dict[str, object]:
    figures = recorded.figures
    return {
        "period_id": recorded.key.period_id,
        "user_id": recorded.key.user_id,
        "team": recorded.key.team,
        "day": recorded.day,
        "recorded_at": recorded.recorded_at,
        "currency": figures.currency,
        "quota_minor": figures.quota_minor,
        "closed_won_minor": figures.closed_won_minor,
        "committed_minor": figures.committed_minor,
        "live_forecast_minor": figures.live_forecast_minor,
        "pipeline_minor": figures.pipeline_minor,
        "expected_minor": figures.expected_minor,
        "p_quota": figures.p_quota,
    }


def _record(row: object) -> RecordedFigures:
    r = row._mapping  # type: ignore[attr-defined]
    figures = RepFigures(
        user_id=r["user_id"],
        currency=r["currency"],
        quota_minor=r["quota_minor"],
        closed_won_minor=r["closed_won_minor"],
        committed_minor=r["committed_minor"],
        live_forecast_minor=r["live_forecast_minor"],
        pipeline_minor=r["pipeline_minor"],
        expected_minor=r["expected_minor"],
        p_quota=r["p_quota"],
    )
    return RecordedFigures(
        FiguresKey(r["user_id"], bool(r["team"]), r["period_id"]), as_utc(r["recorded_at"]), figures
    )
