"""The management chains of users, and the lock that keeps rollups and reorganisations apart.

A team rollup is the sum over a subtree, maintained by carrying every deal change up its owner's
chain. A reorganisation moves whole subtrees' totals from one chain to another. The two must not
interleave: a consumer batch that read a chain before a move and wrote after it would credit the
old managers. Consumer batches and deal edits therefore hold the hierarchy lock shared, and
reorganisations and settings changes (which re-place every deal) hold it exclusively, for the rest
of their transaction. SQLite needs no lock: it runs one writing transaction at a time anyway.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import String, any_, cast, literal, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from salesplane_forecasting.adapters.tables import users
from salesplane_forecasting.domain.org import MAX_DEPTH

# An arbitrary constant that names this lock among the database's advisory locks.
_HIERARCHY_LOCK_KEY = 7_146_001


def lock_hierarchy(session: Session, *, exclusive: bool) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    session.execute(text(f"SELECT {function}(:key)"), {"key": _HIERARCHY_LOCK_KEY})


def chains_of(session: Session, user_ids: Iterable[str]) -> dict[str, list[str]]:
    """For each user: the user, their manager, that manager's manager, ... up to the top.

    One recursive query for the whole set; a user the organisation does not know is a chain of one."""
    wanted = sorted(set(user_ids))
    chains: dict[str, list[str]] = {user_id: [user_id] for user_id in wanted}
    if not wanted:
        return chains
    # One bind parameter for the whole set on PostgreSQL (= ANY(array)), so the statement is the
    # same for every batch; SQLite gets an IN list.
    if session.get_bind().dialect.name == "postgresql":
        origins = users.c.user_id == any_(cast(literal(wanted), ARRAY(String)))
    else:
        origins = users.c.user_id.in_(wanted)
    seed = select(
        users.c.user_id.label("origin"),
        users.c.manager_user_id.label("ancestor"),
        literal(1).label("depth"),
    ).where(origins, users.c.manager_user_id.is_not(None))
    walk = seed.cte("walk", recursive=True)
    step = (
        select(walk.c.origin, users.c.manager_user_id, (walk.c.depth + 1).label("depth"))
        .join(users, users.c.user_id == walk.c.ancestor)
        .where(users.c.manager_user_id.is_not(None), walk.c.depth < MAX_DEPTH)
    )
    walk = walk.union_all(step)
    rows = session.execute(select(walk.c.origin, walk.c.ancestor).order_by(walk.c.origin, walk.c.depth))
    for origin, ancestor in rows:
        chains[origin].append(ancestor)
    return chains


def all_chains(session: Session) -> dict[str, list[str]]:
    """Every known user's chain, from one read of the reporting lines (for rebuilds)."""
    manager_of = dict(session.execute(select(users.c.user_id, users.c.manager_user_id)).all())
    chains: dict[str, list[str]] = {}
    for user_id in manager_of:
        chain = [user_id]
        current = manager_of.get(user_id)
        while current is not None and len(chain) <= MAX_DEPTH:
            chain.append(current)
            current = manager_of.get(current)
        chains[user_id] = chain
    return chains


def has_reports(session: Session, user_id: str) -> bool:
    found = session.execute(select(literal(1)).where(users.c.manager_user_id == user_id).limit(1)).first()
    return found is not None
