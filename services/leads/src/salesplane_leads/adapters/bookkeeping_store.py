"""What the service remembers to be idempotent: CreateLead request ids, imported row fingerprints
and conversions under way. Each is written in the same transaction as the effect it stands for."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from salesplane_leads.adapters import tables
from salesplane_leads.adapters.marketing_store import unique_insert
from salesplane_leads.domain.conversion import PendingConversion
from salesplane_leads.service_layer.unit_of_work import AlreadyStored, ImportedRow
from salesplane_platform.db import as_utc

# Bound on the size of one IN (...) list.
_IN_LIST_CHUNK = 500


class SqlCreateRequestLog:
    def __init__(self, session: Session) -> None:
        self._session = session

    def find(self, requested_by: str, request_id: str) -> tuple[str, str] | None:
        requests = tables.lead_create_requests
        row = self._session.execute(
            select(requests.c.lead_id, requests.c.outcome).where(
                requests.c.requested_by == requested_by, requests.c.request_id == request_id
            )
        ).one_or_none()
        return None if row is None else (row.lead_id, row.outcome)

    def add(self, requested_by: str, request_id: str, lead_id: str, outcome: str, at: datetime) -> None:
        with unique_insert(self._session, f"request id {request_id!r}"):
            self._session.execute(
                insert(tables.lead_create_requests).values(
                    requested_by=requested_by,
                    request_id=request_id,
                    lead_id=lead_id,
                    outcome=outcome,
                    created_at=at,
                )
            )


class SqlImportRowLog:
    def __init__(self, session: Session) -> None:
        self._session = session

    def find(self, fingerprints: Collection[str]) -> dict[str, ImportedRow]:
        rows = tables.import_rows
        found: dict[str, ImportedRow] = {}
        wanted = sorted(set(fingerprints))
        for start in range(0, len(wanted), _IN_LIST_CHUNK):
            for row in self._session.execute(
                select(rows).where(rows.c.fingerprint.in_(wanted[start : start + _IN_LIST_CHUNK]))
            ):
                found[row.fingerprint] = ImportedRow(
                    row.fingerprint,
                    row.lead_id,
                    row.file_name,
                    row.line_number,
                    row.imported_by,
                    as_utc(row.imported_at),
                )
        return found

    def add(self, rows: Sequence[ImportedRow]) -> None:
        if not rows:
            return
        with unique_insert(self._session, "an imported row"):
            self._session.execute(
                insert(tables.import_rows),
                [
                    {
                        "fingerprint": row.fingerprint,
                        "lead_id": row.lead_id,
                        "file_name": row.file_name,
                        "line_number": row.line_number,
                        "imported_by": row.imported_by,
                        "imported_at": row.imported_at,
                    }
                    for row in rows
                ],
            )


class SqlConversionLog:
    def __init__(self, session: Session) -> None:
        self._session = session

    def pending(self, lead_id: str) -> PendingConversion | None:
        conversions = tables.lead_conversions
        row = self._session.execute(
            select(conversions).where(conversions.c.lead_id == lead_id, conversions.c.completed_at.is_(None))
        ).one_or_none()
        if row is None:
            return None
        return PendingConversion(
            row.lead_id, row.request_id, row.requested_by, row.attempts, as_utc(row.started_at)
        )

    def start_attempt(self, lead_id: str, *, request_id: str, requested_by: str, at: datetime) -> int:
        conversions = tables.lead_conversions
        for _ in range(2):
            # Annotated: the Table's columns are untyped, so the scalar would be Any.
            attempts: int | None = self._session.execute(
                select(conversions.c.attempts).where(conversions.c.lead_id == lead_id).with_for_update()
            ).scalar_one_or_none()
            if attempts is not None:
                self._session.execute(
                    update(conversions).where(conversions.c.lead_id == lead_id).values(attempts=attempts + 1)
                )
                return attempts + 1
            try:
                with unique_insert(self._session, f"conversion of lead {lead_id}"):
                    self._session.execute(
                        insert(conversions).values(
                            lead_id=lead_id,
                            request_id=request_id,
                            requested_by=requested_by,
                            attempts=1,
                            started_at=at,
                        )
                    )
                return 1
            except AlreadyStored:
                continue  # a concurrent attempt inserted it first: count this one on top
        raise AssertionError("unreachable: the row exists after a failed insert")

    def complete(self, lead_id: str, *, opportunity_id: str, at: datetime) -> None:
        conversions = tables.lead_conversions
        self._session.execute(
            update(conversions)
            .where(conversions.c.lead_id == lead_id)
            .values(opportunity_id=opportunity_id, completed_at=at)
        )

    def forget(self, lead_id: str) -> None:
        conversions = tables.lead_conversions
        self._session.execute(
            delete(conversions).where(conversions.c.lead_id == lead_id, conversions.c.completed_at.is_(None))
        )
