"""Use cases of the live rollups: a batch of opportunity states (consumed events, or a deal a rep
placed by hand) moves every rollup it touches by the difference; a reorganisation moves a user's
team totals to their new managers; an administrator rebuilds them all.

The delta maths is the domain's (domain/contributions.py); the rows are the rollup store's."""

from __future__ import annotations

from salesplane_forecasting.domain.contributions import move_team, own_deltas
from salesplane_forecasting.domain.deals import Deal
from salesplane_forecasting.service_layer.unit_of_work import ForecastingUnitOfWork, RollupStores
from salesplane_platform.errors import PermissionDenied
from salesplane_platform.identity import Identity


def apply_deal_states(stores: RollupStores, arrived: dict[str, Deal], *, newer_only: bool = False) -> None:
    """Replace the tracked state of these deals and move every rollup they touch by the difference.

    With newer_only (consumed events), a state not newer than the one applied is passed over;
    without it (a rep's new commit stage), the deal is placed again as it is."""
    stores.hierarchy.lock(exclusive=False)
    settings = stores.settings.load()
    previous = stores.rollups.load_tracked(arrived, for_update=True)
    if newer_only:
        # Duplicates, replays and states older than what is applied change nothing.
        arrived = {
            i: deal for i, deal in arrived.items() if i not in previous or deal.version > previous[i].version
        }
    # Read only once the deals' rows are locked: a rep's commit stage set meanwhile (under the same
    # row lock) is then seen, not overwritten by a placement made with the old one.
    overrides = stores.rollups.overrides_of(arrived)
    placed = {
        opportunity_id: deal.placed(settings, overrides.get(opportunity_id))
        for opportunity_id, deal in arrived.items()
    }
    changes = [
        (previous[i].contribution if i in previous else None, deal.contribution) for i, deal in placed.items()
    ]
    # The store carries the owners' deltas up their managers' chains (in the database, where it can).
    stores.rollups.carry_up(own_deltas(changes))
    stores.rollups.save_tracked(placed.values())


def move_team_rollups(
    stores: RollupStores, user_id: str, old_manager: str | None, new_manager: str | None
) -> None:
    """Move the user's team totals (every period) from the managers above them to the new ones.

    The caller holds the hierarchy lock exclusively, so no batch carries deals up either chain
    meanwhile."""
    chains = stores.hierarchy.chains_of([m for m in (old_manager, new_manager) if m])
    old_chain = chains[old_manager] if old_manager else []
    new_chain = chains[new_manager] if new_manager else []
    team = stores.rollups.team_totals_by_period(user_id)
    stores.rollups.apply_deltas(move_team(team, old_chain, new_chain))


def rebuild_rollups(*, caller: Identity, uow: ForecastingUnitOfWork) -> int:
    """Admin: recompute every rollup from scratch under the settings in force."""
    if not caller.is_admin:
        raise PermissionDenied("only administrators rebuild rollups")
    return rebuild_all_rollups(uow=uow)


def rebuild_all_rollups(*, uow: ForecastingUnitOfWork) -> int:
    """Recompute every rollup from scratch in one transaction; returns the rows written. Unchecked:
    for the operator's command line, which has no caller."""
    with uow:
        uow.hierarchy.lock(exclusive=True)
        rows = uow.rollups.rebuild(recompute_contributions=True)
        uow.commit()
        return rows
