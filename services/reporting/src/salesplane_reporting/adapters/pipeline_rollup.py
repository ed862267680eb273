"""The pipeline rollup: each deal's contribution (count, amounts) carried to its owner's own row
and to the team row of the owner and every manager above them.

Deltas are applied with each batch of opportunity versions; an organisation change rebuilds the
table from the current deals and the closure. Both run under the organisation's advisory lock
(shared for deltas, exclusive for the rebuild), so a delta never lands on a rollup rebuilt without
it, nor on the ancestors of a reorganisation it did not see."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, case, delete, false, func, insert, literal, select, text, true, union_all
from sqlalchemy.orm import Session

from salesplane_platform.bulk_writes import ADD, bulk_upsert
from salesplane_reporting.adapters import tables
from salesplane_reporting.domain.opportunity_history import OpportunityState

NO_CLOSE_MONTH = date(1, 1, 1)
# A fixed advisory-lock key (a 64-bit number no other lock of this database uses) for org changes.
ORG_LOCK_KEY = 0x52_4550_4F52_4701
_KEY = ("user_id", "own", "sales_stage", "status", "close_month", "base_currency")
_SUMS = ("deals", "amount_base_minor", "weighted_base_minor", "best_base_minor", "worst_base_minor")


def lock_organisation(session: Session, *, exclusive: bool) -> None:
    """Hold the organisation lock until the transaction ends (PostgreSQL; SQLite has one writer)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    session.execute(text(f"SELECT {function}(:key)"), {"key": ORG_LOCK_KEY})


@dataclass(frozen=True)
class Contribution:
    owner: str
    sales_stage: str
    status: str
    close_month: date
    base_currency: str
    amounts: tuple[int, int, int, int]

    @classmethod
    def of(cls, state: OpportunityState) -> Contribution:
        close = state.expected_close_date
        return cls(
            owner=state.owner_user_id,
            sales_stage=state.sales_stage,
            status=state.status,
            close_month=close.replace(day=1) if close else NO_CLOSE_MONTH,
            base_currency=state.base_currency,
            amounts=(
                state.amount_base_minor,
                state.weighted_base_minor,
                state.best_base_minor,
                state.worst_base_minor,
            ),
        )


def apply_changes(
    session: Session, changes: Iterable[tuple[Contribution | None, Contribution | None]]
) -> None:
    """Move each deal's contribution from its old state (None: it did not count) to its new one."""
    signed: list[tuple[Contribution, int]] = []
    for old, new in changes:
        if old == new:
            continue
        if old is not None:
            signed.append((old, -1))
        if new is not None:
            signed.append((new, 1))
    if not signed:
        return
    owners = sorted({c.owner for c, _ in signed})
    ancestors = _ancestors(session, owners)
    rows: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for contribution, sign in signed:
        cell = (
            contribution.sales_stage,
            contribution.status,
            contribution.close_month,
            contribution.base_currency,
        )
        targets = [(contribution.owner, True)] + [
            (a, False) for a in ancestors.get(contribution.owner, {contribution.owner})
        ]
        for user, own in targets:
            sums = rows[(user, own, *cell)]
            sums[0] += sign
            for index, amount in enumerate(contribution.amounts, start=1):
                sums[index] += sign * amount
    bulk_upsert(
        session,
        tables.pipeline_rollup,
        [*_KEY, *_SUMS],
        [(*key, *sums) for key, sums in rows.items() if any(sums)],
        keys=list(_KEY),
        update={name: ADD for name in _SUMS},
    )


def _ancestors(session: Session, owners: Sequence[str]) -> Mapping[str, set[str]]:
    """Each owner's managers at every level, and the owner (distance 0) even if not in the org."""
    found: dict[str, set[str]] = {owner: {owner} for owner in owners}
    closure = tables.org_closure.c
    for start in range(0, len(owners), 500):
        chunk = owners[start : start + 500]
        result = session.execute(
            select(closure.descendant_user_id, closure.ancestor_user_id).where(
                closure.descendant_user_id.in_(chunk), closure.valid_to.is_(None)
            )
        )
        for descendant, ancestor in result:
            found[descendant].add(ancestor)
    return found


def rebuild(session: Session) -> None:
    """Recompute the whole rollup from the current deals and the organisation as it is now."""
    o = tables.opportunity_current.c
    closure = tables.org_closure.c
    month = case(
        (o.expected_close_date.is_(None), literal(NO_CLOSE_MONTH)),
        else_=_month_start(session, o.expected_close_date),
    )
    cell = [o.sales_stage, o.status, month, o.base_currency]
    sums = [
        func.count(),
        func.sum(o.amount_base_minor),
        func.sum(o.weighted_base_minor),
        func.sum(o.best_base_minor),
        func.sum(o.worst_base_minor),
    ]
    own = select(o.owner_user_id, true(), *cell, *sums).group_by(o.owner_user_id, *cell)
    in_org = select(closure.descendant_user_id).where(closure.valid_to.is_(None))
    team = (
        select(closure.ancestor_user_id, false(), *cell, *sums)
        .select_from(
            tables.opportunity_current.join(
                tables.org_closure,
                and_(closure.descendant_user_id == o.owner_user_id, closure.valid_to.is_(None)),
            )
        )
        .group_by(closure.ancestor_user_id, *cell)
    )
    # Owners the organisation does not know yet still head their own team row.
    strangers = (
        select(o.owner_user_id, false(), *cell, *sums)
        .where(o.owner_user_id.not_in(in_org))
        .group_by(o.owner_user_id, *cell)
    )
    session.execute(delete(tables.pipeline_rollup))
    session.execute(
        insert(tables.pipeline_rollup).from_select([*_KEY, *_SUMS], union_all(own, team, strangers))
    )


def _month_start(session: Session, column: Any) -> Any:
    from salesplane_reporting.adapters.sql_dates import period_start

    return period_start(column, "month", 1)
