"""Sales stages: an ordered list with a default probability and won / lost flags."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SalesStage:
    name: str
    default_probability: int
    is_won: bool = False
    is_lost: bool = False

    @property
    def is_closed(self) -> bool:
        return self.is_won or self.is_lost


# SugarCRM's familiar defaults; the list is configuration, seeded from these.
DEFAULT_SALES_STAGES: tuple[SalesStage, ...] = (
    SalesStage("Prospecting", 10),
    SalesStage("Qualification", 20),
    SalesStage("Needs Analysis", 25),
    SalesStage("Value Proposition", 30),
    SalesStage("Id. Decision Makers", 40),
    SalesStage("Perception Analysis", 50),
    SalesStage("Proposal/Price Quote", 65),
    SalesStage("Negotiation/Review", 80),
    SalesStage("Closed Won", 100, is_won=True),
    SalesStage("Closed Lost", 0, is_lost=True),
)


class SalesStageCatalog:
    def __init__(self, stages: tuple[SalesStage, ...]) -> None:
        self.stages = stages
        self._by_name = {s.name: s for s in stages}

    def get(self, name: str) -> SalesStage | None:
        return self._by_name.get(name)

    def names(self) -> list[str]:
        return [s.name for s in self.stages]
