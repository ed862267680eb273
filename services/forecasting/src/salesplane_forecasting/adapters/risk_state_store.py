"""Risk states and their alert records in SQL. A state's row is written only at a change, with the
alert records of the changes it raised, in the caller's transaction (whose commit also writes the
outbox events), so a record exists exactly when its event does."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, Select, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from salesplane_forecasting.adapters.tables import risk_alerts, risk_states
from salesplane_forecasting.domain.inspection.rep_flags import RepFlagKind
from salesplane_forecasting.domain.inspection.risk_state import (
    FlagState,
    RiskAlert,
    RiskState,
    Subject,
    SubjectKind,
)
from salesplane_platform.db import as_utc
from salesplane_platform.errors import Conflict


def load(session: Session, subject: Subject) -> RiskState:
    """The stored state, or the empty one at version 0."""
    row = session.execute(
        select(risk_states).where(
            risk_states.c.subject_kind == subject.kind.value,
            risk_states.c.user_id == subject.user_id,
            risk_states.c.period_id == subject.period_id,
        )
    ).one_or_none()
    if row is None:
        return RiskState(subject)
    return RiskState(subject, _flags_from(row.flags), row.version, as_utc(row.updated_at))


def save(session: Session, state: RiskState) -> None:
    """Store state at state.version with a record of each pending change; Conflict when the stored
    version is not the one before (another evaluator recorded this change first)."""
    if state.updated_at is None:
        raise ValueError("a saved risk state carries the time of its change")
    subject = state.subject
    key = {"subject_kind": subject.kind.value, "user_id": subject.user_id, "period_id": subject.period_id}
    values = {"flags": _flags_to(state.flags), "version": state.version, "updated_at": state.updated_at}
    concurrent = Conflict(f"the risk state of {subject.kind.value} {subject.user_id} changed concurrently")
    first_version = state.version - len(state.events)
    if first_version == 0:
        # A savepoint keeps the transaction usable when another evaluator inserted the row first.
        try:
            with session.begin_nested():
                session.execute(insert(risk_states).values(**key, **values))
        except IntegrityError:
            raise concurrent from None
    else:
        result = cast(
            CursorResult[Any],
            session.execute(
                update(risk_states)
                .where(
                    risk_states.c.subject_kind == subject.kind.value,
                    risk_states.c.user_id == subject.user_id,
                    risk_states.c.period_id == subject.period_id,
                    risk_states.c.version == first_version,
                )
                .values(**values)
            ),
        )
        if result.rowcount != 1:
            raise concurrent
    if state.events:
        session.execute(insert(risk_alerts), [_alert_row(event.alert) for event in state.events])


def alerts(
    session: Session,
    owners: Select[tuple[str]],
    period_id: str | None,
    *,
    before_id: int | None,
    limit: int,
) -> list[tuple[int, RiskAlert]]:
    """(id, alert) of the owners' alerts, newest first, from before before_id."""
    statement = select(risk_alerts).where(risk_alerts.c.user_id.in_(owners))
    if period_id is not None:
        statement = statement.where(risk_alerts.c.period_id == period_id)
    if before_id is not None:
        statement = statement.where(risk_alerts.c.id < before_id)
    rows = session.execute(statement.order_by(risk_alerts.c.id.desc()).limit(limit)).all()
    return [
        (
            row.id,
            RiskAlert(
                subject=Subject(SubjectKind(row.subject_kind), row.user_id, row.period_id),
                sequence=row.sequence,
                entered=_flags_from(row.entered),
                left=_flags_from(row.left),
                current=_flags_from(row.current),
                occurred_at=as_utc(row.occurred_at),
            ),
        )
        for row in rows
    ]


def _alert_row(alert: RiskAlert) -> dict[str, object]:
    return {
        "subject_kind": alert.subject.kind.value,
        "user_id": alert.subject.user_id,
        "period_id": alert.subject.period_id,
        "sequence": alert.sequence,
        "entered": _flags_to(alert.entered),
        "left": _flags_to(alert.left),
        "current": _flags_to(alert.current),
        "occurred_at": alert.occurred_at,
    }


def _flags_to(flags: Sequence[FlagState]) -> str:
    return json.dumps(
        [
            {"kind": f.kind.value, "reason": f.reason, "money_at_risk_minor": f.money_at_risk_minor}
            for f in flags
        ]
    )


def _flags_from(text: str) -> tuple[FlagState, ...]:
    # A kind since removed from RepFlagKind is dropped: it can no longer be entered or left.
    known = {kind.value for kind in RepFlagKind}
    return tuple(
        FlagState(RepFlagKind(f["kind"]), f["reason"], int(f["money_at_risk_minor"]))
        for f in json.loads(text)
        if f["kind"] in known
    )
