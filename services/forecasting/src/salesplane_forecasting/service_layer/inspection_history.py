"""Use case of the pipeline inspection's deal history: every consumed opportunity version folds
into its deal's facts, in the consumer's transaction, together with the rollup delta.

Idempotent under redelivery: the fold ignores versions at or below the one it holds, and the won
deals' stays are replaced (never added to) when a fold wins a deal, so a replayed win counts once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from salesplane_forecasting.domain.contributions import DealStatus
from salesplane_forecasting.domain.inspection.deal_history import (
    DealFacts,
    DealVersion,
    StageStay,
    fold,
    newly_won_stays,
)
from salesplane_forecasting.service_layer.unit_of_work import DealFactsStore


@dataclass(frozen=True)
class StageCatalogue:
    """The opportunities service's sales stages (SalesStagesChanged): their order by name."""

    revision: int
    orders: Mapping[str, int]


class ArrivedVersion(NamedTuple):
    # Named tuples, not frozen dataclasses: the consumer makes several per consumed event, and a frozen
    # dataclass's __init__ (one object.__setattr__ per field) cost more than the work they carry.
    owner_user_id: str
    # Its stage_order is resolved here from the stored catalogue (the event does not carry it).
    version: DealVersion


def record_catalogue(store: DealFactsStore, catalogue: StageCatalogue) -> None:
    """Keep the catalogue's stage order unless a newer revision is already kept."""
    revision, _ = store.stage_orders()
    if catalogue.revision > revision:
        store.replace_stage_orders(catalogue.revision, catalogue.orders)


def fold_versions(store: DealFactsStore, arrived: Sequence[ArrivedVersion]) -> None:
    """Fold every arrived version into its deal's facts, in version order per deal."""
    if not arrived:
        return
    _, orders = store.stage_orders()
    ordered = sorted(arrived, key=lambda a: (a.version.opportunity_id, a.version.version))
    before = store.load({a.version.opportunity_id for a in ordered}, for_update=True)
    after: dict[str, tuple[str, DealFacts]] = {}
    won_stays: dict[str, tuple[StageStay, ...]] = {}
    for item in ordered:
        opportunity_id = item.version.opportunity_id
        previous = after[opportunity_id][1] if opportunity_id in after else before.get(opportunity_id)
        version = item.version._replace(stage_order=_order_of(item.version.sales_stage, orders, previous))
        folded = fold(previous, version)
        if folded is previous:
            continue
        after[opportunity_id] = (item.owner_user_id, folded)
        was_won = previous is not None and previous.status is DealStatus.WON
        if folded.status is DealStatus.WON and not was_won:
            won_stays[opportunity_id] = newly_won_stays(previous, folded)
        elif was_won and folded.status is not DealStatus.WON:
            # Reopened, lost or deleted after a win: no longer a won deal's stays.
            won_stays[opportunity_id] = ()
    store.save(after.values())
    store.replace_won_stays(won_stays)


def _order_of(stage: str, orders: Mapping[str, int], previous: DealFacts | None) -> int:
    """The catalogue's order; for a stage it does not know (a catalogue not consumed yet, a stage
    added since), the order the deal had, else 0: any other guess would record a regression or an
    advance that never happened."""
    if stage in orders:
        return orders[stage]
    return previous.stage_order if previous is not None else 0
