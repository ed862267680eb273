"""Writes of the read models, inside the consumer's batch transaction.

Reporting's handler keeps its own versions (it stores every opportunity version), so each write
here is idempotent by itself: a current-state row changes only for a newer version, a history row
is keyed by its version."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, and_, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from salesplane_platform.db import as_utc
from salesplane_reporting.adapters import pipeline_rollup, tables
from salesplane_reporting.adapters.pipeline_rollup import Contribution
from salesplane_reporting.domain.lead_milestones import LeadMilestones
from salesplane_reporting.domain.opportunity_history import (
    Derived,
    HistoryRow,
    OpportunityState,
    OpportunityVersion,
    derive_history,
)
from salesplane_reporting.domain.org_closure import closure_of
from salesplane_reporting.domain.sales_stages import DEFAULT_STAGE_ORDER

_STATE_FIELDS = tuple(OpportunityState.__dataclass_fields__)
_DERIVED_IN_STATE = ("stage_entered_at", "push_count", "max_stage_order", "cycle_seconds")
_VERSION_DERIVED = ("valid_to", "stage_entry", "stage_seconds", *_DERIVED_IN_STATE)
_TIME_FIELDS = {"create_time", "update_time", "close_time", "valid_from", "valid_to", "stage_entered_at"}
# Ids per IN list: well under every database's bind-parameter limit.
_CHUNK = 500


def upsert_newer(
    session: Session,
    table: Table,
    keys: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    *,
    or_same: bool = False,
) -> None:
    """Insert the rows; on a key conflict replace the stored row only when the new version is
    greater (or equal, with `or_same`). Rows sharing a key must already be reduced to the newest."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    columns = [c for c in rows[0] if c not in keys]
    excluded_version = statement.excluded.version
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={c: statement.excluded[c] for c in columns},
        where=table.c.version <= excluded_version if or_same else table.c.version < excluded_version,
    )
    session.execute(statement, [dict(r) for r in rows])


def insert_missing(
    session: Session, table: Table, keys: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    session.execute(statement.on_conflict_do_nothing(index_elements=list(keys)), [dict(r) for r in rows])


def newest_per_key(rows: Iterable[Mapping[str, Any]], keys: Sequence[str]) -> list[Mapping[str, Any]]:
    newest: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in keys)
        held = newest.get(key)
        if held is None or row["version"] > held["version"]:
            newest[key] = row
    return list(newest.values())


class ReadModelWriter:
    def __init__(self, session: Session) -> None:
        self._session = session

    # -- sales stages ---------------------------------------------------------------------------
    def save_stages(self, rows: Sequence[Mapping[str, Any]], revision: int) -> None:
        """Replace the catalogue when `revision` is newer than the stored one."""
        stored = self._session.execute(select(tables.sales_stage_view.c.revision).limit(1)).scalar()
        if stored is not None and stored >= revision:
            return
        self._session.execute(delete(tables.sales_stage_view))
        if rows:
            self._session.execute(tables.sales_stage_view.insert(), [dict(r) for r in rows])

    def stage_orders(self) -> dict[str, int]:
        rows = self._session.execute(
            select(tables.sales_stage_view.c.name, tables.sales_stage_view.c.position)
        ).all()
        if rows:
            return {name: position for name, position in rows}
        return {name: position for position, name in enumerate(DEFAULT_STAGE_ORDER)}

    # -- opportunities --------------------------------------------------------------------------
    def save_opportunity_versions(self, versions: Sequence[OpportunityVersion]) -> None:
        """Store new versions and re-derive the history of every opportunity they touch."""
        if not versions:
            return
        incoming: dict[str, list[OpportunityVersion]] = defaultdict(list)
        for version in versions:
            incoming[version.opportunity_id].append(version)
        stored = self._stored_history(sorted(incoming))
        inserts: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        current: list[dict[str, Any]] = []
        removed: list[str] = []
        moved: list[tuple[Contribution | None, Contribution | None]] = []
        for opportunity_id, new_versions in incoming.items():
            known = stored.get(opportunity_id, {})
            before = known[max(known)].version if known else None
            history = derive_history([*(row.version for row in known.values()), *new_versions])
            after = history[-1].version
            moved.append(
                (
                    Contribution.of(before.state) if before is not None and not before.deleted else None,
                    Contribution.of(after.state) if not after.deleted else None,
                )
            )
            for row in history:
                held = known.get(row.version.version)
                if held is None:
                    inserts.append(_version_row(row))
                elif held.derived != row.derived:
                    changes.append(_derived_change(row))
            newest = history[-1]
            if newest.version.deleted:
                removed.append(opportunity_id)
            else:
                current.append(_current_row(newest))
        insert_missing(self._session, tables.opportunity_versions, ["opportunity_id", "version"], inserts)
        if changes:
            versions_table = tables.opportunity_versions
            self._session.execute(
                update(versions_table)
                .where(
                    and_(
                        versions_table.c.opportunity_id == bindparam("b_id"),
                        versions_table.c.version == bindparam("b_version"),
                    )
                )
                .values({name: bindparam(f"b_{name}") for name in _VERSION_DERIVED}),
                changes,
            )
        # The same version too: a late older version may have re-derived the newest one's
        # stage_entered_at, push_count or max_stage_order, which the current row repeats.
        upsert_newer(self._session, tables.opportunity_current, ["opportunity_id"], current, or_same=True)
        pipeline_rollup.apply_changes(self._session, moved)

        for start in range(0, len(removed), _CHUNK):
            self._session.execute(
                delete(tables.opportunity_current).where(
                    tables.opportunity_current.c.opportunity_id.in_(removed[start : start + _CHUNK])
                )
            )

    def _stored_history(self, ids: Sequence[str]) -> dict[str, dict[int, HistoryRow]]:
        versions_table = tables.opportunity_versions
        history: dict[str, dict[int, HistoryRow]] = defaultdict(dict)
        for start in range(0, len(ids), _CHUNK):
            result = self._session.execute(
                select(versions_table).where(versions_table.c.opportunity_id.in_(ids[start : start + _CHUNK]))
            )
            for row in result:
                history_row = _history_row(row)
                history[history_row.version.opportunity_id][history_row.version.version] = history_row
        return history

    # -- the organisation -----------------------------------------------------------------------
    def save_users(self, rows: Sequence[Mapping[str, Any]], changed_at: datetime) -> None:
        """Store the users and bring the effective-dated closure up to date as of `changed_at`."""
        if not rows:
            return
        # The closure is recomputed from every user this transaction sees. Two consumers applying
        # user events of different partitions at once would each miss the other's users and drop
        # the pairs that need both (vp -> m1 in one batch, m1 -> r1 in the other): one at a time.
        pipeline_rollup.lock_organisation(self._session, exclusive=True)
        upsert_newer(self._session, tables.org_users, ["user_id"], newest_per_key(rows, ["user_id"]))
        users = tables.org_users.c
        managers = {u: m for u, m in self._session.execute(select(users.user_id, users.manager_user_id))}
        wanted = closure_of(managers)
        closure = tables.org_closure
        held = {
            (a, d, n): row_id
            for row_id, a, d, n in self._session.execute(
                select(
                    closure.c.id, closure.c.ancestor_user_id, closure.c.descendant_user_id, closure.c.distance
                ).where(closure.c.valid_to.is_(None))
            )
        }
        ended = [row_id for pair, row_id in held.items() if pair not in wanted]
        for start in range(0, len(ended), _CHUNK):
            self._session.execute(
                update(closure)
                .where(closure.c.id.in_(ended[start : start + _CHUNK]))
                .values(valid_to=changed_at)
            )
        started = [
            {
                "ancestor_user_id": a,
                "descendant_user_id": d,
                "distance": n,
                "valid_from": changed_at,
                "valid_to": None,
            }
            for (a, d, n) in sorted(wanted - held.keys())
        ]
        if started:
            self._session.execute(closure.insert(), started)
        if ended or started:
            # Team rows follow the new lines: recomputed under the exclusive lock taken above.
            pipeline_rollup.rebuild(self._session)

    # -- everything kept as its newest state ----------------------------------------------------
    def save_newest(self, table: Table, keys: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
        upsert_newer(self._session, table, keys, newest_per_key(rows, keys))

    # -- leads ----------------------------------------------------------------------------------
    def save_leads(self, versions: Sequence[tuple[Mapping[str, Any], datetime]]) -> None:
        """Store the newest version of each lead with its funnel milestones, folded from the stored
        row through every newer version (each with when it happened), oldest first. A version not
        newer than the stored one changes nothing."""
        if not versions:
            return
        incoming: dict[str, list[tuple[Mapping[str, Any], datetime]]] = defaultdict(list)
        for row, occurred in versions:
            incoming[str(row["id"])].append((row, occurred))
        stored = self._stored_leads(sorted(incoming))
        newest: list[dict[str, Any]] = []
        for lead_id, lead_versions in incoming.items():
            held = stored.get(lead_id)
            version, status, milestones = held if held is not None else (0, None, LeadMilestones())
            last: Mapping[str, Any] | None = None
            for row, occurred in sorted(lead_versions, key=lambda v: int(v[0]["version"])):
                if int(row["version"]) <= version:
                    continue
                milestones = milestones.after(
                    previous_status=status,
                    status=str(row["status"]),
                    qualified=bool(row["qualified"]),
                    at=occurred,
                )
                version, status, last = int(row["version"]), str(row["status"]), row
            if last is not None:
                newest.append(
                    {
                        **last,
                        "qualified_time": milestones.qualified_time,
                        "recycled_time": milestones.recycled_time,
                        "dead_time": milestones.dead_time,
                    }
                )
        upsert_newer(self._session, tables.lead_view, ["id"], newest)

    def _stored_leads(self, ids: Sequence[str]) -> dict[str, tuple[int, str, LeadMilestones]]:
        lead = tables.lead_view.c
        stored: dict[str, tuple[int, str, LeadMilestones]] = {}
        for start in range(0, len(ids), _CHUNK):
            for row in self._session.execute(
                select(
                    lead.id,
                    lead.version,
                    lead.status,
                    lead.qualified_time,
                    lead.recycled_time,
                    lead.dead_time,
                ).where(lead.id.in_(ids[start : start + _CHUNK]))
            ):
                times = [None if t is None else as_utc(t) for t in row[3:]]
                stored[row.id] = (int(row.version), row.status, LeadMilestones(*times))
        return stored

    def save_touches(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Touches never change: each is kept once, whatever redelivers it."""
        insert_missing(self._session, tables.lead_touch_view, ["touch_id"], rows)

    def save_commits(self, rows: Sequence[Mapping[str, Any]]) -> None:
        insert_missing(self._session, tables.forecast_commits, ["snapshot_id"], rows)

    def save_campaigns(
        self, campaigns: Sequence[Mapping[str, Any]], costs: Mapping[str, Sequence[Mapping[str, Any]]]
    ) -> None:
        """Store the newest campaigns; their cost entries are replaced when the campaign is."""
        newest = newest_per_key(campaigns, ["id"])
        if not newest:
            return
        ids = [str(c["id"]) for c in newest]
        view = tables.campaign_view.c
        stored = dict(self._session.execute(select(view.id, view.version).where(view.id.in_(ids))).all())
        replaced = [c for c in newest if stored.get(c["id"], 0) < c["version"]]
        upsert_newer(self._session, tables.campaign_view, ["id"], replaced)
        replaced_ids = [str(c["id"]) for c in replaced]
        if replaced_ids:
            self._session.execute(
                delete(tables.campaign_costs).where(tables.campaign_costs.c.campaign_id.in_(replaced_ids))
            )
            entries = [dict(e) for i in replaced_ids for e in costs.get(i, ())]
            if entries:
                self._session.execute(tables.campaign_costs.insert(), entries)


def _state_values(state: OpportunityState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in _STATE_FIELDS}


def _derived_values(derived: Derived) -> dict[str, Any]:
    return {name: getattr(derived, name) for name in _VERSION_DERIVED}


def _version_row(row: HistoryRow) -> dict[str, Any]:
    version = row.version
    return {
        "opportunity_id": version.opportunity_id,
        "version": version.version,
        "valid_from": version.valid_from,
        "deleted": version.deleted,
        "change_kind": version.change_kind,
        **_state_values(version.state),
        **_derived_values(row.derived),
    }


def _derived_change(row: HistoryRow) -> dict[str, Any]:
    values = _derived_values(row.derived)
    return {
        "b_id": row.version.opportunity_id,
        "b_version": row.version.version,
        **{f"b_{name}": value for name, value in values.items()},
    }


def _current_row(row: HistoryRow) -> dict[str, Any]:
    derived = _derived_values(row.derived)
    return {
        "opportunity_id": row.version.opportunity_id,
        "version": row.version.version,
        **_state_values(row.version.state),
        **{name: derived[name] for name in _DERIVED_IN_STATE},
    }


def _history_row(row: Row[Any]) -> HistoryRow:
    values = dict(row._mapping)
    for name in _TIME_FIELDS:
        if values.get(name) is not None:
            values[name] = as_utc(values[name])
    state = OpportunityState(**{name: values[name] for name in _STATE_FIELDS})
    version = OpportunityVersion(
        opportunity_id=values["opportunity_id"],
        version=int(values["version"]),
        valid_from=values["valid_from"],
        deleted=bool(values["deleted"]),
        change_kind=values["change_kind"],
        state=state,
    )
    derived = Derived(**{name: values[name] for name in _VERSION_DERIVED})
    return HistoryRow(version, derived)
