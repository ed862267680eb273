"""Worksheet drafts and commits in SQL (table forecast_snapshots; rows and changes as JSON).

A draft is sequence 0 and is replaced in place by the next save; commits are 1, 2, ... per user,
period and kind. The unique index on (user, period, kind, sequence) is what serialises commits: two
concurrent commits that read the same previous sequence cannot both insert, and the loser gets a
Conflict (ABORTED: read the worksheet again and retry) instead of a duplicate or a lost commit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, delete, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from salesplane_forecasting.adapters.tables import forecast_snapshots
from salesplane_forecasting.domain.forecast_settings import CommitStage
from salesplane_forecasting.domain.worksheets import (
    DRAFT_SEQUENCE,
    Figures,
    Snapshot,
    SnapshotKind,
    SnapshotRow,
)
from salesplane_platform.db import as_utc, upsert_statement
from salesplane_platform.errors import Conflict

_KEY = ["user_id", "period_id", "kind", "sequence"]
_CHUNK = 500

_s = forecast_snapshots.c


def save_draft(session: Session, draft: Snapshot) -> None:
    """Store the draft in place of the previous one (an upsert on the sequence key, so two saves
    racing each other both succeed and the later one stays)."""
    if draft.committed or draft.sequence != DRAFT_SEQUENCE:
        raise ValueError("a draft is uncommitted and has sequence 0")
    values = _values(draft)
    statement = upsert_statement(
        session, forecast_snapshots, _KEY, [name for name in values if name not in _KEY]
    )
    session.execute(statement, [values])


def insert_commit(session: Session, commit: Snapshot) -> None:
    """Store a new commit; Conflict when another commit took its sequence first."""
    if not commit.committed or commit.sequence <= DRAFT_SEQUENCE:
        raise ValueError("a commit is committed and has a sequence of 1 or more")
    # A savepoint keeps the transaction usable (and PostgreSQL's error contained) when it loses.
    try:
        with session.begin_nested():
            session.execute(insert(forecast_snapshots).values(**_values(commit)))
    except IntegrityError:
        raise Conflict(
            f"the {commit.kind.value} forecast of {commit.user_id} for {commit.period_id} was committed "
            "concurrently; read the worksheet again and retry"
        ) from None


def delete_draft(session: Session, user_id: str, period_id: str, kind: SnapshotKind) -> None:
    session.execute(
        delete(forecast_snapshots).where(
            _s.user_id == user_id,
            _s.period_id == period_id,
            _s.kind == kind.value,
            _s.sequence == DRAFT_SEQUENCE,
        )
    )


def draft(session: Session, user_id: str, period_id: str, kind: SnapshotKind) -> Snapshot | None:
    row = session.execute(
        select(forecast_snapshots).where(
            _s.user_id == user_id,
            _s.period_id == period_id,
            _s.kind == kind.value,
            _s.sequence == DRAFT_SEQUENCE,
        )
    ).first()
    return None if row is None else _snapshot(row)


def latest_commit(session: Session, user_id: str, period_id: str, kind: SnapshotKind) -> Snapshot | None:
    """The commit with the highest sequence (one index range read)."""
    row = session.execute(
        select(forecast_snapshots)
        .where(
            _s.user_id == user_id,
            _s.period_id == period_id,
            _s.kind == kind.value,
            _s.sequence > DRAFT_SEQUENCE,
        )
        .order_by(_s.sequence.desc())
        .limit(1)
    ).first()
    return None if row is None else _snapshot(row)


def latest_commits(
    session: Session,
    wanted: Iterable[tuple[str, SnapshotKind]],
    period_id: str,
    *,
    made_before: datetime | None = None,
) -> dict[tuple[str, SnapshotKind], Snapshot]:
    """The latest commit of each (user, kind) asked for that has one: a manager worksheet's rows
    in one query rather than one per report. With made_before, the latest made before that
    instant (a past period's forecast as it stood when the period ended, not a later correction)."""
    found = latest_commits_of_periods(session, wanted, {period_id: made_before})
    return {(user_id, kind): snapshot for (user_id, kind, _), snapshot in found.items()}


def latest_commits_of_periods(
    session: Session,
    wanted: Iterable[tuple[str, SnapshotKind]],
    periods: Mapping[str, datetime | None],
) -> dict[tuple[str, SnapshotKind, str], Snapshot]:
    """latest_commits for several periods at once, each with its own made_before (None: any time),
    keyed by (user, kind, period): an inspection's current and trailing periods in one query."""
    keys = sorted({(user_id, kind.value) for user_id, kind in wanted})
    if not keys or not periods:
        return {}
    in_periods = or_(
        *(
            and_(_s.period_id == period_id, _s.created_at < before)
            if before is not None
            else _s.period_id == period_id
            for period_id, before in periods.items()
        )
    )
    found: dict[tuple[str, SnapshotKind, str], Snapshot] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        newest = (
            select(_s.user_id, _s.kind, _s.period_id, func.max(_s.sequence).label("sequence"))
            .where(
                in_periods, _s.user_id.in_({user_id for user_id, _ in chunk}), _s.sequence > DRAFT_SEQUENCE
            )
            .group_by(_s.user_id, _s.kind, _s.period_id)
            .subquery()
        )
        rows = session.execute(
            select(forecast_snapshots).join(
                newest,
                (newest.c.user_id == _s.user_id)
                & (newest.c.kind == _s.kind)
                & (newest.c.period_id == _s.period_id)
                & (newest.c.sequence == _s.sequence),
            )
        )
        wanted_here = set(chunk)
        for row in rows:
            if (row.user_id, row.kind) in wanted_here:
                snapshot = _snapshot(row)
                found[(snapshot.user_id, snapshot.kind, snapshot.period_id)] = snapshot
    return found


def commits(session: Session, user_id: str, period_id: str, kind: SnapshotKind | None) -> list[Snapshot]:
    """Every commit of the user and period (of one kind, or both), newest first."""
    statement = select(forecast_snapshots).where(
        _s.user_id == user_id, _s.period_id == period_id, _s.sequence > DRAFT_SEQUENCE
    )
    if kind is not None:
        statement = statement.where(_s.kind == kind.value)
    # Within a kind the sequence decides; across kinds the time does.
    statement = statement.order_by(_s.created_at.desc(), _s.sequence.desc(), _s.kind)
    return [_snapshot(row) for row in session.execute(statement)]


def _values(snapshot: Snapshot) -> dict[str, Any]:
    figures = snapshot.figures
    return {
        "snapshot_id": snapshot.snapshot_id,
        "user_id": snapshot.user_id,
        "period_id": snapshot.period_id,
        "kind": snapshot.kind.value,
        "sequence": snapshot.sequence,
        "committed": snapshot.committed,
        "likely_minor": figures.likely_minor,
        "best_minor": figures.best_minor,
        "worst_minor": figures.worst_minor,
        "closed_won_minor": figures.closed_won_minor,
        "quota_minor": snapshot.quota_minor,
        "currency": snapshot.currency,
        "note": snapshot.note,
        "author": snapshot.author,
        "created_at": snapshot.created_at,
        "rows": json.dumps([_row_to_json(row) for row in figures.rows]),
        "changes": json.dumps(list(snapshot.changes)),
    }


def _row_to_json(row: SnapshotRow) -> dict[str, Any]:
    document: dict[str, Any] = {
        "key": row.key,
        "label": row.label,
        "likely": row.likely_minor,
        "best": row.best_minor,
        "worst": row.worst_minor,
    }
    # Only what a row has: deal rows a stage, manager rows the adjusted flag.
    if row.commit_stage is not None:
        document["commit_stage"] = row.commit_stage.value
    if row.adjusted:
        document["adjusted"] = True
    return document


def _row_from_json(document: dict[str, Any]) -> SnapshotRow:
    stage = document.get("commit_stage")
    return SnapshotRow(
        key=document["key"],
        label=document["label"],
        likely_minor=document["likely"],
        best_minor=document["best"],
        worst_minor=document["worst"],
        commit_stage=CommitStage(stage) if stage else None,
        adjusted=bool(document.get("adjusted", False)),
    )


def _snapshot(row: Row) -> Snapshot:  # type: ignore[type-arg]
    return Snapshot(
        snapshot_id=row.snapshot_id,
        user_id=row.user_id,
        period_id=row.period_id,
        kind=SnapshotKind(row.kind),
        sequence=row.sequence,
        committed=row.committed,
        figures=Figures(
            likely_minor=row.likely_minor,
            best_minor=row.best_minor,
            worst_minor=row.worst_minor,
            closed_won_minor=row.closed_won_minor,
            rows=tuple(_row_from_json(document) for document in json.loads(row.rows)),
        ),
        quota_minor=row.quota_minor,
        currency=row.currency,
        note=row.note,
        author=row.author,
        created_at=as_utc(row.created_at),
        changes=tuple(json.loads(row.changes)),
    )
