"""The order sales stages are reported in."""

from __future__ import annotations

# The default stages seeded by the opportunities service, in pipeline order. Reporting keeps its own
# copy: stage configuration is not (yet) published as events.
DEFAULT_STAGE_ORDER: tuple[str, ...] = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
)
_POSITIONS = {name: position for position, name in enumerate(DEFAULT_STAGE_ORDER)}


def stage_sort_key(stage: str) -> tuple[int, str]:
    """Known stages in pipeline order, then any other stage alphabetically."""
    return (_POSITIONS.get(stage, len(DEFAULT_STAGE_ORDER)), stage)
