"""Saved report definitions in SQL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, and_, delete, literal, or_, select, update
from sqlalchemy.orm import Session

from salesplane_platform.db import as_utc
from salesplane_platform.identity import Identity
from salesplane_reporting.adapters import tables
from salesplane_reporting.domain.saved_reports import SavedReport, Sharing

_reports = tables.saved_reports


def _report(row: Row[Any]) -> SavedReport:
    return SavedReport(
        report_id=row.report_id,
        owner_user_id=row.owner_user_id,
        sharing=Sharing(row.sharing),
        title=row.title,
        description=row.description,
        document=json.loads(row.definition),
        version=int(row.version),
        create_time=as_utc(row.create_time),
        update_time=as_utc(row.update_time),
    )


def _values(report: SavedReport) -> dict[str, Any]:
    return {
        "report_id": report.report_id,
        "owner_user_id": report.owner_user_id,
        "sharing": report.sharing.value,
        "title": report.title,
        "description": report.description,
        "definition": json.dumps(report.document, sort_keys=True, separators=(",", ":")),
        "version": report.version,
        "create_time": report.create_time,
        "update_time": report.update_time,
    }


class SqlSavedReports:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, report_id: str) -> SavedReport | None:
        row = self._session.execute(select(_reports).where(_reports.c.report_id == report_id)).first()
        return _report(row) if row else None

    def _team_of_owner(self, caller: Identity) -> Any:
        """Owners whose "team" sharing reaches the caller: the caller is under the owner's manager
        (or is that manager), or the owner heads the organisation and the caller is under them."""
        users = tables.org_users.c
        closure = tables.org_closure.c
        heads = select(users.user_id.label("owner"), users.manager_user_id.label("head")).subquery("owners")
        return (
            select(heads.c.owner)
            .join(
                tables.org_closure,
                and_(
                    closure.ancestor_user_id == heads.c.head,
                    closure.valid_to.is_(None),
                ),
            )
            .where(closure.descendant_user_id == literal(caller.subject))
        )

    def _readable(self, caller: Identity) -> Any:
        if caller.is_admin:
            return literal(True)
        return or_(
            _reports.c.owner_user_id == caller.subject,
            _reports.c.sharing == Sharing.EVERYONE.value,
            and_(
                _reports.c.sharing == Sharing.TEAM.value,
                _reports.c.owner_user_id.in_(self._team_of_owner(caller)),
            ),
        )

    def visible_to(self, caller: Identity) -> Sequence[SavedReport]:
        rows = self._session.execute(select(_reports).where(self._readable(caller))).all()
        return [_report(r) for r in rows]

    def may_read(self, caller: Identity, report: SavedReport) -> bool:
        found = self._session.execute(
            select(literal(1)).where(_reports.c.report_id == report.report_id, self._readable(caller))
        ).first()
        return found is not None

    def add(self, report: SavedReport) -> None:
        self._session.execute(_reports.insert().values(_values(report)))

    def replace(self, report: SavedReport) -> None:
        self._session.execute(
            update(_reports).where(_reports.c.report_id == report.report_id).values(_values(report))
        )

    def remove(self, report_id: str) -> None:
        self._session.execute(delete(_reports).where(_reports.c.report_id == report_id))
