"""Use cases of the live rollups: a batch of opportunity states (consumed events, or a deal a rep
placed by hand) moves every rollup it touches by the difference; a reorganisation moves a user's
team totals to their new managers; an administrator rebuilds them all.

The delta maths is the domain's (domain/contributions.py); the rows are the rollup store's."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from salesplane_forecasting.adapters import hierarchy, rollup_store, settings_store
from salesplane_forecasting.domain.contributions import merge_deltas, move_team
from salesplane_forecasting.domain.deals import Deal
from salesplane_platform.errors import PermissionDenied
from salesplane_platform.identity import Identity


def apply_deal_states(session: Session, arrived: dict[str, Deal], *, newer_only: bool = False) -> None:
    """Replace the tracked state of these deals and move every rollup they touch by the difference.

    With newer_only (consumed events), a state not newer than the one applied is passed over;
    without it (a rep's new commit stage), the deal is placed again as it is."""
    hierarchy.lock_hierarchy(session, exclusive=False)
    settings = settings_store.load(session)
    previous = rollup_store.load_tracked(session, arrived, for_update=True)
    if newer_only:
        # Duplicates, replays and states older than what is applied change nothing.
        arrived = {
            i: deal for i, deal in arrived.items() if i not in previous or deal.version > previous[i].version
        }
    # Read only once the deals' rows are locked: a rep's commit stage set meanwhile (under the same
    # row lock) is then seen, not overwritten by a placement made with the old one.
    overrides = rollup_store.overrides_of(session, arrived)
    placed = {
        opportunity_id: deal.placed(settings, overrides.get(opportunity_id))
        for opportunity_id, deal in arrived.items()
    }
    changes = [
        (previous[i].contribution if i in previous else None, deal.contribution) for i, deal in placed.items()
    ]
    owners = {c.owner_user_id for pair in changes for c in pair if c is not None}
    deltas = merge_deltas(changes, hierarchy.chains_of(session, owners))
    rollup_store.apply_deltas(session, deltas)
    rollup_store.save_tracked(session, placed.values())


def move_team_rollups(
    session: Session, user_id: str, old_manager: str | None, new_manager: str | None
) -> None:
    """Move the user's team totals (every period) from the managers above them to the new ones.

    The caller holds the hierarchy lock exclusively, so no batch carries deals up either chain
    meanwhile."""
    chains = hierarchy.chains_of(session, [m for m in (old_manager, new_manager) if m])
    old_chain = chains[old_manager] if old_manager else []
    new_chain = chains[new_manager] if new_manager else []
    team = rollup_store.team_totals_by_period(session, user_id)
    rollup_store.apply_deltas(session, move_team(team, old_chain, new_chain))


def rebuild_rollups(*, caller: Identity, sessions: sessionmaker[Session]) -> int:
    """Admin: recompute every rollup from scratch under the settings in force."""
    if not caller.is_admin:
        raise PermissionDenied("only administrators rebuild rollups")
    return rebuild_all_rollups(sessions=sessions)


def rebuild_all_rollups(*, sessions: sessionmaker[Session]) -> int:
    """Recompute every rollup from scratch in one transaction; returns the rows written. Unchecked:
    for the operator's command line, which has no caller."""
    with sessions() as session, session.begin():
        hierarchy.lock_hierarchy(session, exclusive=True)
        return rollup_store.rebuild_rollups(session, recompute_contributions=True)
