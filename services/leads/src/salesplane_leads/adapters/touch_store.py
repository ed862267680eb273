"""Lead touches in SQL: one row per touch, never updated; the unique (lead, touch key) makes a
concurrent second recording of the same touch fail instead of adding it twice."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Row, insert, select
from sqlalchemy.orm import Session

from salesplane_leads.adapters import tables
from salesplane_leads.adapters.marketing_store import unique_insert
from salesplane_leads.adapters.seen_aggregates import SeenByUnitOfWork
from salesplane_leads.domain.touches import Touch, TouchKind
from salesplane_platform.db import as_utc

_touches = tables.lead_touches
# Bound on the size of one IN (...) list; a request has at most 100 touches anyway.
_IN_LIST_CHUNK = 500


class SqlTouchRepository:
    """Notes every touch it is given in `seen`, for the unit of work to collect their events on
    commit (touches read back have none: they never change)."""

    def __init__(self, session: Session, seen: SeenByUnitOfWork) -> None:
        self._session = session
        self._seen = seen

    def add(self, touch: Touch) -> None:
        with unique_insert(self._session, f"touch key {touch.touch_key!r} of lead {touch.lead_id}"):
            self._session.execute(
                insert(_touches).values(
                    id=touch.id,
                    lead_id=touch.lead_id,
                    campaign_id=touch.campaign_id,
                    kind=touch.kind.value,
                    touch_time=touch.touch_time,
                    touch_key=touch.touch_key,
                    note=touch.note,
                    recorded_at=touch.recorded_at,
                )
            )
        self._seen.add(touch)

    def find_by_keys(self, lead_id: str, touch_keys: Collection[str]) -> dict[str, Touch]:
        wanted = sorted(set(touch_keys))
        found: dict[str, Touch] = {}
        for start in range(0, len(wanted), _IN_LIST_CHUNK):
            rows = self._session.execute(
                select(_touches).where(
                    _touches.c.lead_id == lead_id,
                    _touches.c.touch_key.in_(wanted[start : start + _IN_LIST_CHUNK]),
                )
            )
            found.update((row.touch_key, _touch(row)) for row in rows)
        return found

    def of_lead(self, lead_id: str) -> list[Touch]:
        rows = self._session.execute(
            select(_touches)
            .where(_touches.c.lead_id == lead_id)
            .order_by(_touches.c.touch_time, _touches.c.recorded_at, _touches.c.id)
        )
        return [_touch(row) for row in rows]


def _touch(row: Row[*tuple[Any, ...]]) -> Touch:
    return Touch(
        id=row.id,
        lead_id=row.lead_id,
        campaign_id=row.campaign_id,
        kind=TouchKind(row.kind),
        touch_time=as_utc(row.touch_time),
        touch_key=row.touch_key,
        note=row.note,
        recorded_at=as_utc(row.recorded_at),
    )
