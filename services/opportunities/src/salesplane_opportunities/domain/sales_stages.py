"""Sales stages: an ordered, revisioned list with a default probability and won / lost flags."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from salesplane_platform.errors import Validator
from salesplane_platform.text_rules import is_single_line

MAX_STAGE_NAME_LENGTH = 64
MAX_STAGES = 50


class CloseOutcome(Enum):
    WON = "won"
    LOST = "lost"


@dataclass(frozen=True)
class SalesStage:
    name: str
    default_probability: int
    is_won: bool = False
    is_lost: bool = False

    @property
    def is_closed(self) -> bool:
        return self.is_won or self.is_lost

    def closes_as(self, outcome: CloseOutcome) -> bool:
        return self.is_won if outcome is CloseOutcome.WON else self.is_lost


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


@dataclass(frozen=True)
class SalesStagesChanged:
    """Domain event: consumers receive the whole new list under its revision."""

    catalog: SalesStageCatalog


class SalesStageCatalog:
    """One revision of the stage list; a replacement is a new catalog with a higher revision."""

    def __init__(self, stages: Sequence[SalesStage], revision: int = 1) -> None:
        self.stages = tuple(stages)
        self.revision = revision
        self._by_name = {s.name: s for s in self.stages}
        # Only a replacement raises an event, on itself: catalogs read from storage are shared by
        # the units of work of a process and never hold events.
        self.events: list[SalesStagesChanged] = []

    def replaced_with(self, stages: Sequence[SalesStage]) -> SalesStageCatalog:
        """The next revision, holding `stages`; it raises SalesStagesChanged."""
        replacement = SalesStageCatalog(stages, self.revision + 1)
        replacement.events.append(SalesStagesChanged(replacement))
        return replacement

    def get(self, name: str) -> SalesStage | None:
        return self._by_name.get(name)

    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def open_names(self) -> list[str]:
        return [s.name for s in self.stages if not s.is_closed]

    def names_closing_as(self, outcome: CloseOutcome) -> list[str]:
        return [s.name for s in self.stages if s.closes_as(outcome)]

    def first_closing_as(self, outcome: CloseOutcome) -> SalesStage:
        """Validation guarantees a won and a lost stage in every catalog."""
        return next(s for s in self.stages if s.closes_as(outcome))


def validate_stages(stages: Sequence[SalesStage]) -> None:
    """Raise InvalidArgument unless the list can serve as the catalog: unique non-empty names,
    probabilities 0..100, at least one open, one won and one lost stage, none both won and lost."""
    check = Validator()
    check.require(
        0 < len(stages) <= MAX_STAGES, "sales_stages", f"must hold between 1 and {MAX_STAGES} stages"
    )
    seen: set[str] = set()
    for index, stage in enumerate(stages):
        field = f"sales_stages[{index}]"
        if not stage.name.strip():
            check.fail(f"{field}.name", "must not be empty")
        elif stage.name != stage.name.strip():
            check.fail(f"{field}.name", "must not start or end with white space")
        elif not is_single_line(stage.name):
            check.fail(f"{field}.name", "must not contain control characters")
        check.require(
            len(stage.name) <= MAX_STAGE_NAME_LENGTH,
            f"{field}.name",
            f"must be at most {MAX_STAGE_NAME_LENGTH} characters",
        )
        if stage.name in seen:
            check.fail(f"{field}.name", f"{stage.name!r} appears more than once")
        seen.add(stage.name)
        check.require(
            0 <= stage.default_probability <= 100,
            f"{field}.default_probability",
            "must be a percentage between 0 and 100",
        )
        if stage.is_won and stage.is_lost:
            check.fail(field, "cannot be both won and lost")
    if stages:
        check.require(any(not s.is_closed for s in stages), "sales_stages", "need at least one open stage")
        check.require(
            any(s.is_won and not s.is_lost for s in stages), "sales_stages", "need at least one won stage"
        )
        check.require(
            any(s.is_lost and not s.is_won for s in stages), "sales_stages", "need at least one lost stage"
        )
    check.raise_if_invalid()


@dataclass(frozen=True)
class CatalogDifference:
    removed: tuple[str, ...]
    # Kept stages whose won / lost flags differ: deals in them would change status without a close.
    reflagged: tuple[str, ...]
    # Kept open stages whose default probability differs: their stage-following deals are revalued.
    new_defaults: dict[str, int]


def compare_catalogs(old: SalesStageCatalog, new: SalesStageCatalog) -> CatalogDifference:
    removed, reflagged, new_defaults = [], [], {}
    for stage in old.stages:
        replacement = new.get(stage.name)
        if replacement is None:
            removed.append(stage.name)
        elif (replacement.is_won, replacement.is_lost) != (stage.is_won, stage.is_lost):
            reflagged.append(stage.name)
        elif replacement.default_probability != stage.default_probability and not replacement.is_closed:
            new_defaults[stage.name] = replacement.default_probability
    return CatalogDifference(tuple(removed), tuple(reflagged), new_defaults)
