"""Adjustments made by hand to the forecast, in SQL: managers' figures for the rows of their
worksheets (manager_adjustments) and reps' commit stages for their deals (commit_stage_overrides).

A manager's adjustment belongs to the manager, period and row's user, not to any commit, so it stays
in force when the report commits again (the worksheet flags that instead). A rep's commit stage
belongs to the deal and is read by every later placement of it (rollup_store.overrides_of)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Row, delete, select
from sqlalchemy.orm import Session

from salesplane_forecasting.adapters.tables import commit_stage_overrides, manager_adjustments
from salesplane_forecasting.domain.forecast_settings import CommitStage
from salesplane_forecasting.domain.worksheets import Adjustment
from salesplane_platform.db import as_utc, upsert_statement

_KEY = ["manager_user_id", "period_id", "user_id"]
_a = manager_adjustments.c


def of_manager(session: Session, manager_user_id: str, period_id: str) -> dict[str, Adjustment]:
    """Every adjusted row of a manager's worksheet, by the row's user."""
    rows = session.execute(
        select(manager_adjustments).where(_a.manager_user_id == manager_user_id, _a.period_id == period_id)
    )
    return {row.user_id: _adjustment(row) for row in rows}


def save(
    session: Session,
    *,
    manager_user_id: str,
    period_id: str,
    user_id: str,
    adjustment: Adjustment,
    adjusted_by: str,
) -> None:
    """Replace the row's adjustment; an empty one (nothing adjusted) removes it."""
    key = {"manager_user_id": manager_user_id, "period_id": period_id, "user_id": user_id}
    if adjustment.is_empty:
        session.execute(
            delete(manager_adjustments).where(
                _a.manager_user_id == manager_user_id, _a.period_id == period_id, _a.user_id == user_id
            )
        )
        return
    values = {
        "likely_minor": adjustment.likely_minor,
        "best_minor": adjustment.best_minor,
        "worst_minor": adjustment.worst_minor,
        "adjusted_by": adjusted_by,
        "adjusted_at": adjustment.adjusted_at,
    }
    statement = upsert_statement(session, manager_adjustments, _KEY, list(values))
    session.execute(statement, [{**key, **values}])


def save_commit_stage(
    session: Session, opportunity_id: str, stage: CommitStage | None, *, set_by: str, set_at: datetime
) -> None:
    """Set a deal's commit stage by hand; None removes the choice (the ranges decide again)."""
    if stage is None:
        session.execute(
            delete(commit_stage_overrides).where(commit_stage_overrides.c.opportunity_id == opportunity_id)
        )
        return
    statement = upsert_statement(
        session, commit_stage_overrides, ["opportunity_id"], ["commit_stage", "set_by", "set_at"]
    )
    session.execute(
        statement,
        [{"opportunity_id": opportunity_id, "commit_stage": stage.value, "set_by": set_by, "set_at": set_at}],
    )


def _adjustment(row: Row) -> Adjustment:  # type: ignore[type-arg]
    return Adjustment(
        likely_minor=row.likely_minor,
        best_minor=row.best_minor,
        worst_minor=row.worst_minor,
        adjusted_at=as_utc(row.adjusted_at),
    )
